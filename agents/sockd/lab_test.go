package sockd

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/filesafe/filesafetest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// The agent and the stand-in Dante, built once for the integration tests.
var agentBin, fakeBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		if os.Geteuid() == 0 {
			dir, bins, err := testenv.BuildTemp("ocf-sockd-test-", "./cmd/ocf-sockd", "./agents/sockd/testdata/fakesockd")
			defer os.RemoveAll(dir)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			agentBin, fakeBin = bins[0], bins[1]
		}
		return m.Run()
	}())
}

// lab is one throwaway Dante instance managed through the agent, in a
// network namespace of its own.
type lab struct {
	t   *testing.T
	ns  *testenv.NS
	dir string
	// env holds the OCF_RESKEY_* parameters of the instance.
	env map[string]string
	// groups are the process groups of every mother seen, for the check
	// that nothing is left; foreign are groups of other Dantes whose
	// command lines name the lab's files (a container's), never its own.
	groups, foreign map[int]bool
	// command, when set, runs the agent in place of ns.Command.
	command func(name string, args ...string) *exec.Cmd
	// rsctmpDirs are directories made for a HA_RSCTMP after the lab:
	// cleanup removes them after its stop, which would make them anew
	// if their own cleanup, which runs first, had removed them.
	rsctmpDirs []string
}

// newLab returns a lab with a default danted.conf in a new network
// namespace.
func newLab(t *testing.T) *lab {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "danted")
	return newLabIn(t, testenv.NewNS(t, "sk"))
}

// newLabIn returns a lab with a default danted.conf in the namespace ns,
// which other labs may share.
func newLabIn(t *testing.T, ns *testenv.NS) *lab {
	t.Helper()
	l := &lab{t: t, ns: ns, dir: testenv.SharedTempDir(t, "sockd"), groups: map[int]bool{}, foreign: map[int]bool{}}
	l.env = map[string]string{
		"OCF_ROOT":                 "/usr/lib/ocf",
		"OCF_RESOURCE_INSTANCE":    "t-" + filepath.Base(l.dir),
		"OCF_RESKEY_sockd":         "/usr/sbin/danted",
		"OCF_RESKEY_sockd_config":  l.path("danted.conf"),
		"OCF_RESKEY_sockd_pidfile": l.path("danted.pid"),
		"HA_RSCTMP":                safeRsctmp(t),
	}
	l.writeConfig(testenv.DanteConfig{})
	t.Cleanup(l.cleanup)
	return l
}

// safeRsctmp returns a new HA_RSCTMP that only root can write, nor any
// directory above it (the temporary directory is usually /tmp, which
// everyone can write, and the agent trusts no state there).
func safeRsctmp(t *testing.T) string {
	t.Helper()
	dir, err := filesafetest.SafeDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "rsctmp")
}

func (l *lab) path(name string) string { return filepath.Join(l.dir, name) }

// writeConfig writes the instance's danted.conf.
func (l *lab) writeConfig(c testenv.DanteConfig) {
	l.t.Helper()
	c.LogFile = l.path("danted.log")
	c.Write(l.t, l.env["OCF_RESKEY_sockd_config"])
}

// result is the outcome of one agent run.
type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// reason returns the last ocf-exit-reason line's text.
func (r result) reason() string {
	reason := ""
	for _, line := range strings.Split(r.stderr, "\n") {
		if s, ok := strings.CutPrefix(line, "ocf-exit-reason:"); ok {
			reason = s
		}
	}
	return reason
}

// run runs one agent action inside the namespace, with the instance's
// parameters and extra KEY=VALUE settings.
func (l *lab) run(action string, extra ...string) result {
	l.t.Helper()
	cmd := l.ns.Command(agentBin, action)
	if l.command != nil {
		cmd = l.command(agentBin, action)
	}
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	for k, v := range l.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		l.t.Fatalf("running %s: %v", action, err)
	}
	r.code = exitCode(err)
	return r
}

// exitCode returns a command's exit status from its error: 0 for nil, -1
// when it did not run or ended by a signal.
func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// expect runs an action and fails the test unless it exits with want.
func (l *lab) expect(want int, action string, extra ...string) result {
	l.t.Helper()
	r := l.run(action, extra...)
	if r.code != want {
		l.t.Fatalf("%s %v: exit %d, want %d\nstderr: %s", action, extra, r.code, want, r.stderr)
	}
	return r
}

