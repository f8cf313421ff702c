package harness

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
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
	deadline := time.Now().Add(timeout)
	logged := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			t.Fatalf("cluster lock %s: %v", LockPath, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			t.Fatalf("refusing to start a cluster: %s is held by another cluster test for more than %v", LockPath, timeout)
		}
		if !logged {
			t.Logf("cluster: waiting for %s (another cluster test is running)", LockPath)
			logged = true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}
