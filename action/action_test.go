package action

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/filesafe/filesafetest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(filesafetest.Main(m)) }

// TestRoleFileRefusesNonRegular: a FIFO at the role file's path hung the
// front-end with the event lock held; a symbolic link (to /etc/shadow, say)
// is no role file either. Both are refused, without blocking, and what
// they point to is left alone.
func TestRoleFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{fifo: "not a regular file", link: "symbolic link", dir: "not a regular file"} {
		r := &RoleFile{Path: path}
		for _, f := range []func(context.Context) error{r.Up, r.Down} {
			done := make(chan error, 1)
			go func() { done <- f(context.Background()) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("role file %s: %v; want %q", path, err, want)
				}
			case <-time.After(10 * time.Second): // a hang guard, not a speed assertion
				t.Fatalf("role file %s: hangs", path)
			}
		}
		if err := r.CheckHost(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckHost %s: %v; want %q", path, err, want)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "secret" {
		t.Errorf("the link's target now holds %q", b)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi, err)
	}
}

// TestRoleFileUnsafeDir: in a directory others can write, someone could
// put their own role file first (saying "1") and change it at will.
func TestRoleFileUnsafeDir(t *testing.T) {
	testenv.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	r := &RoleFile{Path: filepath.Join(dir, "role")}
	if err := r.Down(context.Background()); err == nil || !strings.Contains(err.Error(), "writable by group and others") {
		t.Errorf("role file in a mode 1777 directory: %v", err)
	}
	if err := r.CheckHost(); err == nil {
		t.Error("CheckHost accepts a role file in a mode 1777 directory")
	}
}

// TestRoleFileNotOurs: a role file owned by another user is rewritten even
// when it already says the right thing.
func TestRoleFileNotOurs(t *testing.T) {
	testenv.RequireRoot(t)
	p := filepath.Join(t.TempDir(), "role")
	if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 65534, -1); err != nil {
		t.Fatal(err)
	}
	if err := (&RoleFile{Path: p}).Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil || st.Uid != 0 {
		t.Errorf("role file owner %d, %v; want root's own file", st.Uid, err)
	}
}

