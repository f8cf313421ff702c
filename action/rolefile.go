package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ocfkit/ocfkit/internal/atomicfile"
	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// RoleFile writes "1" on MASTER and "0" otherwise (one byte, no newline), atomically (a temporary
// file renamed over the old one): the format ocf-vipcheck -r and the raw
// socket checkers read. It is critical: written before the front-end returns.
type RoleFile struct {
	Path string
}

// Name describes the action.
func (r *RoleFile) Name() string { return "role-file " + r.Path }

// Critical marks the role file as safety-relevant.
func (r *RoleFile) Critical() bool { return true }

// Up writes "1", unless ctx has ended.
func (r *RoleFile) Up(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return r.write('1')
}

// Down writes "0", even when ctx has ended: a stale "1" is the worse
// failure, and the caller bounds a write that hangs (see engine).
func (r *RoleFile) Down(ctx context.Context) error { return r.write('0') }

// CheckHost checks that the role file's directory exists and that the path
// is a regular file, if it exists.
func (r *RoleFile) CheckHost() error {
	if fi, err := os.Stat(filepath.Dir(r.Path)); err != nil || !fi.IsDir() {
		return fmt.Errorf("role file %s: no directory %s", r.Path, filepath.Dir(r.Path))
	}
	if err := r.checkDir(); err != nil {
		return err
	}
	_, err := r.current()
	return err
}

// checkDir refuses a directory others can write: they could put their own
// role file there first, and change it at will.
func (r *RoleFile) checkDir() error {
	if err := filesafe.CheckDir(filepath.Dir(r.Path), os.Geteuid()); err != nil {
		return fmt.Errorf("role file %s: %w", r.Path, err)
	}
	return nil
}

func (r *RoleFile) write(b byte) error {
	if err := r.checkDir(); err != nil {
		return err
	}
	want := []byte{b}
	cur, err := r.current()
	if err != nil {
		return err
	}
	if bytes.Equal(cur, want) {
		return nil
	}
	return atomicfile.Write(r.Path, want, 0o644)
}

// current returns the role file's content (nil when absent). Anything but
// a regular file is refused: a FIFO would block the front-end with the
// event lock held, and a symbolic link or device is not a role file. The
// file is opened without following a link or blocking, and checked on the
// opened descriptor.
func (r *RoleFile) current() ([]byte, error) {
	f, err := os.OpenFile(r.Path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) { // a symbolic link (EMLINK on FreeBSD)
		return nil, fmt.Errorf("role file %s is a symbolic link: refusing, only a regular file is written", r.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("role file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("role file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("role file %s is not a regular file (%v): refusing", r.Path, fi.Mode().Type())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != 0 && int(st.Uid) != os.Geteuid() {
		return nil, nil // not ours: rewritten whatever it says
	}
	cur := make([]byte, 2)
	n, _ := io.ReadFull(f, cur)
	return cur[:n], nil
}
