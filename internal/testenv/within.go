//go:build linux

package testenv

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Within runs fn on an OS thread that has entered the namespace, so that
// the sockets fn creates (listeners, dialled connections, UDP sockets) belong
// to the namespace; they stay there when used later from any goroutine.
// fn runs on its own goroutine and must not call t.Fatal; it returns an
// error instead. The thread is discarded afterwards, never reused outside
// the namespace.
func (ns *NS) Within(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		// No UnlockOSThread: when this goroutine ends, the runtime ends
		// its thread, namespace and all.
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns.Name)
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("entering namespace %s: %w", ns.Name, err)
			return
		}
		done <- fn()
	}()
	return <-done
}
