//go:build unix

package filesafe_test

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/filesafe"
	"github.com/ocfkit/ocfkit/internal/filesafe/filesafetest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(filesafetest.Main(m)) }

// nobody returns the uid of the real user nobody.
func nobody(t *testing.T) int {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody:", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	return uid
}

func write(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

func TestReadFile(t *testing.T) {
	testenv.RequireRoot(t)
	nob := nobody(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	write(t, good, "ok", 0o644)

	worldDir := filepath.Join(dir, "world")
	stickyDir := filepath.Join(dir, "sticky")
	groupDir := filepath.Join(dir, "group")
	theirDir := filepath.Join(dir, "theirs")
	for d, mode := range map[string]os.FileMode{worldDir: 0o777, stickyDir: 0o777 | os.ModeSticky, groupDir: 0o775, theirDir: 0o755} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(d, "f"), "x", 0o644)
	}
	if err := os.Chown(theirDir, nob, -1); err != nil {
		t.Fatal(err)
	}
	theirs := filepath.Join(dir, "theirs-file")
	write(t, theirs, "x", 0o644)
	if err := os.Chown(theirs, nob, -1); err != nil {
		t.Fatal(err)
	}
	worldFile := filepath.Join(dir, "world-file")
	write(t, worldFile, "x", 0o646)
	groupFile := filepath.Join(dir, "group-file")
	write(t, groupFile, "x", 0o664)
	linkToUnsafe := filepath.Join(dir, "link-unsafe")
	if err := os.Symlink(filepath.Join(worldDir, "f"), linkToUnsafe); err != nil {
		t.Fatal(err)
	}
	linkToGood := filepath.Join(dir, "link-good")
	if err := os.Symlink(good, linkToGood); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	write(t, big, strings.Repeat("x", 2048), 0o644)

	tests := []struct {
		path string
		uid  int
		want error  // nil, or the sentinel wrapped
		msg  string // part of the message
	}{
		{good, 0, nil, ""},
		{linkToGood, 0, nil, ""},
		{theirs, nob, nil, ""}, // nobody's own file, for nobody
		{worldFile, 0, filesafe.ErrUnsafe, "writable by others (mode 0646)"},
		{groupFile, 0, filesafe.ErrUnsafe, "writable by its group (mode 0664)"},
		{theirs, 0, filesafe.ErrUnsafe, "owned by uid " + strconv.Itoa(nob)},
		{filepath.Join(worldDir, "f"), 0, filesafe.ErrUnsafe, "directory " + worldDir + " is writable by group and others (mode 0777)"},
		{filepath.Join(stickyDir, "f"), 0, filesafe.ErrUnsafe, "(mode 1777)"},
		{filepath.Join(groupDir, "f"), 0, filesafe.ErrUnsafe, "directory " + groupDir + " is writable by its group"},
		{filepath.Join(theirDir, "f"), 0, filesafe.ErrUnsafe, "directory " + theirDir + " is owned by uid"},
		{linkToUnsafe, 0, filesafe.ErrUnsafe, worldDir},
		{fifo, 0, filesafe.ErrNotRegular, "a FIFO"},
		{"/dev/zero", 0, filesafe.ErrNotRegular, "a character device"},
		{dir, 0, filesafe.ErrNotRegular, "a directory"},
		{big, 0, filesafe.ErrTooLarge, "2048 bytes, at most 1024"},
		{filepath.Join(dir, "missing"), 0, os.ErrNotExist, ""},
	}
	for _, tt := range tests {
		done := make(chan struct{})
		var data []byte
		var err error
		go func() {
			defer close(done)
			data, err = filesafe.ReadFile(tt.path, tt.uid, 1024)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second): // a hang guard, not a speed assertion
			t.Fatalf("ReadFile(%s) hangs", tt.path)
		}
		if tt.want == nil {
			if err != nil || string(data) == "" {
				t.Errorf("ReadFile(%s, %d): %q, %v; want content", tt.path, tt.uid, data, err)
			}
			if cerr := filesafe.Check(tt.path, tt.uid); cerr != nil {
				t.Errorf("Check(%s, %d): %v", tt.path, tt.uid, cerr)
			}
			continue
		}
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), tt.path) {
			t.Errorf("ReadFile(%s, %d): %v; want %v with %q and the path", tt.path, tt.uid, err, tt.want, tt.msg)
		}
		if tt.want != filesafe.ErrTooLarge {
			if cerr := filesafe.Check(tt.path, tt.uid); !errors.Is(cerr, tt.want) {
				t.Errorf("Check(%s, %d): %v; want %v", tt.path, tt.uid, cerr, tt.want)
			}
		}
	}
}

