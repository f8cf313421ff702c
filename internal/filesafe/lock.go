//go:build unix

package filesafe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// LockPoll is how often WaitLock tries a held lock again.
const LockPoll = 5 * time.Millisecond

// ErrLockHeld is wrapped by WaitLock's error when another process held
// the lock until the context ended.
var ErrLockHeld = errors.New("held by another process")

// WaitLock takes an exclusive flock on f, trying again every LockPoll
// while another process holds it, until ctx ends (flock itself cannot
// wait with a deadline). Closing f releases the lock. The error wraps
// ErrLockHeld and ctx's error when the lock stayed held, and is flock's
// error otherwise.
func WaitLock(ctx context.Context, f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case err != syscall.EWOULDBLOCK && err != syscall.EINTR:
			return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrLockHeld, ctx.Err())
		case <-time.After(LockPoll):
		}
	}
}

// OpenLock opens the lock file at path for flock, making it (mode 0600)
// if missing. It does not follow a final symbolic link nor block on a
// FIFO, and refuses a file that others could open, and so hold for ever
// (one left with another mode, or planted in a directory others can
// write): it must be a regular file of the effective user, without group
// or other permissions. A failure to open is returned as os.OpenFile's
// error; a refused file as "PATH: reason" (wrapping ErrNotRegular for a
// file that is not a regular one).
func OpenLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := privateLock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// privateLock checks the opened lock file f as OpenLock says.
func privateLock(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w (%s)", ErrNotRegular, TypeName(fi.Mode()))
	case !ok || int(st.Uid) != os.Geteuid():
		return errors.New("not owned by this user; remove it")
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("mode %04o lets others hold it; remove it", fi.Mode().Perm())
	}
	return nil
}
