package vipcheck

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/ocfkit/ocfkit/internal/filesafe"
)

func TestRoleFromFile(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]Role{"1": Master, "1\n": Master, "0": Backup, "": Backup, "master": Backup} {
		p := dir + "/role"
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := RoleFromFile(p); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", content, got, err, want)
		}
	}
	if _, err := RoleFromFile(dir + "/missing"); err == nil {
		t.Error("a missing role file gave no error")
	}
	// A FIFO (no writer: a blocking open would wait for ever) and a
	// device are refused at once.
	fifo := dir + "/fifo"
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, "/dev/zero", dir} {
		if _, err := RoleFromFile(p); !errors.Is(err, filesafe.ErrNotRegular) {
			t.Errorf("RoleFromFile(%s): %v, want ErrNotRegular", p, err)
		}
	}
}
