// Package ctxerr names a context's end as the cause of the I/O error it
// caused. A prober sets its connection's deadline to its context's, and
// ends the connection when the context is cancelled; the I/O then fails
// with a timeout (os.ErrDeadlineExceeded) or a closed connection, which
// errors.Is(err, context.DeadlineExceeded) would not recognise.
package ctxerr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Cause returns err, marked with ctx's error when the end of ctx is what
// made the I/O fail, so that errors.Is(err, context.DeadlineExceeded) (or
// context.Canceled) holds and err stays in the chain. A timeout error once
// ctx's deadline has passed counts as ctx's end even if ctx has not said so
// yet: the connection's deadline is ctx's and may fire a moment first. A
// timeout before that deadline (another deadline of the caller's) is left
// alone. Nil stays nil.
func Cause(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	cause := ctx.Err()
	if cause == nil && isTimeout(err) {
		if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
			cause = context.DeadlineExceeded
		}
	}
	if cause == nil || errors.Is(err, cause) {
		return err
	}
	return fmt.Errorf("%w (%w)", cause, err)
}

// isTimeout reports whether err is an I/O timeout.
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
