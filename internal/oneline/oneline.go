// Package oneline folds a message onto one line: what an OCF exit reason,
// a Nagios status line or a relayd log line must be.
package oneline

import "strings"

// Fold returns s with every run of white space (newlines included) turned
// into one space, and none at either end.
func Fold(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
