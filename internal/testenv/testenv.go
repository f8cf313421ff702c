// Package testenv holds what integration tests share: requirements on the
// machine (root, real programs), network namespaces that are always removed,
// processes that are always ended, and waiting for a condition with a deadline.
//
// A missing requirement skips the test on a developer's machine and fails it
// under CI (CI=true) and under `make test` (OCFKIT_TEST_STRICT=1), naming the
// Debian package to install, so that neither can pass by skipping. Only a
// kernel limit (NotApplicable) skips there.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StrictEnv is the variable tests/run.sh (`make test`) sets to 1: a missing
// requirement then fails the test, as under CI.
const StrictEnv = "OCFKIT_TEST_STRICT"

// InCI reports whether the tests run under CI, where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// Strict reports whether a missing requirement fails the test instead of
// skipping it: under CI, and under `make test` (OCFKIT_TEST_STRICT=1).
func Strict() bool { return InCI() || os.Getenv(StrictEnv) == "1" }

// skipOrFail skips the test, or fails it when Strict.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if Strict() {
		t.Fatalf("this test must run here (CI or make test): "+format, args...)
	}
	t.Skipf(format, args...)
}

// Limit is a kernel feature whose absence makes a test not applicable on a
// machine. The list is short on purpose: everything else a test needs can be
// installed, so its absence is a failure under `make test`.
type Limit string

// The kernel limits a test may skip for.
const (
	NoIPVS  Limit = "no IPVS (ip_vs) in this kernel"
	NoNetem Limit = "no netem (sch_netem) in this kernel"
)

// NotApplicablePrefix starts the skip message of NotApplicable; tests/run.sh
// counts such skips apart and fails the run on any other skip.
const NotApplicablePrefix = "not applicable: "

// NotApplicable skips the test because this kernel lacks a feature (one of
// the Limits), even under `make test` and CI; detail says what was tried.
func NotApplicable(t testing.TB, limit Limit, detail string) {
	t.Helper()
	switch limit {
	case NoIPVS, NoNetem:
	default:
		t.Fatalf("NotApplicable: %q is not a kernel limit (only NoIPVS, NoNetem)", limit)
	}
	t.Skipf("%s%s (%s)", NotApplicablePrefix, limit, detail)
}

// RequireRoot skips (or, when Strict, fails) a test that needs root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root")
	}
}

// RequireCommand returns the path of a program the test needs, found the way
// the test will run it (PATH, or the path itself when name has a slash). It
// skips (or, when Strict, fails at once) when the program is missing, naming
// the Debian package that provides it, or when it is installed but not on
// PATH (a child looking it up by name would not find it either).
func RequireCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := LookCommand(name)
	if err != nil {
		skipOrFail(t, "%v", err)
	}
	return p
}

// LookCommand finds a program as RequireCommand does, with an error naming
// the program, the Debian package that provides it and the fix.
func LookCommand(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	pkg, known := CommandPackages[path.Base(name)]
	if !strings.Contains(name, "/") {
		for _, dir := range []string{"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"} {
			if p, err := exec.LookPath(dir + name); err == nil {
				return "", fmt.Errorf("%s is installed at %s (Debian package %s) but not on PATH (%s): add %s to PATH", name, p, pkg, os.Getenv("PATH"), dir)
			}
		}
	}
	if !known {
		return "", fmt.Errorf("%s is not installed (no Debian package known for it: add it to testenv.CommandPackages and scripts/packages.txt)", name)
	}
	return "", fmt.Errorf("%s is not installed: it is in the Debian package %s (make deps, or apt-get install %s)", name, pkg, pkg)
}

// RandomSuffix returns a short random hex string for unique names.
func RandomSuffix() string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Run runs a command and returns its combined output, failing the test when
// it fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// NS is a network namespace created for one test.
type NS struct {
	Name string
}

// NewNS creates the network namespace PREFIX-<random> with lo up, and
// removes it when the test ends, whatever the outcome. Prefixes should be
// short: interface names built from them must fit in 15 bytes.
func NewNS(t testing.TB, prefix string) *NS {
	t.Helper()
	RequireRoot(t)
	RequireCommand(t, "ip")
	reapAtStart(t.Logf)
	ns := &NS{Name: prefix + "-" + RandomSuffix()}
	if err := recordOwner(ns.Name); err != nil {
		t.Fatalf("recording namespace %s: %v", ns.Name, err)
	}
	Run(t, "ip", "netns", "add", ns.Name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
			t.Errorf("removing namespace %s: %v: %s", ns.Name, err, out)
			return
		}
		forgetOwner(ns.Name)
	})
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	return ns
}

// Command returns a command that runs inside the namespace.
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// CommandContext is Command bounded by ctx.
func (ns *NS) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// MustRun runs a command inside the namespace and returns its combined
// output, failing the test when it fails.
func (ns *NS) MustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	var buf bytes.Buffer
	cmd := ns.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("in %s: %s %s: %v\n%s", ns.Name, name, strings.Join(args, " "), err, buf.String())
	}
	return buf.String()
}

