package carphook

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// spawnDetached starts exe with args as a detached worker: a new session (so
// the caller's process group and terminal signals do not reach it, and
// keepalived's script timeout kill does not either), stdio on /dev/null, and
// nobody waiting for it.
func spawnDetached(exe string, args ...string) error {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", exe, err)
	}
	return cmd.Process.Release()
}
