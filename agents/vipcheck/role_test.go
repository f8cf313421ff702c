package vipcheck

import (
	"os"
	"testing"
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
}
