//go:build unix

package filesafe

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOpenLock checks that OpenLock makes a private lock file and refuses
// one others could open, a FIFO and a symbolic link.
func TestOpenLock(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.lock")
	f, err := OpenLock(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("made %v, %v; want mode 0600", fi.Mode(), err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLock(p); err == nil || !strings.Contains(err.Error(), p+": mode 0644 lets others hold it") {
		t.Errorf("mode 0644: %v", err)
	}
	fifo := filepath.Join(dir, "fifo.lock")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLock(fifo); !errors.Is(err, ErrNotRegular) {
		t.Errorf("FIFO: %v", err)
	}
	link := filepath.Join(dir, "link.lock")
	if err := os.Symlink(filepath.Join(dir, "target"), link); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLock(link); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("symbolic link: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "target")); err == nil {
		t.Error("the link's target was made")
	}
}
