//go:build linux

package pairbench

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Worker runs functions on one OS thread that has entered a network
// namespace once, so that a benchmark of a probe does not also measure a
// new thread and a setns for every call (as testenv's NS.Within, made for
// tests, does). Sockets made by a function stay in the namespace; a
// program started from it (exec) starts there.
type Worker struct {
	jobs chan func()
}

// NewWorker enters the namespace /run/netns/name on a thread of its own.
func NewWorker(name string) (*Worker, error) {
	w := &Worker{jobs: make(chan func())}
	ready := make(chan error)
	go func() {
		// Never unlocked: the thread ends with the goroutine.
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + name)
		if err == nil {
			err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
			f.Close()
		}
		if err != nil {
			ready <- fmt.Errorf("entering namespace %s: %w", name, err)
			return
		}
		ready <- nil
		for job := range w.jobs {
			job()
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return w, nil
}

// Do runs fn on the worker's thread and returns its error.
func (w *Worker) Do(fn func() error) error {
	done := make(chan error, 1)
	w.jobs <- func() { done <- fn() }
	return <-done
}

// Close ends the worker and its thread.
func (w *Worker) Close() { close(w.jobs) }
