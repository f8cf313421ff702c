package action

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// Up writes "1".
func (r *RoleFile) Up(ctx context.Context) error { return r.write('1') }

// Down writes "0".
func (r *RoleFile) Down(ctx context.Context) error { return r.write('0') }

func (r *RoleFile) write(b byte) error {
	want := []byte{b}
	if cur, err := os.ReadFile(r.Path); err == nil && bytes.Equal(cur, want) {
		return nil
	}
	return WriteFileAtomic(r.Path, want, 0o644)
}

// WriteFileAtomic writes data to a temporary file next to path, syncs it and
// renames it over path, so readers see the old or the new content, never a
// mix.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", tmp, path, err)
	}
	return nil
}
