//go:build linux

package carphook_test

// Hostile input, end to end through the built binary: configurations and
// programs that others can write, role files that are not files, a worker
// killed in the middle of an event.

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// nobodyIDs returns the uid and gid of the real user nobody.
func nobodyIDs(t *testing.T) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody:", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// asNobody runs a shell command as nobody.
func asNobody(t *testing.T, script string) {
	t.Helper()
	uid, gid := nobodyIDs(t)
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("as nobody: %s: %v\n%s", script, err, out)
	}
}

// hookRun runs carp-hook and returns its exit code and output; a hang
// (more than 30 s) fails the test.
func hookRun(t *testing.T, hook string, args ...string) (int, string) {
	t.Helper()
	return cmdRun(t, exec.Command(hook, args...))
}

// cmdRun runs cmd and returns its exit code and output; a hang (more than
// 30 s) fails the test.
func cmdRun(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	done := make(chan struct{})
	var out []byte
	go func() { out, _ = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a hang guard, not a speed assertion
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v hangs:\n%s", cmd.Args, out)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// mkdir makes a directory with exactly mode.
func mkdir(t *testing.T, path string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUnsafeConfigRefused: carp-hook runs a configuration's exec actions as
// root, so nobody, able to write the file or its directory, got uid 0. Such
// a file is refused, naming the file or directory and the reason, by every
// command; so is an exec program nobody can write.
func TestUnsafeConfigRefused(t *testing.T) {
	testenv.RequireRoot(t)
	uid, _ := nobodyIDs(t)
	hook, _ := binaries(t)
	dir := testenv.SharedTempDir(t, "hostile")
	state := filepath.Join(dir, "state")
	proof := filepath.Join(dir, "proof") // written by the exec action, as root
	conf := func(prog string) string {
		return fmt.Sprintf("state_dir = %q\n[group.g]\n[[group.g.action]]\ntype = \"exec\"\nup = [%q, %q]\ntimeout = \"5s\"\n", state, prog, proof)
	}
	touch := filepath.Join(dir, "touch")
	writeFile(t, touch, "#!/bin/sh\nid -u > \"$1\"\n", 0o755)

	// A root-owned file anyone may write, filled by nobody.
	world := filepath.Join(dir, "world.toml")
	writeFile(t, world, "", 0o644)
	if err := os.Chmod(world, 0o666); err != nil {
		t.Fatal(err)
	}
	asNobody(t, fmt.Sprintf("printf '%%s' '%s' > %s", conf(touch), world))
	// A directory of nobody's, holding nobody's file.
	theirs := mkdir(t, filepath.Join(dir, "theirs"), 0o755)
	if err := os.Chown(theirs, uid, -1); err != nil {
		t.Fatal(err)
	}
	inTheirs := filepath.Join(theirs, "c.toml")
	asNobody(t, fmt.Sprintf("umask 022; printf '%%s' '%s' > %s", conf(touch), inTheirs))
	// A safe file naming a program nobody wrote.
	prog := filepath.Join(theirs, "prog")
	asNobody(t, fmt.Sprintf("umask 022; printf '#!/bin/sh\\nid -u > \"$1\"\\n' > %s; chmod 755 %s", prog, prog))
	safeConfUnsafeProg := filepath.Join(dir, "prog.toml")
	writeFile(t, safeConfUnsafeProg, conf(prog), 0o644)

	for _, tt := range []struct {
		conf, want string
	}{
		{world, world + ": file is writable by group and others (mode 0666)"},
		{inTheirs, "directory " + theirs + " is owned by uid " + strconv.Itoa(uid)},
	} {
		for _, args := range [][]string{
			{"-c", tt.conf, "apply", "g", "MASTER"},
			{"ucarp", "-c", tt.conf, "up", "eth0", "10.0.0.5", "g"},
			{"-c", tt.conf, "status", "g"},
			{"check-config", tt.conf},
		} {
			code, out := hookRun(t, hook, args...)
			if code != 1 || !strings.Contains(out, tt.want) {
				t.Errorf("carp-hook %v: exit %d, %q; want 1 and %q", args, code, out, tt.want)
			}
		}
	}
	code, out := hookRun(t, hook, "check-config", safeConfUnsafeProg)
	if code != 1 || !strings.Contains(out, "refusing to run "+prog) {
		t.Errorf("check-config with a program nobody wrote: exit %d, %q", code, out)
	}
	hookRun(t, hook, "-c", safeConfUnsafeProg, "apply", "g", "MASTER")
	code, out = hookRun(t, hook, "-c", safeConfUnsafeProg, "status", "--wait", "20s", "g")
	if code != 1 || !strings.Contains(out, "refusing to run "+prog) {
		t.Errorf("status after running a program nobody wrote: exit %d, %q", code, out)
	}
	if b, err := os.ReadFile(proof); err == nil {
		t.Fatalf("an unsafe action ran as uid %s", b)
	}
	// The same action from a safe file and program runs.
	safe := filepath.Join(dir, "safe.toml")
	writeFile(t, safe, conf(touch), 0o644)
	if code, out := hookRun(t, hook, "-c", safe, "apply", "g", "MASTER"); code != 0 {
		t.Fatalf("safe configuration: exit %d: %s", code, out)
	}
	if code, out := hookRun(t, hook, "-c", safe, "status", "--wait", "20s", "g"); code != 0 {
		t.Fatalf("safe configuration: status exit %d: %s", code, out)
	}
}

// TestRoleFileFIFO: a role file that is a FIFO hung the front-end (with the
// group's event lock held, so every later event hung too). It is refused at
// once, by check-config and by the event.
func TestRoleFileFIFO(t *testing.T) {
	testenv.RequireRoot(t)
	hook, _ := binaries(t)
	dir := testenv.SharedTempDir(t, "hostile")
	fifo := filepath.Join(dir, "role")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "c.toml")
	writeFile(t, conf, fmt.Sprintf("state_dir = %q\n[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = %q\n", filepath.Join(dir, "state"), fifo), 0o644)
	for i := 0; i < 2; i++ { // the second finds the lock free
		code, out := hookRun(t, hook, "-c", conf, "apply", "g", "BACKUP")
		if code != 1 || !strings.Contains(out, "not a regular file") {
			t.Errorf("event %d with a FIFO role file: exit %d, %q", i+1, code, out)
		}
	}
	code, out := hookRun(t, hook, "check-config", conf)
	if code != 1 || !strings.Contains(out, "not a regular file") {
		t.Errorf("check-config with a FIFO role file: exit %d, %q", code, out)
	}
	if code, out := hookRun(t, hook, "check-config", "--no-host-checks", conf); code != 0 {
		t.Errorf("check-config --no-host-checks: exit %d, %q", code, out)
	}
}

// TestWorkerKilled: a worker killed with SIGKILL left status at "running
// (worker gone)", exit 3, forever, and its command running. The command
// dies with the worker, status reports the event abandoned (exit 1), and
// the next event is applied.
func TestWorkerKilled(t *testing.T) {
	testenv.RequireRoot(t)
	hook, _ := binaries(t)
	dir := testenv.SharedTempDir(t, "hostile")
	state := filepath.Join(dir, "state")
	pidFile := filepath.Join(dir, "child.pid")
	conf := filepath.Join(dir, "c.toml")
	writeFile(t, conf, fmt.Sprintf(`state_dir = %q
[group.g]
[[group.g.action]]
type = "exec"
up = ["/bin/sh", "-c", "echo $$ > %s; exec sleep 1000"]
down = ["/bin/true"]
timeout = "10m"
`, state, pidFile), 0o644)
	if code, out := hookRun(t, hook, "-c", conf, "apply", "g", "MASTER"); code != 0 {
		t.Fatalf("apply: exit %d: %s", code, out)
	}
	var child int
	testenv.WaitFor(t, 20*time.Second, "the exec action to start", func() error {
		b, err := os.ReadFile(pidFile)
		if err != nil || len(b) == 0 || b[len(b)-1] != '\n' {
			return errNotYet
		}
		child, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err
	})
	worker := status(t, state, "g").WorkerPID
	if worker <= 0 || !alive(worker) {
		t.Fatalf("no live worker in the status: %d", worker)
	}
	if err := syscall.Kill(worker, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 20*time.Second, "the exec child to die with its worker", func() error {
		if alive(child) {
			return fmt.Errorf("child %d of the killed worker %d still runs", child, worker)
		}
		return nil
	})
	code, out := hookRun(t, hook, "-c", conf, "status", "g")
	if code != 1 || !strings.Contains(out, "MASTER: abandoned (worker gone)") {
		t.Errorf("status after the worker was killed: exit %d, want 1 and abandoned:\n%s", code, out)
	}
	code, out = hookRun(t, hook, "-c", conf, "status", "--json", "--wait", "20s", "g")
	if code != 1 || !strings.Contains(out, `"outcome": "abandoned"`) {
		t.Errorf("status --json --wait after the worker was killed: exit %d, want 1 and abandoned:\n%s", code, out)
	}
	if code, out := hookRun(t, hook, "-c", conf, "apply", "g", "BACKUP"); code != 0 {
		t.Fatalf("next event: exit %d: %s", code, out)
	}
	code, out = hookRun(t, hook, "-c", conf, "status", "--wait", "20s", "g")
	if code != 0 || !strings.Contains(out, "BACKUP: ok") || !strings.Contains(out, "down exec /bin/true: ok") {
		t.Errorf("status after the next event: exit %d, want 0, BACKUP applied by its down command:\n%s", code, out)
	}
}

// TestFrontEndSIGTERM: a SIGTERM to the front-end in the middle of an event
// (keepalived's script timeout, ucarp stopping) killed it there: the event
// was never recorded nor applied. The front-end finishes its bounded work
// first.
func TestFrontEndSIGTERM(t *testing.T) {
	testenv.RequireRoot(t)
	hook, _ := binaries(t)
	dir := testenv.SharedTempDir(t, "sigterm")
	state := mkdir(t, filepath.Join(dir, "state"), 0o755)
	roleFile := filepath.Join(dir, "role")
	writeFile(t, roleFile, "1", 0o644)
	conf := filepath.Join(dir, "c.toml")
	writeFile(t, conf, fmt.Sprintf("state_dir = %q\n[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = %q\n", state, roleFile), 0o644)
	// Hold the event lock, so the front-end is caught in the middle.
	lockPath := filepath.Join(state, "g.event.lock")
	lf, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(hook, "-c", conf, "apply", "g", "BACKUP")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 20*time.Second, "the front-end to wait for the event lock", func() error {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
		for _, fd := range fds {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", cmd.Process.Pid, fd.Name())); l == lockPath {
				return nil
			}
		}
		return errNotYet
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("front-end after SIGTERM: %v\n%s", err, out.String())
	}
	if st := waitSettled(t, state, "g", "BACKUP"); st.Seq != 1 || st.Outcome != "ok" {
		t.Errorf("status %+v", st)
	}
	if r := role(roleFile); r != "0" {
		t.Errorf("role file %q, want 0", r)
	}
}

// TestDebug: --debug (or CARP_HOOK_DEBUG) logs each step to standard error;
// without it, nothing of the kind.
func TestDebug(t *testing.T) {
	testenv.RequireRoot(t)
	hook, _ := binaries(t)
	dir := testenv.SharedTempDir(t, "debug")
	conf := filepath.Join(dir, "c.toml")
	writeFile(t, conf, fmt.Sprintf("state_dir = %q\n[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = %q\n",
		filepath.Join(dir, "state"), filepath.Join(dir, "role")), 0o644)
	code, out := hookRun(t, hook, "--debug", "-c", conf, "apply", "g", "BACKUP")
	if code != 0 || !strings.Contains(out, "carp-hook: debug: configuration "+conf) || !strings.Contains(out, "debug: apply [g BACKUP]: BACKUP event") {
		t.Errorf("--debug: exit %d, output %q", code, out)
	}
	code, out = hookRun(t, hook, "-c", conf, "apply", "g", "BACKUP")
	if code != 0 || strings.Contains(out, "debug:") {
		t.Errorf("without --debug: exit %d, output %q", code, out)
	}
}
