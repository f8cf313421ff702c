// Package helptest reads urfave/cli's help text, for the tests that check
// that the documentation (man pages, completion) lists every command and
// option a program has.
package helptest

import (
	"regexp"
	"slices"
	"strings"
)

// Commands returns the command names of urfave/cli's help (its COMMANDS:
// section), aliases left out.
func Commands(help string) []string {
	var names []string
	in := false
	for _, l := range strings.Split(help, "\n") {
		switch {
		case strings.HasPrefix(l, "COMMANDS:"):
			in = true
		case in && strings.HasPrefix(l, "   ") && !strings.HasPrefix(l, "    ") && strings.TrimSpace(l) != "":
			names = append(names, strings.TrimSuffix(strings.Fields(l)[0], ","))
		case in && strings.TrimSpace(l) != "" && !strings.HasPrefix(l, " "):
			in = false
		}
	}
	return names
}

var optionRE = regexp.MustCompile(`(?:^|[ ,])(--?[A-Za-z][-A-Za-z0-9]*)`)

// Options returns the options of urfave/cli's help, as written on a
// command line, each once, from the sections whose headings are given
// ("OPTIONS:", "GLOBAL OPTIONS:").
func Options(help string, sections ...string) []string {
	var opts []string
	in := false
	for _, l := range strings.Split(help, "\n") {
		switch {
		case slices.ContainsFunc(sections, func(s string) bool { return strings.HasPrefix(l, s) }):
			in = true
		case in && strings.HasPrefix(strings.TrimSpace(l), "-"):
			head := strings.TrimSpace(l)
			if i := strings.Index(head, "  "); i > 0 {
				head = head[:i]
			}
			for _, m := range optionRE.FindAllStringSubmatch(head, -1) {
				if !slices.Contains(opts, m[1]) { // a slice flag repeats itself
					opts = append(opts, m[1])
				}
			}
		}
	}
	return opts
}
