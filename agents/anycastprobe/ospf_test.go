//go:build linux

package anycastprobe

// The proof with real parts (anycastlabtest): a router and two service
// nodes running FRR (zebra + ospfd, one pair per namespace), a real
// unbound on each node and anycast-probe holding 192.0.2.1 on each node's
// lo with the configuration of docs/snippets/anycast-probe.toml. The test
// asserts on the router's routing table for every transition and counts
// the failures of a client's query loop (50 queries/s) during each.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/agents/anycastprobe/anycastlabtest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestAnycastOSPF: see the file comment.
func TestAnycastOSPF(t *testing.T) {
	snippets := filepath.Join("..", "..", "docs", "snippets")
	cfg, err := os.ReadFile(filepath.Join(snippets, "anycast-probe.toml"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.RequireRoot(t)
	l := anycastlabtest.New(t, anycastlabtest.Options{Bin: binary(t), Snippets: snippets, ProbeConfig: string(cfg)})
	wait := func(want string, timeout time.Duration) time.Duration {
		t.Helper()
		d, err := l.WaitNextHops(want, timeout)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	wait("n1,n2", 60*time.Second)
	cl := l.StartClient(50, 3*time.Minute)
	type row struct {
		name     string
		withdraw time.Duration
		back     time.Duration
		from, to time.Time
	}
	var rows []row
	// run performs fail, waits for the route via n1 to go, performs
	// recover and waits for both paths again.
	run := func(name string, fail, recover func()) {
		t.Helper()
		start := time.Now()
		fail()
		w := wait("n2", 20*time.Second)
		recover()
		b := wait("n1,n2", 30*time.Second)
		rows = append(rows, row{name, w, b, start, time.Now()})
	}
	sig := func(cmd func() *exec.Cmd, s syscall.Signal) func() {
		return func() {
			if err := cmd().Process.Signal(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	unbound := func() *exec.Cmd { return l.Unbound[0] }
	probe := func() *exec.Cmd { return l.Probe[0] }
	lo := func() string { return l.N[0].MustRun(t, "ip", "-o", "addr", "show", "dev", "lo") }
	run("unbound stopped (SIGTERM), restarted", func() {
		sig(unbound, syscall.SIGTERM)()
		_ = l.Unbound[0].Wait()
	}, func() { l.StartUnbound(0) })
	// SIGSTOP reaches unbound itself: `ip netns exec` execs it.
	run("unbound hung (SIGSTOP), SIGCONT", sig(unbound, syscall.SIGSTOP), sig(unbound, syscall.SIGCONT))
	run("probe SIGTSTP, SIGCONT", sig(probe, syscall.SIGTSTP), sig(probe, syscall.SIGCONT))
	run("probe SIGTERM, started again", func() {
		sig(probe, syscall.SIGTERM)()
		if err := l.Probe[0].Wait(); err != nil {
			t.Errorf("probe exit after SIGTERM: %v", err)
		}
		if a := lo(); strings.Contains(a, anycastlabtest.Addr) {
			t.Errorf("address left on lo after SIGTERM:\n%s", a)
		}
	}, func() { l.StartProbe(0) })

	// kill -9 leaves the address (and the route); a new start removes it
	// before its first probe, then raises it again once healthy.
	start := time.Now()
	_ = l.Probe[0].Process.Kill()
	_ = l.Probe[0].Wait()
	if a := lo(); !strings.Contains(a, anycastlabtest.Addr) {
		t.Fatalf("after kill -9 the address should still be on lo:\n%s", a)
	}
	l.StartProbe(0)
	testenv.WaitFor(t, 20*time.Second, "stale address removed, then raised", func() error {
		log := l.Log[0].String()
		rm, up := strings.Index(log, "left on lo by an earlier run"), strings.Index(log, "service dns up")
		if rm < 0 || up < 0 {
			return fmt.Errorf("log:\n%s", log)
		}
		if rm > up {
			return fmt.Errorf("raised before the stale address was removed:\n%s", log)
		}
		return nil
	})
	back := wait("n1,n2", 30*time.Second)
	rows = append(rows, row{"probe kill -9, started again", 0, back, start, time.Now()})
	cl.Stop()

	var b strings.Builder
	fmt.Fprintf(&b, "%-40s %10s %10s %6s %6s\n", "transition", "withdrawn", "back", "sent", "failed")
	for _, r := range rows {
		sent, failed := cl.Failures(r.from, r.to)
		w := "-"
		if r.withdraw > 0 {
			w = r.withdraw.Round(time.Millisecond).String()
		}
		fmt.Fprintf(&b, "%-40s %10s %10s %6d %6d\n", r.name, w, r.back.Round(time.Millisecond), sent, failed)
	}
	t.Logf("transitions (client: 50 queries/s to %s, 500 ms timeout):\n%s", anycastlabtest.Addr, b.String())
	if sent, failed := cl.Failures(time.Time{}, time.Now()); sent == 0 || failed > sent/2 {
		t.Errorf("client: %d of %d queries failed over the whole run", failed, sent)
	}
}

// TestAnycastBIRD: the BIRD configurations of docs/snippets form the
// equal-cost route (merge external) and withdraw node 1's path when its
// unbound stops, and bring it back when it runs again.
func TestAnycastBIRD(t *testing.T) {
	snippets := filepath.Join("..", "..", "docs", "snippets")
	cfg, err := os.ReadFile(filepath.Join(snippets, "anycast-probe.toml"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.RequireRoot(t)
	l := anycastlabtest.New(t, anycastlabtest.Options{Routing: "bird", Bin: binary(t), Snippets: snippets, ProbeConfig: string(cfg)})
	for _, step := range []struct {
		want string
		do   func()
	}{
		{"n1,n2", func() {}},
		{"n2", func() { _ = l.Unbound[0].Process.Signal(syscall.SIGTERM); _ = l.Unbound[0].Wait() }},
		{"n1,n2", func() { l.StartUnbound(0) }},
	} {
		step.do()
		d, err := l.WaitNextHops(step.want, 60*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("next hops %s after %v", step.want, d.Round(time.Millisecond))
	}
}
