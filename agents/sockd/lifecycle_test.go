package sockd

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

const recurring = "OCF_RESKEY_CRM_meta_interval=10000"

func TestLifecycle(t *testing.T) {
	l := newLab(t)
	if r := l.expect(7, "monitor"); r.reason() != "" {
		t.Errorf("a probe of a stopped resource gives a reason: %q", r.reason())
	}
	l.expect(7, "monitor", recurring)
	l.expect(0, "validate-all")
	l.start()
	if len(l.children("io-child")) == 0 {
		t.Error("start returned before Dante forked its children")
	}
	l.expect(0, "monitor", recurring)
	l.expect(0, "status", recurring)
	l.start() // again: idempotent
	// A child Dante just forked shows the mother's command line for a
	// moment: a second instance would leave two mothers for good.
	l.waitMothers(1)
	for _, depth := range []string{"0", "10", "20"} {
		l.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL="+depth, "OCF_RESKEY_check_udp=true")
	}
	l.expect(0, "reload")
	l.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=20")
	l.stopClean()
	if _, err := os.Stat(l.env["OCF_RESKEY_sockd_pidfile"]); !os.IsNotExist(err) {
		t.Errorf("stop left the pidfile: %v", err)
	}
	l.expect(0, "stop") // again: idempotent
	l.expect(7, "monitor", recurring)
	l.expect(7, "reload")
}

func TestStalePidfile(t *testing.T) {
	l := newLab(t)
	// A PID that no longer exists: a process that ran and was reaped.
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, l.env["OCF_RESKEY_sockd_pidfile"], strconv.Itoa(done.Process.Pid)+"\n")
	l.expect(7, "monitor")
	l.expect(7, "monitor", recurring)
	// Empty, as Dante leaves it at exit.
	writeFile(t, l.env["OCF_RESKEY_sockd_pidfile"], "")
	l.expect(7, "monitor", recurring)
	l.start()
	l.expect(0, "monitor", recurring)
}

func TestPidfileNamesUnrelatedProcess(t *testing.T) {
	l := newLab(t)
	unrelated := exec.Command("sleep", "600")
	if err := unrelated.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testenv.Kill(unrelated) })
	writeFile(t, l.env["OCF_RESKEY_sockd_pidfile"], strconv.Itoa(unrelated.Process.Pid)+"\n")
	l.expect(7, "monitor")
	l.expect(0, "stop")
	l.start()
	l.expect(0, "monitor", recurring)
	l.expect(0, "stop")
	if err := unrelated.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("stop ended the unrelated process named by the stale pidfile: %v", err)
	}
}

func TestRunningWithoutPidfile(t *testing.T) {
	l := newLab(t)
	l.start()
	if err := os.Remove(l.env["OCF_RESKEY_sockd_pidfile"]); err != nil {
		t.Fatal(err)
	}
	l.expectReason(1, "pidfile", "monitor", recurring)
	l.expect(1, "monitor") // a probe too: in doubt, never "stopped"
	l.expect(1, "start")   // does not start a second instance over it
	l.stopClean()
}

func TestSeveralMothers(t *testing.T) {
	l := newLab(t)
	l.env["OCF_RESKEY_sockd_args"] = "-N 2"
	l.start()
	// A child Dante just forked shows the mother's command line until it
	// sets its title: wait for the two mothers to be all.
	l.waitMothers(2)
	mothers := l.mothers()
	l.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=20")
	pidfilePID := readPID(t, l.env["OCF_RESKEY_sockd_pidfile"])
	for _, m := range mothers {
		if m.PID != pidfilePID {
			l.signalAll([]Process{m}, syscall.SIGKILL)
		}
	}
	l.waitMothers(1)
	l.expectReason(1, "1 of 2", "monitor", recurring)
	l.stopClean()
}

func TestStopWithStoppedChildren(t *testing.T) {
	l := newLab(t)
	l.start()
	var children []Process
	for _, p := range l.processes() {
		if configArg(p.Cmdline) == "" {
			children = append(children, p)
		}
	}
	l.signalAll(children, syscall.SIGSTOP)
	l.stopClean()
}

func TestStopWithOrphanedStoppedChildren(t *testing.T) {
	l := newLab(t)
	l.start()
	l.signalAll(l.children("io-child"), syscall.SIGSTOP)
	l.signalAll(l.children("request-child"), syscall.SIGSTOP)
	l.signalAll(l.mothers(), syscall.SIGKILL)
	l.waitMothers(0)
	l.expectReason(1, "no Dante mother", "monitor", recurring)
	l.stopClean()
}

func TestMissingBinary(t *testing.T) {
	l := newLab(t)
	l.env["OCF_RESKEY_sockd"] = l.path("no-such-sockd")
	for _, tc := range []struct {
		want   int
		action string
		extra  []string
	}{
		{5, "validate-all", nil},
		{5, "start", nil},
		{7, "monitor", nil},
		{5, "monitor", []string{recurring}},
		{0, "stop", nil},
	} {
		r := l.expect(tc.want, tc.action, tc.extra...)
		if tc.want == 5 && !strings.Contains(r.reason(), "no-such-sockd") {
			t.Errorf("%s: reason %q does not name the binary", tc.action, r.reason())
		}
	}
}

