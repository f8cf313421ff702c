package ocf

import (
	"context"
	"errors"
	"fmt"
)

// Code is an OCF exit code.
type Code int

// The OCF exit codes (OCF 1.1, with Pacemaker's degraded codes).
const (
	Success          Code = 0
	ErrGeneric       Code = 1
	ErrArgs          Code = 2
	Unimplemented    Code = 3
	ErrPerm          Code = 4
	ErrInstalled     Code = 5
	ErrConfigured    Code = 6
	NotRunning       Code = 7
	RunningPromoted  Code = 8
	FailedPromoted   Code = 9
	Degraded         Code = 190
	DegradedPromoted Code = 191
)

var codeNames = map[Code]string{
	Success: "success", ErrGeneric: "generic error", ErrArgs: "invalid arguments",
	Unimplemented: "unimplemented", ErrPerm: "insufficient privileges",
	ErrInstalled: "not installed", ErrConfigured: "not configured",
	NotRunning: "not running", RunningPromoted: "running promoted",
	FailedPromoted: "failed promoted", Degraded: "degraded",
	DegradedPromoted: "degraded promoted",
}

// String returns the name Pacemaker's tools use for the code.
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code %d", int(c))
}

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
