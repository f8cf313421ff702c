//go:build unix

package tomlconf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/filesafe/filesafetest"
)

type conf struct {
	Name  string `toml:"name"`
	Table struct {
		Port int `toml:"port"`
	} `toml:"table"`
}

// TestDecode checks each refusal of Decode and its file:line message.
func TestDecode(t *testing.T) {
	cases := []struct {
		data string
		want []string // substrings; nil: accepted
	}{
		{"name = \"x\"\n[table]\nport = 1\n", nil},
		{"name = \"x\"\nnmae = 2\n", []string{`t.toml:2: unknown key "nmae"`}},
		{"[table]\nport = 1\nprot = 2\nbogus = 3\n", []string{`t.toml:3: unknown key "table.prot"`, `t.toml:4: unknown key "table.bogus"`}},
		{"name = 3\n", []string{"t.toml:1: "}},
		{"name = \"a\x00b\"\n", []string{"t.toml: a NUL byte is not allowed"}},
	}
	for _, c := range cases {
		var v conf
		err := Decode("t.toml", []byte(c.data), &v, 1<<20)
		if c.want == nil {
			if err != nil {
				t.Errorf("%q: %v", c.data, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q: accepted", c.data)
			continue
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%q: %v is not an *Error", c.data, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %q lacks %q", c.data, err, w)
			}
		}
	}
}

// TestCheckSize checks the size refusal, in MiB for a whole number.
func TestCheckSize(t *testing.T) {
	if err := CheckSize("t.toml", make([]byte, 33), 32); err == nil || err.Error() != "t.toml: file larger than 32 bytes" {
		t.Errorf("got %v", err)
	}
	err := CheckSize("t.toml", make([]byte, 1<<20+1), 1<<20)
	if err == nil || err.Error() != "t.toml: file larger than 1 MiB" {
		t.Fatalf("got %v", err)
	}
	if err := CheckSize("t.toml", make([]byte, 1<<20), 1<<20); err != nil {
		t.Fatal(err)
	}
}

// TestStrictUnknownWording checks a caller's own wording of unknown keys.
func TestStrictUnknownWording(t *testing.T) {
	var v conf
	err := Strict("t.toml", []byte("[table]\nprot = 1\n"), &v, func(k []string) string { return "no " + strings.Join(k, "/") })
	if err == nil || err.Error() != "t.toml:2: no table/prot" {
		t.Fatalf("got %v", err)
	}
}

// TestRead checks the wording of a missing file and of an unsafe one.
func TestRead(t *testing.T) {
	dir, err := filesafetest.SafeDir()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "c.toml")
	if _, err := Read(p, 100); err == nil || !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "reading config: ") {
		t.Errorf("missing: %v", err)
	}
	if err := os.WriteFile(p, []byte("name = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := Read(p, 100); err != nil || string(data) != "name = \"x\"\n" {
		t.Errorf("safe file: %q, %v", data, err)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(p, 100); err == nil || !strings.HasPrefix(err.Error(), "refusing config: ") {
		t.Errorf("world-writable: %v", err)
	}
}
