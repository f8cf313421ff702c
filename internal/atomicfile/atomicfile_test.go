package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, c := range []struct {
		data string
		mode os.FileMode
	}{{"one", 0o644}, {"two, longer", 0o600}, {"", 0o755}} {
		if err := Write(p, []byte(c.data), c.mode); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != c.data {
			t.Fatalf("read %q, %v; want %q", b, err, c.data)
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != c.mode {
			t.Errorf("mode %v, want %v", fi.Mode().Perm(), c.mode)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}

// TestWriteReplacesLink checks that a symbolic link at path is replaced,
// not followed: its target keeps its content.
func TestWriteReplacesLink(t *testing.T) {
	dir := t.TempDir()
	target, p := filepath.Join(dir, "target"), filepath.Join(dir, "f")
	os.WriteFile(target, []byte("keep"), 0o644)
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("link followed: target now %q", b)
	}
	if fi, _ := os.Lstat(p); !fi.Mode().IsRegular() {
		t.Errorf("%s is %v, want a regular file", p, fi.Mode())
	}
}

func TestWriteNoDirectory(t *testing.T) {
	if err := Write(filepath.Join(t.TempDir(), "no", "f"), nil, 0o644); err == nil {
		t.Fatal("missing directory accepted")
	}
}