// expectReason runs an action, fails the test unless it exits with want,
// and reports an error unless its exit reason contains substr.
func (l *lab) expectReason(want int, substr, action string, extra ...string) {
	l.t.Helper()
	r := l.expect(want, action, extra...)
	if !strings.Contains(r.reason(), substr) {
		l.t.Errorf("%s %v: reason %q does not contain %q", action, extra, r.reason(), substr)
	}
}

// stopClean stops the instance and fails the test if any of its processes
// is left.
func (l *lab) stopClean() {
	l.t.Helper()
	l.expect(0, "stop")
	l.assertNothingLeft()
}

// start starts the instance and records its process groups.
func (l *lab) start(extra ...string) {
	l.t.Helper()
	l.expect(0, "start", extra...)
	for _, p := range l.mothers() {
		l.groups[p.PGID] = true
	}
}

// processes returns the live processes of the instance: mothers (their
// command line names this lab's directory) and every process in a group
// a mother led.
func (l *lab) processes() []Process {
	l.t.Helper()
	table, err := listProcesses(nil)
	if err != nil {
		l.t.Fatal(err)
	}
	var out []Process
	for _, p := range table.Procs {
		if p.Zombie() || l.foreign[p.PGID] {
			continue
		}
		if l.groups[p.PGID] || strings.Contains(strings.Join(p.Cmdline, " "), l.dir) {
			out = append(out, p)
		}
	}
	return out
}

// mothers returns the instance's live mother processes.
func (l *lab) mothers() []Process {
	var out []Process
	for _, p := range l.processes() {
		if configArg(p.Cmdline) == l.env["OCF_RESKEY_sockd_config"] {
			out = append(out, p)
		}
	}
	return out
}

// children returns the live children whose title contains kind, such as
// "io-child".
func (l *lab) children(kind string) []Process {
	var out []Process
	for _, p := range l.processes() {
		if strings.Contains(strings.Join(p.Cmdline, " "), kind) {
			out = append(out, p)
		}
	}
	return out
}

// signalAll sends sig to processes.
func (l *lab) signalAll(procs []Process, sig syscall.Signal) {
	l.t.Helper()
	if len(procs) == 0 {
		l.t.Fatalf("no process to send %v to", sig)
	}
	for _, p := range procs {
		if err := syscall.Kill(p.PID, sig); err != nil {
			l.t.Fatalf("kill -%d %d: %v", sig, p.PID, err)
		}
	}
}

// assertNothingLeft fails the test if any process of the instance lives.
func (l *lab) assertNothingLeft() {
	l.t.Helper()
	if left := l.processes(); len(left) > 0 {
		l.t.Errorf("processes left: %v", describeProcs(left))
	}
}

func describeProcs(procs []Process) string {
	var s []string
	for _, p := range procs {
		s = append(s, fmt.Sprintf("%d(%c %s)", p.PID, p.State, strings.Join(p.Cmdline, " ")))
	}
	return strings.Join(s, ", ")
}

// cleanup stops the instance through the agent and, should anything
// survive that, ends the recorded processes itself and fails the test.
func (l *lab) cleanup() {
	if agentBin == "" {
		return
	}
	for _, p := range l.processes() {
		_ = syscall.Kill(p.PID, syscall.SIGCONT)
	}
	if r := l.run("stop", "OCF_RESKEY_CRM_meta_timeout=20000"); r.code != 0 {
		l.t.Errorf("cleanup stop: exit %d: %s", r.code, r.stderr)
	}
	if left := l.processes(); len(left) > 0 {
		l.t.Errorf("cleanup: processes survived stop: %s", describeProcs(left))
		for _, p := range left {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
	for _, d := range l.rsctmpDirs {
		_ = os.RemoveAll(d)
	}
}

// waitMothers waits until the instance has n live mother processes, as
// after killing some.
func (l *lab) waitMothers(n int) {
	l.t.Helper()
	testenv.WaitFor(l.t, 5*time.Second, fmt.Sprintf("%d mother processes", n), func() error {
		if got := len(l.mothers()); got != n {
			return fmt.Errorf("%d mothers", got)
		}
		return nil
	})
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
