//go:build unix

package filesafe_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// TestReadSmall reads regular files through a limit and refuses, without
// blocking, what is not one: a FIFO without a writer (an open that would
// wait for ever), a device without end, a directory.
func TestReadSmall(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	write(t, small, "12345", 0o644)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(small, link); err != nil {
		t.Fatal(err)
	}
	if b, err := filesafe.ReadSmall(small, 0, 5); err != nil || string(b) != "12345" {
		t.Errorf("ReadSmall at the limit: %q, %v", b, err)
	}
	if _, err := filesafe.ReadSmall(small, 0, 4); !errors.Is(err, filesafe.ErrTooLarge) {
		t.Errorf("ReadSmall above the limit: %v, want ErrTooLarge", err)
	}
	if b, more, err := filesafe.ReadRegular(small, 0, 2); err != nil || !more || string(b) != "12" {
		t.Errorf("ReadRegular above the limit: %q, %v, %v", b, more, err)
	}
	if _, err := filesafe.ReadSmall(link, 0, 5); err != nil {
		t.Errorf("ReadSmall through a link: %v", err)
	}
	if _, err := filesafe.ReadSmall(link, syscall.O_NOFOLLOW, 5); err == nil {
		t.Error("ReadSmall with O_NOFOLLOW read through a link")
	}
	for _, p := range []string{fifo, "/dev/zero", dir} {
		done := make(chan error, 1)
		go func() { _, err := filesafe.ReadSmall(p, 0, 1<<20); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, filesafe.ErrNotRegular) {
				t.Errorf("ReadSmall(%s): %v, want ErrNotRegular", p, err)
			}
		case <-time.After(30 * time.Second): // a guard against a hang, not a speed limit
			t.Fatalf("ReadSmall(%s) blocks", p)
		}
	}
	if _, err := filesafe.ReadSmall(filepath.Join(dir, "missing"), 0, 5); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadSmall of a missing file: %v", err)
	}
}
