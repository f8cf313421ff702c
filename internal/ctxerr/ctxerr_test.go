package ctxerr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func TestCauseNil(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Cause(ctx, nil); err != nil {
		t.Fatalf("Cause(nil) = %v", err)
	}
}

func TestCauseLiveContext(t *testing.T) {
	err := fmt.Errorf("reading: %w", io.ErrUnexpectedEOF)
	if got := Cause(context.Background(), err); got != err {
		t.Fatalf("live context changed the error: %v", got)
	}
	// A timeout before ctx's deadline is someone else's: left alone.
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if got := Cause(ctx, os.ErrDeadlineExceeded); errors.Is(got, context.DeadlineExceeded) {
		t.Fatalf("early timeout blamed on ctx: %v", got)
	}
}

func TestCauseCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	io := errors.New("use of closed network connection")
	got := Cause(ctx, io)
	if !errors.Is(got, context.Canceled) || !errors.Is(got, io) {
		t.Fatalf("got %v, want both context.Canceled and the I/O error", got)
	}
	// Already marked: unchanged.
	if again := Cause(ctx, got); again != got {
		t.Fatalf("marked twice: %v", again)
	}
}

// TestCauseDeadlineFirst checks that a connection timeout at ctx's deadline
// counts as ctx's even before ctx.Err says so.
func TestCauseDeadlineFirst(t *testing.T) {
	past := time.Now().Add(-time.Second)
	ctx := deadlineOnly{Context: context.Background(), d: past}
	for _, err := range []error{
		fmt.Errorf("read: %w", os.ErrDeadlineExceeded),
		&net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}},
	} {
		got := Cause(ctx, err)
		if !errors.Is(got, context.DeadlineExceeded) || !errors.Is(got, err) {
			t.Errorf("Cause(%v) = %v, want DeadlineExceeded wrapping it", err, got)
		}
	}
}

// deadlineOnly has a deadline in the past but has not ended yet.
type deadlineOnly struct {
	context.Context
	d time.Time
}

func (c deadlineOnly) Deadline() (time.Time, bool) { return c.d, true }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