func TestBrokenConfig(t *testing.T) {
	l := newLab(t)
	conf := l.env["OCF_RESKEY_sockd_config"]
	b, _ := os.ReadFile(conf)
	broken := strings.Replace(string(b), "socksmethod: none", "socksmethod: none\nfrobnicate: yes", 1)
	writeFile(t, conf, broken)
	line := fmt.Sprintf("line %d", strings.Count(broken[:strings.Index(broken, "frobnicate")], "\n")+1)
	for _, action := range []string{"validate-all", "start"} {
		r := l.expect(6, action)
		if !strings.Contains(r.reason(), line) || !strings.Contains(r.reason(), "syntax error") || strings.Contains(r.reason(), "shutting down") {
			t.Errorf("%s: reason %q does not quote Dante's complaint", action, r.reason())
		}
	}
	// A configuration broken under a running instance: the running
	// proxy still serves, so every monitor, a probe included, says so;
	// reload refuses the file.
	writeFile(t, conf, string(b))
	l.start()
	writeFile(t, conf, broken)
	l.expect(0, "monitor")
	l.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=20")
	l.expect(6, "reload")
	l.expect(0, "stop")

	if err := os.Remove(conf); err != nil {
		t.Fatal(err)
	}
	l.expect(7, "monitor")
	l.expect(6, "monitor", recurring)
	l.expect(6, "validate-all")
	l.expect(0, "stop")
}

func TestBadArguments(t *testing.T) {
	l := newLab(t)
	l.expect(6, "validate-all", "OCF_RESKEY_sockd_args=-f /etc/other.conf")
	l.expect(6, "validate-all", "OCF_RESKEY_check_udp=perhaps")
	l.expect(6, "validate-all", "OCF_RESKEY_check_target=no-port")
	l.expect(6, "validate-all", "OCF_RESKEY_check_username=u")
	l.expect(2, "monitor", "OCF_CHECK_LEVEL=deep")
	l.expect(3, "promote")
}

func TestTwoInstances(t *testing.T) {
	a := newLab(t)
	b := newLabIn(t, a.ns)
	b.writeConfig(testenv.DanteConfig{Port: 1081})
	a.start()
	b.start()
	a.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=20")
	b.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=20")
	a.stopClean()
	b.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=20")
	if len(b.mothers()) != 1 || len(b.children("io-child")) == 0 {
		t.Errorf("stopping one instance touched the other: %s", describeProcs(b.processes()))
	}
}

// TestActionsHonourTimeout shows that start and stop end within a short
// operation timeout: a Dante that never finishes starting, and one that
// ignores SIGTERM.
func TestActionsHonourTimeout(t *testing.T) {
	l := newLab(t)
	l.env["OCF_RESKEY_sockd"] = fakeBin
	conf := l.env["OCF_RESKEY_sockd_config"]
	b, _ := os.ReadFile(conf)

	writeFile(t, conf, string(b)+"# fake: hang\n")
	r := l.expect(1, "start", "OCF_RESKEY_CRM_meta_timeout=4000")
	if r.took >= 4*time.Second {
		t.Errorf("start took %v, beyond its 4 s timeout", r.took)
	}

	writeFile(t, conf, string(b))
	r = l.expect(1, "start", "OCF_RESKEY_CRM_meta_timeout=4000")
	if r.took >= 4*time.Second || !strings.Contains(r.reason(), "did not become ready") {
		t.Errorf("start of a server that never answers: %v, reason %q", r.took, r.reason())
	}
	if len(l.mothers()) != 1 {
		t.Fatalf("the stand-in did not start: %s", describeProcs(l.processes()))
	}
	r = l.expect(0, "stop", "OCF_RESKEY_CRM_meta_timeout=4000")
	if r.took >= 4*time.Second || !strings.Contains(r.stderr, "SIGKILL") {
		t.Errorf("stop of a server ignoring SIGTERM took %v: %s", r.took, r.stderr)
	}
	l.assertNothingLeft()
}

func TestMetaDataAsNobody(t *testing.T) {
	testenv.RequireRoot(t)
	out, err := exec.Command("su", "nobody", "-s", "/bin/sh", "-c", agentBin+" meta-data").Output()
	if err != nil {
		t.Fatalf("meta-data as nobody: %v", err)
	}
	if !strings.Contains(string(out), `<resource-agent name="sockd"`) {
		t.Errorf("meta-data: %.200s", out)
	}
	cmd := exec.Command(agentBin, "meta-data")
	cmd.Env = []string{}
	if out, err := cmd.Output(); err != nil || len(out) == 0 {
		t.Errorf("meta-data with no environment: %v", err)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	pid, err := readPidfile(path)
	if err != nil || pid == 0 {
		t.Fatalf("pidfile %s: %d, %v", path, pid, err)
	}
	return pid
}
