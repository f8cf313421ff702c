package ocf

import (
	"context"
	"errors"
	"fmt"

	"github.com/ocfkit/ocfkit/agents/ocf/ocfcode"
)

// Code is an OCF exit code. The codes are declared once, in the leaf
// package ocfcode, so that packages below the agents (action) can read an
// agent's exit status without importing this one; they are re-exported here.
type Code = ocfcode.Code

// The OCF exit codes (OCF 1.1, with Pacemaker's degraded codes).
const (
	Success          = ocfcode.Success
	ErrGeneric       = ocfcode.ErrGeneric
	ErrArgs          = ocfcode.ErrArgs
	Unimplemented    = ocfcode.Unimplemented
	ErrPerm          = ocfcode.ErrPerm
	ErrInstalled     = ocfcode.ErrInstalled
	ErrConfigured    = ocfcode.ErrConfigured
	NotRunning       = ocfcode.NotRunning
	RunningPromoted  = ocfcode.RunningPromoted
	FailedPromoted   = ocfcode.FailedPromoted
	Degraded         = ocfcode.Degraded
	DegradedPromoted = ocfcode.DegradedPromoted
)

// Error is an error that carries the OCF exit code an action ends with.
type Error struct {
	Code Code
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an error with an exit code; the message is formatted as by
// fmt.Errorf, so %w wraps a cause.
func Errorf(code Code, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// WithCode gives err an exit code, keeping its message; nil stays nil.
func WithCode(code Code, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// CodeOf maps the error an action returned to its exit code. This is the one
// place where errors become codes: nil is success, an *Error anywhere in the
// chain gives its code, and anything else (a timeout included) is a generic
// error, which is what OCF asks for when in doubt.
func CodeOf(err error) Code {
	if err == nil {
		return Success
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrGeneric
	}
	return ErrGeneric
}
