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

// TestReadOwned refuses a record that others own or can write, checked on
// the opened file, as well as a symbolic link (O_NOFOLLOW) and a FIFO.
func TestReadOwned(t *testing.T) {
	dir := t.TempDir()
	uid := os.Geteuid()
	own := filepath.Join(dir, "own")
	write(t, own, "rec", 0o644)
	if b, more, err := filesafe.ReadOwned(own, syscall.O_NOFOLLOW, uid, 10); err != nil || more || string(b) != "rec" {
		t.Errorf("ReadOwned of an own file: %q, %v, %v", b, more, err)
	}
	open := filepath.Join(dir, "open")
	write(t, open, "rec", 0o646)
	if _, _, err := filesafe.ReadOwned(open, syscall.O_NOFOLLOW, uid, 10); !errors.Is(err, filesafe.ErrUnsafe) {
		t.Errorf("ReadOwned of a file others can write: %v, want ErrUnsafe", err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(own, link); err != nil {
		t.Fatal(err)
	}
	if _, _, err := filesafe.ReadOwned(link, syscall.O_NOFOLLOW, uid, 10); err == nil {
		t.Errorf("ReadOwned followed a symbolic link")
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := filesafe.ReadOwned(fifo, 0, uid, 10); !errors.Is(err, filesafe.ErrNotRegular) {
		t.Errorf("ReadOwned of a FIFO: %v, want ErrNotRegular", err)
	}
	if uid != 0 {
		return
	}
	nobodys := filepath.Join(dir, "nobodys")
	write(t, nobodys, "rec", 0o644)
	if err := os.Chown(nobodys, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, _, err := filesafe.ReadOwned(nobodys, syscall.O_NOFOLLOW, uid, 10); !errors.Is(err, filesafe.ErrUnsafe) {
		t.Errorf("ReadOwned of nobody's file: %v, want ErrUnsafe", err)
	}
	f, err := os.Open(nobodys)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := filesafe.CheckOpened(nobodys, f, uid); !errors.Is(err, filesafe.ErrUnsafe) {
		t.Errorf("CheckOpened of nobody's file: %v, want ErrUnsafe", err)
	}
}
