//go:build linux

package action

import "errors"

// errUnsupportedAnnounce never matches on Linux, where announcing works.
var errUnsupportedAnnounce = errors.New("unused")
