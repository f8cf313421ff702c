//go:build linux

// Package proctest helps tests that stop, hang and restart a real daemon:
// whether a child has exited, and waiting until every thread of a process
// has stopped after SIGSTOP (the signal reaches each thread only when it
// next runs, so a request sent at once may still be served).
package proctest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// Exited reports whether the child pid has exited (and reaps it).
func Exited(pid int) bool {
	var ws syscall.WaitStatus
	p, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	return p == pid || errors.Is(err, syscall.ECHILD)
}

// Stop sends SIGSTOP to pid and waits until all its threads are stopped.
func Stop(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("process %d stopped", pid), func() error { return AllStopped(pid) })
}

// Cont sends SIGCONT to pid.
func Cont(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

// AllStopped reports whether every thread of pid is in state T (stopped).
func AllStopped(pid int) error {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return fmt.Errorf("no threads of %d: %v", pid, err)
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || i+2 >= len(s) || s[i+2] != 'T' {
			return fmt.Errorf("%s: not stopped", f)
		}
	}
	return nil
}
