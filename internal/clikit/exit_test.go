package clikit

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/ocfkit/ocfkit/checkstyle"
)

func TestExitCode(t *testing.T) {
	special := errors.New("special usage")
	isUsage := func(err error) bool { return errors.Is(err, special) }
	for _, tc := range []struct {
		err    error
		code   int
		output string
	}{
		{nil, 0, ""},
		{errors.New("boom"), 1, "prog: boom\n"},
		{checkstyle.Usage(errors.New("bad flag")), 2, "prog: bad flag\n"},
		{fmt.Errorf("wrapped: %w", special), 2, "prog: wrapped: special usage\n"},
		{&ExitError{Code: 3}, 3, ""},
		{fmt.Errorf("ctx: %w", &ExitError{Code: 4, Err: errors.New("said")}), 4, "prog: ctx: said\n"},
	} {
		var out bytes.Buffer
		if code := ExitCode(tc.err, "prog", &out, 1, 2, isUsage); code != tc.code || out.String() != tc.output {
			t.Errorf("ExitCode(%v) = %d, %q; want %d, %q", tc.err, code, out.String(), tc.code, tc.output)
		}
	}
	if got := (&ExitError{Code: 3}).Error(); got != "exit status 3" {
		t.Errorf("ExitError without Err: %q", got)
	}
}
