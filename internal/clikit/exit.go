package clikit

import (
	"errors"
	"fmt"
	"io"

	"github.com/ocfkit/ocfkit/checkstyle"
)

// ExitError carries a program's exit code to ExitCode; Err may be nil when
// there is nothing more to say (the code says it all).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is the one mapping from an error to an exit code of a program
// that is not a check (carp-hook, anycast-probe, dns-failover): nil is 0,
// an *ExitError its own code, a usage error (checkstyle.ErrUsage, or one
// isUsage recognises; isUsage may be nil) usage, anything else failed. The
// error is printed on stderr after the program's name, unless it is an
// ExitError with nothing to say.
func ExitCode(err error, program string, stderr io.Writer, failed, usage int, isUsage func(error) bool) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	code := failed
	switch {
	case errors.As(err, &ee):
		code = ee.Code
	case errors.Is(err, checkstyle.ErrUsage), isUsage != nil && isUsage(err):
		code = usage
	}
	if ee == nil || ee.Err != nil {
		fmt.Fprintln(stderr, program+":", err)
	}
	return code
}
