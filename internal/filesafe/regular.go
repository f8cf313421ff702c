//go:build unix

package filesafe

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// OpenRegular opens a file a program reads without trusting it (a
// parameter's file, a pidfile, a role file): without blocking on a named
// pipe or a device, and refusing anything that is not a regular file
// (ErrNotRegular), checked on the opened descriptor. flags may add
// syscall.O_NOFOLLOW, and a final symbolic link is then refused.
func OpenRegular(path string, flags int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY|flags, 0)
	if errors.Is(err, syscall.ELOOP) && flags&syscall.O_NOFOLLOW != 0 {
		return nil, fmt.Errorf("%s is a symbolic link", path)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, TypeName(fi.Mode()))
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadRegular reads at most limit bytes of a regular file opened with
// OpenRegular; whether there was more is reported, so that a caller can
// refuse an oversized file (or use the first limit bytes).
func ReadRegular(path string, flags int, limit int64) (b []byte, more bool, err error) {
	f, err := OpenRegular(path, flags)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	return readLimited(path, f, limit)
}

// readLimited reads at most limit bytes of f, and whether there was more.
func readLimited(path string, f *os.File, limit int64) (b []byte, more bool, err error) {
	b, err = io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return b[:limit], true, nil
	}
	return b, false, nil
}

// ReadSmall reads a regular file of at most limit bytes, as ReadRegular,
// and refuses a larger one with ErrTooLarge.
func ReadSmall(path string, flags int, limit int64) ([]byte, error) {
	b, more, err := ReadRegular(path, flags, limit)
	if err != nil {
		return nil, err
	}
	if more {
		return nil, fmt.Errorf("%s: %w (more than %d bytes)", path, ErrTooLarge, limit)
	}
	return b, nil
}

// CheckOpened reports whether an opened file may be trusted as a record a
// privileged program wrote: a regular file owned by root or uid and not
// writable by group or others, checked on the descriptor (fstat), so the
// file checked is the file used. name is the path, for messages.
func CheckOpened(name string, f *os.File, uid int) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return checkFile(name, name, fi, uid)
}

// ReadOwned is ReadRegular for a record that must pass CheckOpened: a
// file another user owns or can write is refused (ErrUnsafe).
func ReadOwned(path string, flags, uid int, limit int64) (b []byte, more bool, err error) {
	f, err := OpenRegular(path, flags)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	if err := CheckOpened(path, f, uid); err != nil {
		return nil, false, err
	}
	return readLimited(path, f, limit)
}