// TestProcFileLimit shows that a file growing past its stated size is
// not read to its end: /proc files report size 0.
func TestProcFileLimit(t *testing.T) {
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		t.Skip("no /proc")
	}
	_, err := filesafe.ReadFile("/proc/self/maps", os.Geteuid(), 16)
	if !errors.Is(err, filesafe.ErrTooLarge) {
		t.Fatalf("ReadFile(/proc/self/maps, limit 16): %v; want ErrTooLarge", err)
	}
}

func TestCheckDirAndExecutable(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	if err := filesafe.CheckDir(dir, 0); err != nil {
		t.Errorf("CheckDir(%s): %v", dir, err)
	}
	if err := filesafe.CheckDir("/tmp", 0); !errors.Is(err, filesafe.ErrUnsafe) {
		t.Errorf("CheckDir(/tmp): %v; want ErrUnsafe", err)
	}
	prog := filepath.Join(dir, "prog")
	write(t, prog, "#!/bin/sh\n", 0o644)
	if err := filesafe.Executable(prog, 0); err == nil || !strings.Contains(err.Error(), "not executable") {
		t.Errorf("Executable(0644 file): %v", err)
	}
	if err := os.Chmod(prog, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := filesafe.Executable(prog, 0); err != nil {
		t.Errorf("Executable(0755 file): %v", err)
	}
	if err := filesafe.Executable("/bin/sh", 0); err != nil {
		t.Errorf("Executable(/bin/sh): %v", err)
	}
}

// TestSymlinkInUnsafeDir: a symbolic link is followed only when the
// directory holding it is safe; one that others could have planted
// (adv3 F5: $HA_RSCTMP/ocf-realserver -> a root-owned directory, in a
// world-writable HA_RSCTMP) is refused although its target is safe.
func TestSymlinkInUnsafeDir(t *testing.T) {
	testenv.RequireRoot(t)
	safe := t.TempDir()
	target := filepath.Join(safe, "target")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(target, "f"), "x", 0o600)
	pub := filepath.Join(safe, "pub")
	if err := os.Mkdir(pub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pub, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{filepath.Join(pub, "link"), filepath.Join(safe, "good")} {
		if err := os.Symlink(target, l); err != nil {
			t.Fatal(err)
		}
	}
	// A link to the planted link from a safe directory is no better.
	if err := os.Symlink(filepath.Join(pub, "link"), filepath.Join(safe, "indirect")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"pub/link", "indirect"} {
		p := filepath.Join(safe, bad)
		if err := filesafe.CheckDir(p, 0); !errors.Is(err, filesafe.ErrUnsafe) || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("CheckDir(%s): %v; want ErrUnsafe naming the link", p, err)
		}
		if _, err := filesafe.ReadFile(filepath.Join(p, "f"), 0, 10); !errors.Is(err, filesafe.ErrUnsafe) {
			t.Errorf("ReadFile(%s/f): %v; want ErrUnsafe", p, err)
		}
		if err := filesafe.Check(filepath.Join(p, "f"), 0); !errors.Is(err, filesafe.ErrUnsafe) {
			t.Errorf("Check(%s/f): %v; want ErrUnsafe", p, err)
		}
	}
	good := filepath.Join(safe, "good")
	if err := filesafe.CheckDir(good, 0); err != nil {
		t.Errorf("CheckDir(%s), a link in a safe directory: %v", good, err)
	}
	if b, err := filesafe.ReadFile(filepath.Join(good, "f"), 0, 10); err != nil || string(b) != "x" {
		t.Errorf("ReadFile through a link in a safe directory: %q, %v", b, err)
	}
	// Relative links and .. resolve as the kernel does.
	if err := os.Symlink("target/../target", filepath.Join(safe, "rel")); err != nil {
		t.Fatal(err)
	}
	if err := filesafe.CheckDir(filepath.Join(safe, "rel"), 0); err != nil {
		t.Errorf("CheckDir(relative link): %v", err)
	}
}
