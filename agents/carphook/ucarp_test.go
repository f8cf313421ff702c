//go:build linux

package carphook_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/arp"

	"github.com/ocfkit/ocfkit/action"
	"github.com/ocfkit/ocfkit/agents/carphook/config"
	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// node is one CARP/VRRP node's carp-hook setup.
type node struct {
	name     string
	ns       *testenv.NS
	ip       string
	conf     string // carp-hook configuration
	stateDir string
	role     string      // role file
	hook     string      // carp-hook binary
	ocf      *action.OCF // the ocf action's agent (ocf-sockd), instance and params
}

// danteRunning runs ocf-sockd monitor for the node's danted, with the
// environment carp-hook's ocf action gives it: true on success, false on
// not running, a test failure otherwise.
func (n *node) danteRunning(t *testing.T) bool {
	t.Helper()
	cmd := n.ns.Command(n.ocf.Agent, "monitor")
	cmd.Env = n.ocf.Env()
	out, err := cmd.CombinedOutput()
	code := cmd.ProcessState.ExitCode()
	switch {
	case err == nil:
		return true
	case code == int(ocf.NotRunning):
		return false
	}
	t.Fatalf("%s: ocf-sockd monitor: %v\n%s", n.name, err, out)
	return false
}

// newNode writes a carp-hook configuration for node name ("n1" or "n2") of
// the lab. withAddress adds the address and announce actions, and danted
// listens on the VIP they add (ucarp leaves the VIP to its scripts);
// without, keepalived manages the VIP itself and danted listens on 0.0.0.0.
func newNode(t *testing.T, l *carpLab, name, vip string, withAddress bool) *node {
	t.Helper()
	var ns *testenv.NS
	var ip string
	switch name {
	case "n1":
		ns, ip = l.n1, l.ip(11)
	case "n2":
		ns, ip = l.n2, l.ip(12)
	default:
		t.Fatalf("no node %q in the lab", name)
	}
	danteInternal := "0.0.0.0"
	if withAddress {
		danteInternal = vip
	}
	hook, sockd := binaries(t)
	dir := filepath.Join(l.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	dconf := filepath.Join(dir, name+"-danted.conf")
	testenv.DanteConfig{
		LogFile:  filepath.Join(dir, name+"-danted.log"),
		Internal: []string{danteInternal},
		External: ip,
	}.Write(t, dconf)
	n := &node{name: name, ns: ns, ip: ip, conf: filepath.Join(dir, "carp-hook.toml"),
		stateDir: filepath.Join(dir, "state"), role: filepath.Join(dir, "role"), hook: hook,
		ocf: &action.OCF{Agent: sockd, Instance: "dante-" + name, Root: config.DefaultOCFRoot, Timeout: 20 * time.Second,
			Params: map[string]string{"sockd": "/usr/sbin/danted", "sockd_config": dconf, "sockd_pidfile": filepath.Join(dir, "danted.pid")}}}
	conf := fmt.Sprintf("state_dir = %q\n\n[group.dante]\nmatch = [%q, \"VI_1\"]\ntimeout = \"40s\"\n", n.stateDir, vip)
	if withAddress {
		conf += fmt.Sprintf(`
[[group.dante.action]]
type = "address"
interface = "eth0"
addresses = ["%s/24"]

[[group.dante.action]]
type = "announce"
interface = "eth0"
addresses = [%q]
count = 2
interval = "50ms"
`, vip, vip)
	}
	conf += fmt.Sprintf(`
[[group.dante.action]]
type = "role-file"
path = %q

[[group.dante.action]]
type = "ocf"
agent = %q
instance = %q
timeout = %q
params = { %s }
`, n.role, n.ocf.Agent, n.ocf.Instance, n.ocf.Timeout, tomlInline(n.ocf.Params))
	writeFile(t, n.conf, conf, 0o644)
	// Whatever happens, take the group down at the end: this stops danted
	// through the ocf action and waits for the worker.
	t.Cleanup(func() {
		_ = ns.Command(hook, "-c", n.conf, "apply", "dante", "STOP").Run()
		out, err := ns.Command(hook, "-c", n.conf, "status", "--wait", "30s", "dante").CombinedOutput()
		if err != nil {
			t.Errorf("%s: final STOP: %v\n%s", name, err, out)
		}
	})
	return n
}

// ucarpScripts writes the up and down scripts ucarp runs: one line each.
func (n *node) ucarpScripts(t *testing.T) (up, down string) {
	t.Helper()
	dir := filepath.Dir(n.conf)
	up, down = filepath.Join(dir, "up.sh"), filepath.Join(dir, "down.sh")
	writeFile(t, up, fmt.Sprintf("#!/bin/sh\nexec %s -c %s ucarp up \"$@\"\n", n.hook, n.conf), 0o755)
	writeFile(t, down, fmt.Sprintf("#!/bin/sh\nexec %s -c %s ucarp down \"$@\"\n", n.hook, n.conf), 0o755)
	return up, down
}

func startUcarp(t *testing.T, n *node, vip, skew string) *exec.Cmd {
	t.Helper()
	up, down := n.ucarpScripts(t)
	cmd := n.ns.Command(testenv.RequireCommand(t, "ucarp"), "-i", "eth0", "-s", n.ip, "-v", "42", "-p", "chpass",
		"-a", vip, "-b", "1", "-k", skew, "-P", "-z", "-x", "dante", "-u", up, "-d", down)
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(n.conf), "ucarp.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	t.Cleanup(func() {
		testenv.Kill(cmd)
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s ucarp log:\n%s", n.name, b)
		}
	})
	return cmd
}

