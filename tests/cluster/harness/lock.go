package harness

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// LockPath is the lock file that serialises harness clusters on a machine,
// across test processes.
const LockPath = "/run/lock/ocfkit-cluster.lock"

// acquireLock takes the machine-wide cluster lock, waiting up to timeout for
// another test process to release it, and returns the function that
// releases it.
func acquireLock(t testing.TB, timeout time.Duration) func() {
	t.Helper()
	if err := os.MkdirAll("/run/lock", 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(LockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatalf("cluster lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Logf("cluster: waiting for %s (another cluster test is running)", LockPath)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		switch err := filesafe.WaitLock(ctx, f); {
		case errors.Is(err, filesafe.ErrLockHeld):
			f.Close()
			t.Fatalf("refusing to start a cluster: %s is held by another cluster test for more than %v", LockPath, timeout)
		case err != nil:
			f.Close()
			t.Fatalf("cluster lock %s: %v", LockPath, err)
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}