// TestExecRefusesUnsafeProgram: an exec program (or OCF agent) that others
// can write is a root command for anyone; it is not run.
func TestExecRefusesUnsafeProgram(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "ran")
	prog := filepath.Join(dir, "prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\ntouch "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(prog, 0o757); err != nil {
		t.Fatal(err)
	}
	e := &Exec{UpArgv: []string{prog}, DownArgv: []string{prog}, Timeout: 5 * time.Second}
	for _, f := range []func(context.Context) error{e.Up, e.Down} {
		if err := f(context.Background()); err == nil || !strings.Contains(err.Error(), "writable by others") {
			t.Errorf("unsafe program: %v", err)
		}
	}
	o := &OCF{Agent: prog, Instance: "x", Root: "/usr/lib/ocf", Timeout: 5 * time.Second}
	if err := o.Up(context.Background()); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("unsafe agent: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the unsafe program ran")
	}
	if err := e.CheckHost(); err == nil {
		t.Error("CheckHost accepts the unsafe program")
	}
	// A safe interpreter running a script others can write is no better.
	script := filepath.Join(dir, "script.sh")
	if err := os.WriteFile(script, []byte("touch "+out+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(script, 0o646); err != nil {
		t.Fatal(err)
	}
	viaShell := &Exec{UpArgv: []string{"/bin/sh", "-x", script}, Timeout: 5 * time.Second}
	if err := viaShell.Up(context.Background()); err == nil || !strings.Contains(err.Error(), "refusing to run /bin/sh with "+script) {
		t.Errorf("unsafe script through /bin/sh: %v", err)
	}
	if err := os.Chmod(script, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := viaShell.CheckHost(); err != nil {
		t.Errorf("safe script through /bin/sh: %v", err)
	}
	if err := (&Exec{UpArgv: []string{"/bin/sh", "-c", "true", script}}).CheckHost(); err != nil {
		t.Errorf("inline code: %v", err)
	}
	if err := (&Exec{UpArgv: []string{"/nonexistent/prog"}}).CheckHost(); err == nil {
		t.Error("CheckHost accepts a missing program")
	}
}

// TestExecNoShell: exec arguments are passed as they are, never to a
// shell: metacharacters do nothing.
func TestExecNoShell(t *testing.T) {
	dir := t.TempDir()
	proof := filepath.Join(dir, "proof")
	e := &Exec{UpArgv: []string{"/bin/echo", "$(touch " + proof + ")", "; touch " + proof, "`touch " + proof + "`"}, Timeout: 5 * time.Second}
	if err := e.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(proof); err == nil {
		t.Error("a shell ran the arguments")
	}
}

func TestExecStepNames(t *testing.T) {
	e := &Exec{UpArgv: []string{"/bin/up", "a"}, DownArgv: []string{"/bin/down", "b"}}
	if got := e.StepName(false); got != "exec /bin/down b" {
		t.Errorf("down step named %q", got)
	}
	if got := e.StepName(true); got != "exec /bin/up a" {
		t.Errorf("up step named %q", got)
	}
	if got := e.Name(); got != "exec up: /bin/up a; down: /bin/down b" {
		t.Errorf("Name %q", got)
	}
}

func TestRoleFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "role")
	r := &RoleFile{Path: p}
	ctx := context.Background()
	for _, step := range []struct {
		up   bool
		want string
	}{{true, "1"}, {true, "1"}, {false, "0"}, {false, "0"}, {true, "1"}} {
		var err error
		if step.up {
			err = r.Up(ctx)
		} else {
			err = r.Down(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != step.want {
			t.Fatalf("role file = %q, %v; want %q", b, err, step.want)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := (&RoleFile{Path: "/nonexistent/dir/role"}).Up(ctx); err == nil {
		t.Error("no error for a missing directory")
	}
}

func TestExec(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	e := &Exec{UpArgv: []string{"/bin/sh", "-c", `echo "$CARP_GROUP $CARP_STATE $0" > ` + out, "up"},
		DownArgv: []string{"/bin/sh", "-c", "echo failing >&2; exit 3"}, Timeout: 5 * time.Second, Group: "g", State: "MASTER"}
	if err := e.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "g MASTER up\n" {
		t.Errorf("up wrote %q", b)
	}
	err := e.Down(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exited with 3: failing") {
		t.Errorf("down error = %v", err)
	}
	slow := &Exec{UpArgv: []string{"/bin/sleep", "10"}, Timeout: 50 * time.Millisecond}
	if err := slow.Up(context.Background()); err == nil || !strings.Contains(err.Error(), "killed after") {
		t.Errorf("slow command: %v", err)
	}
	// A command that leaves a child holding its output must not hang the
	// action: waiting for the child would outlast Timeout and fail Up.
	daemon := &Exec{UpArgv: []string{"/bin/sh", "-c", "sleep 5 & echo started"}, Timeout: 2 * time.Second}
	if err := daemon.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestOCF(t *testing.T) {
	dir := t.TempDir()
	// The agent runs as root only from a directory others cannot write:
	// a copy, wherever this tree was checked out (CI may clone under /tmp).
	src, err := os.ReadFile("testdata/fake-agent")
	if err != nil {
		t.Fatal(err)
	}
	agent := filepath.Join(dir, "fake-agent")
	if err := os.WriteFile(agent, src, 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "log")
	a := &OCF{Agent: agent, Instance: "dante", Root: "/usr/lib/ocf", Timeout: 7 * time.Second,
		Params: map[string]string{"log": log, "state": "/s"}}
	ctx := context.Background()
	if err := a.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Down(ctx); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(log)
	want := "start root=/usr/lib/ocf inst=dante timeout=7000 state=/s\nstop root=/usr/lib/ocf inst=dante timeout=7000 state=/s\n"
	if string(b) != want {
		t.Errorf("agent saw:\n%s\nwant:\n%s", b, want)
	}
	// stop returning 7 (not running) is success; start returning 7 is not.
	a.Params["stop_rc"], a.Params["start_rc"] = "7", "7"
	if err := a.Down(ctx); err != nil {
		t.Errorf("stop rc 7: %v", err)
	}
	if err := a.Up(ctx); err == nil {
		t.Error("start rc 7 accepted")
	}
	a.Params["start_rc"] = "1"
	if err := a.Up(ctx); err == nil || !strings.Contains(err.Error(), "fake start failed") {
		t.Errorf("start rc 1: %v, want the exit reason", err)
	}
}

// TestUpAfterContextEnds checks that an Up whose context has ended brings
// nothing into force, while Down still takes the role file down.
func TestUpAfterContextEnds(t *testing.T) {
	p := filepath.Join(t.TempDir(), "role")
	r := &RoleFile{Path: p}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Up(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Up after cancel: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Up after cancel wrote the role file: %v", err)
	}
	if err := r.Down(ctx); err != nil {
		t.Fatalf("Down after cancel: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "0" {
		t.Fatalf("role file %q after Down, want 0", b)
	}
	a := &Address{Interface: "lo", Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.77/32")}}
	if err := a.Up(ctx); err == nil && runtime.GOOS == "linux" {
		t.Fatal("address Up after cancel succeeded")
	}
}