// waitHolds waits until n has vip on its eth0.
func waitHolds(t *testing.T, n *node, vip string) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, n.name+" to hold "+vip, func() error {
		if !hasAddr(t, n.ns, vip) {
			return errNotYet
		}
		return nil
	})
}

// checkServing checks that master took over: it holds vip, its last event
// settled as MASTER, its role file says 1, and the observer reaches danted
// through vip.
func checkServing(t *testing.T, l *carpLab, master *node, vip string) {
	t.Helper()
	waitHolds(t, master, vip)
	waitSettled(t, master.stateDir, "dante", "MASTER")
	if r := role(master.role); r != "1" {
		t.Errorf("%s role file = %q, want 1", master.name, r)
	}
	testenv.WaitFor(t, 10*time.Second, "danted on "+vip+" answering the observer", func() error {
		return socksGreets(l.obs, vip+":1080")
	})
}

// checkMaster waits until master holds the VIP, role 1 and a serving
// danted, and other holds none of it.
func checkMaster(t *testing.T, l *carpLab, master, other *node, vip string) {
	t.Helper()
	checkServing(t, l, master, vip)
	testenv.WaitFor(t, 10*time.Second, other.name+" to let go of "+vip, func() error {
		if hasAddr(t, other.ns, vip) {
			return fmt.Errorf("%s still holds %s", other.name, vip)
		}
		if r := role(other.role); r != "0" {
			return fmt.Errorf("%s role file = %q", other.name, r)
		}
		return nil
	})
	waitSettled(t, other.stateDir, "dante", string(status(t, other.stateDir, "dante").Event.State))
	if other.danteRunning(t) {
		t.Errorf("danted still runs on %s", other.name)
	}
	if !master.danteRunning(t) {
		t.Errorf("ocf-sockd monitor says danted is not running on %s", master.name)
	}
}

func TestUcarpPair(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "ucarp")
	testenv.RequireCommand(t, "danted")
	l := newCarpLab(t, "chu", "10.211.0")
	vip := l.ip(50)
	n1 := newNode(t, l, "n1", vip, true)
	n2 := newNode(t, l, "n2", vip, true)
	watcher := watchARP(t, l.obs)

	// Started together, both ucarps may be master for up to a second (the
	// second one times out before the first one's first advert): start the
	// preferred node first, as an operator would.
	u1 := startUcarp(t, n1, vip, "0")
	waitHolds(t, n1, vip)
	startUcarp(t, n2, vip, "10")
	testenv.WaitFor(t, 5*time.Second, "n2's down at start", func() error {
		if status(t, n2.stateDir, "dante").Seq == 0 {
			return errNotYet
		}
		return nil
	})
	checkMaster(t, l, n1, n2, vip)
	if st := status(t, n2.stateDir, "dante"); st.Event.Source != "ucarp" || st.Event.State != "BACKUP" {
		t.Errorf("n2's last event = %+v, want ucarp's down at start", st.Event)
	}
	if err := watcher.saw(arp.OperationReply, macOf(t, l.n1), vip); err != nil {
		t.Error(err)
	}

	// Crash: SIGKILL the master's ucarp by its PID and cut its link (a dead
	// machine stops answering ARP; ucarp's down script never runs).
	watcher.reset()
	t0 := time.Now()
	if err := syscall.Kill(u1.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	l.n1.MustRun(t, "ip", "link", "set", "eth0", "down")
	checkServing(t, l, n2, vip)
	t.Logf("crash failover: VIP to serving danted on n2 in %v", time.Since(t0).Round(time.Millisecond))
	mac2 := macOf(t, l.n2)
	for _, op := range []arp.Operation{arp.OperationRequest, arp.OperationReply} {
		if err := watcher.saw(op, mac2, vip); err != nil {
			t.Error(err)
		}
	}
	out := l.obs.MustRun(t, "ip", "neigh", "show", vip)
	if !strings.Contains(strings.ToLower(out), strings.ToLower(mac2)) {
		t.Errorf("observer's neighbour entry for %s = %q, want n2's %s", vip, out, mac2)
	}

	// The crashed node comes back: its link up, ucarp restarted. It runs
	// down first (taking the stale VIP and danted away), then preempts.
	l.n1.MustRun(t, "ip", "link", "set", "eth0", "up")
	t0 = time.Now()
	startUcarp(t, n1, vip, "0")
	// ucarp itself lets both nodes be master while preempting (the old
	// master gives up when it hears the new one's advert); afterwards only
	// n1 may hold the VIP, and n2 must have stopped danted (checkMaster).
	checkMaster(t, l, n1, n2, vip)
	up1, down2 := status(t, n1.stateDir, "dante").EventTime, status(t, n2.stateDir, "dante").EventTime
	t.Logf("preemption: n1 master again, serving, n2 clean after %v; ucarp called n2's down %v after n1's up",
		time.Since(t0).Round(time.Millisecond), down2.Sub(up1).Round(time.Millisecond))
	for _, n := range []*node{n1, n2} {
		n := n
		testenv.WaitFor(t, 5*time.Second, n.name+"'s worker to exit", func() error {
			return noWorkerLeft(status(t, n.stateDir, "dante"))
		})
	}
}

// tomlInline renders m as the inside of a TOML inline table, keys sorted.
func tomlInline(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	items := make([]string, len(keys))
	for i, k := range keys {
		items[i] = fmt.Sprintf("%s = %q", k, m[k])
	}
	return strings.Join(items, ", ")
}