// Start starts a long-running command inside the namespace and ends it (by
// its recorded PID: `ip netns exec` execs the program, so the PID is the
// program's own) when the test ends; it also dies with the test process
// when that is killed before its cleanups run (StartTied).
func (ns *NS) Start(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := ns.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := StartTied(cmd); err != nil {
		t.Fatalf("in %s: starting %s: %v", ns.Name, name, err)
	}
	t.Cleanup(func() { Kill(cmd) })
	return cmd
}

// Kill ends a command started by the harness and its process group, and
// reaps it.
func Kill(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Veth connects two namespaces with a veth pair: ifA in a with addrA, ifB in
// b with addrB (CIDR form; empty for none). Both ends are brought up.
func Veth(t testing.TB, a *NS, ifA, addrA string, b *NS, ifB, addrB string) {
	t.Helper()
	tmpA, tmpB := "va"+RandomSuffix(), "vb"+RandomSuffix()
	Run(t, "ip", "link", "add", tmpA, "type", "veth", "peer", "name", tmpB)
	Run(t, "ip", "link", "set", tmpA, "netns", a.Name)
	Run(t, "ip", "link", "set", tmpB, "netns", b.Name)
	a.MustRun(t, "ip", "link", "set", tmpA, "name", ifA)
	b.MustRun(t, "ip", "link", "set", tmpB, "name", ifB)
	for _, end := range []struct {
		ns        *NS
		ifc, addr string
	}{{a, ifA, addrA}, {b, ifB, addrB}} {
		if end.addr != "" {
			end.ns.MustRun(t, "ip", "addr", "add", end.addr, "dev", end.ifc)
		}
		end.ns.MustRun(t, "ip", "link", "set", end.ifc, "up")
	}
}

// WaitFor calls check until it returns nil or the timeout passes, and then
// fails the test with the last error. It polls quickly at first and backs
// off to 100 ms. An error wrapped with Stop fails the test at once.
func WaitFor(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	if err := Poll(timeout, check); err != nil {
		t.Fatalf("waiting %v for %s: %v", timeout, what, err)
	}
}

// Poll calls check until it returns nil or the timeout passes, and returns
// the last error. An error wrapped with Stop ends the polling at once and
// is returned unwrapped.
func Poll(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	pause := 5 * time.Millisecond
	for {
		err := check()
		if err == nil {
			return nil
		}
		var stop *stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(pause)
		if pause < 100*time.Millisecond {
			pause *= 2
		}
	}
}

// stopError is an error that no further call of a check can mend.
type stopError struct{ err error }

func (s *stopError) Error() string { return s.err.Error() }

func (s *stopError) Unwrap() error { return s.err }

// Stop wraps err, a failure that retrying cannot mend, so that Poll and
// WaitFor give up at once with it. Stop(nil) is nil.
func Stop(err error) error {
	if err == nil {
		return nil
	}
	return &stopError{err}
}

// SharedTempDir makes a directory that every user (hacluster, nobody, the
// processes of a test cluster) can read, unlike t.TempDir, whose parent is
// private. Its name is short and free of '=' (pcs reads a file argument
// containing '=' as an option; test and benchmark names may contain it).
// It is removed when the test ends.
func SharedTempDir(t testing.TB, what string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ocfkit-"+what+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Python3 returns /usr/bin/python3 when it exists (python3 on PATH may be a
// pyenv shim that does not work in a namespace or as another user), else
// python3 from PATH, failing the test when there is none.
func Python3(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("/usr/bin/python3"); err == nil {
		return p
	}
	return RequireCommand(t, "python3")
}

// ExpectExit checks a command's exit status and that its output contains
// every one of contains, reporting each miss against what.
func ExpectExit(t testing.TB, what string, code, want int, out string, contains ...string) {
	t.Helper()
	if code != want {
		t.Errorf("%s: exit %d, want %d", what, code, want)
	}
	for _, c := range contains {
		if !strings.Contains(out, c) {
			t.Errorf("%s: output lacks %q", what, c)
		}
	}
}

// ProbeWithin runs probe(ctx, cfg) inside the namespace, bounded by
// timeout, and returns what it returned: the one way the prober tests call
// a prober against a server in a namespace.
func ProbeWithin[C, R any](ns *NS, timeout time.Duration, probe func(context.Context, C) (R, error), cfg C) (res R, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if werr := ns.Within(func() error { res, err = probe(ctx, cfg); return nil }); werr != nil {
		return res, werr
	}
	return res, err
}

// NoHang runs f and fails the test if it has not returned within 30 s: a
// guard against a hang (an action blocked on a stalled journal or a FIFO),
// not a speed assertion.
func NoHang(t testing.TB, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s hangs", what)
	}
}
