//go:build unix

package filesafe

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWaitLock: a lock another open file holds is waited for until the
// context ends (ErrLockHeld with the context's error), and taken once it
// is released.
func TestWaitLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	holder, waiter := open(), open()
	if err := WaitLock(context.Background(), holder); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*LockPoll)
	defer cancel()
	if err := WaitLock(ctx, waiter); !errors.Is(err, ErrLockHeld) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a held lock: %v, want ErrLockHeld and the deadline", err)
	}
	done := make(chan error, 1)
	go func() { done <- WaitLock(context.Background(), waiter) }()
	holder.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the released lock was not taken")
	}
}
