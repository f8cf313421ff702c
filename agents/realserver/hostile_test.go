package realserver_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/agents/realserver"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestUnsafeStateDir: a state directory others could write (HA_RSCTMP
// below a world-writable directory) or that cannot be one (HA_RSCTMP a
// regular file) is refused by validate-all and start with 5 before
// anything is created or changed, and stop and monitor report the
// instance stopped (0, 7): a stop failure would fence the node.
func TestUnsafeStateDir(t *testing.T) {
	n := newNode(t, nil)
	pub := filepath.Join(t.TempDir(), "pub")
	if err := os.Mkdir(pub, 0o755); err != nil {
		t.Fatal(err)
	}
	n.chmod(pub, 0o777|os.ModeSticky)
	file := n.file("rsctmp-file", "")
	for _, tc := range []struct{ what, rsctmp, reason string }{
		{"below a world-writable directory", filepath.Join(pub, "rt"), "writable by group and others"},
		{"a regular file", file, "not a directory"},
		{"too long a path", "/run/" + strings.Repeat("x", 5000), "file name too long"},
	} {
		n.rsctmp = tc.rsctmp
		for _, action := range []string{"validate-all", "start"} {
			code, out := n.agent("web", action, "addresses=10.12.0.1")
			testenv.ExpectExit(t, tc.what+": "+action, code, 5, out, "ocf-exit-reason:", tc.reason)
		}
		if _, err := os.Stat(filepath.Join(pub, "rt")); err == nil {
			t.Errorf("%s: a refused start created %s", tc.what, filepath.Join(pub, "rt"))
		}
		if n.has("lo", "10.12.0.1") {
			t.Errorf("%s: a refused start added 10.12.0.1", tc.what)
		}
		code, out := n.agent("web", "stop", "addresses=10.12.0.1")
		testenv.ExpectExit(t, tc.what+": stop", code, 0, out)
		code, out = n.agent("web", "monitor", "addresses=10.12.0.1")
		testenv.ExpectExit(t, tc.what+": monitor", code, 7, out)
	}
	// The directory made unsafe after a start cannot be told from one
	// a stranger filled (adv3 F1): what it holds decides nothing, and
	// stop says 0 with a warning rather than fence the node.
	n.rsctmp = t.TempDir()
	code, out := n.agent("web", "start", "addresses=10.12.0.2")
	testenv.ExpectExit(t, "start", code, 0, out)
	n.chmod(n.rsctmp, 0o777)
	code, out = n.agent("other", "stop", "addresses=10.12.0.3")
	testenv.ExpectExit(t, "stop of an instance not registered there", code, 0, out, "writable by group and others")
	code, out = n.agent("web", "stop", "addresses=10.12.0.2")
	testenv.ExpectExit(t, "stop of the registered instance", code, 0, out, "writable by group and others")
	n.chmod(n.rsctmp, 0o700)
	code, out = n.agent("web", "stop", "addresses=10.12.0.2")
	testenv.ExpectExit(t, "stop", code, 0, out)
	if n.has("lo", "10.12.0.2") {
		t.Error("10.12.0.2 left after stop")
	}
}

// TestPlantedState (adv3 F1): a state.json that a stranger put in a state
// directory start refuses — listing the instance, or not a file at all —
// proves nothing: probe 7 and stop 0, not 1 (which would fence the node).
func TestPlantedState(t *testing.T) {
	n := newNode(t, nil)
	pub := filepath.Join(t.TempDir(), "pub")
	if err := os.Mkdir(pub, 0o755); err != nil {
		t.Fatal(err)
	}
	n.chmod(pub, 0o777|os.ModeSticky)
	n.rsctmp = pub
	dir := filepath.Join(pub, "ocf-realserver")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.json")
	listing := `{"instances":{"web":{"interface":"lo","addresses":["10.12.1.1"]}}}`
	for _, plant := range []struct {
		what string
		make func() error
	}{
		{"a state listing the instance", func() error { return os.WriteFile(state, []byte(listing), 0o644) }},
		{"a directory", func() error { return os.Mkdir(state, 0o755) }},
		{"a FIFO", func() error { return syscall.Mkfifo(state, 0o644) }},
		{"garbage", func() error { return os.WriteFile(state, []byte("{"), 0o644) }},
	} {
		if err := os.RemoveAll(state); err != nil {
			t.Fatal(err)
		}
		if err := plant.make(); err != nil {
			t.Fatal(err)
		}
		code, out := n.agent("web", "monitor", "addresses=10.12.1.1", "OCF_RESKEY_CRM_meta_interval=0")
		testenv.ExpectExit(t, plant.what+": probe", code, 7, out, "writable by")
		code, out = n.agent("web", "stop", "addresses=10.12.1.1")
		testenv.ExpectExit(t, plant.what+": stop", code, 0, out, "writable by")
	}
}

// TestSymlinkedStateDir (adv3 F5): a state directory that is a symbolic
// link in a directory others can write is refused (5), although it points
// to a safe directory; the target is left alone, and stop and probe say
// stopped.
func TestSymlinkedStateDir(t *testing.T) {
	n := newNode(t, nil)
	victim := t.TempDir()
	victimState := filepath.Join(victim, "state.json")
	if err := os.WriteFile(victimState, []byte(`{"victim":"data"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(t.TempDir(), "pub")
	if err := os.Mkdir(pub, 0o755); err != nil {
		t.Fatal(err)
	}
	n.chmod(pub, 0o777|os.ModeSticky)
	if err := os.Symlink(victim, filepath.Join(pub, "ocf-realserver")); err != nil {
		t.Fatal(err)
	}
	n.rsctmp = pub
	for _, action := range []string{"validate-all", "start"} {
		code, out := n.agent("web", action, "addresses=10.12.2.1")
		testenv.ExpectExit(t, action, code, 5, out, "symbolic link", "writable by")
	}
	if n.has("lo", "10.12.2.1") {
		t.Error("a refused start added 10.12.2.1")
	}
	if b, err := os.ReadFile(victimState); err != nil || string(b) != `{"victim":"data"}` {
		t.Errorf("the link's target was written: %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(victim, "lock")); err == nil {
		t.Error("a lock was created in the link's target")
	}
	code, out := n.agent("web", "monitor", "addresses=10.12.2.1", "OCF_RESKEY_CRM_meta_interval=0")
	testenv.ExpectExit(t, "probe", code, 7, out)
	code, out = n.agent("web", "stop", "addresses=10.12.2.1")
	testenv.ExpectExit(t, "stop", code, 0, out)
}

// TestStopWhileStarting (adv3 F2): a stop of an instance that runs while
// its (large) start is between two chunks leaves the node consistent:
// the VIPs are up and monitor says 0, or they are gone and monitor says
// 7; never up with 7, where no later stop would remove them.
func TestStopWhileStarting(t *testing.T) {
	n := newNode(t, nil)
	var b strings.Builder
	for i := 0; i < realserver.MaxAddresses/256; i++ {
		fmt.Fprintf(&b, "10.16.%d.0/24\n", i)
	}
	big := n.file("big", b.String())
	type result struct {
		code int
		out  string
	}
	done := make(chan result, 1)
	go func() {
		code, out := n.agent("big", "start", "vipaddrs="+big, "OCF_RESKEY_CRM_meta_timeout=20000")
		done <- result{code, out}
	}()
	err := testenv.Poll(20*time.Second, func() error {
		if !n.has("lo", "10.16.0.0") {
			return errors.New("start has added no address yet")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	code, out := n.agent("big", "stop", "OCF_RESKEY_CRM_meta_timeout=20000")
	testenv.ExpectExit(t, "stop while starting", code, 0, out)
	r := <-done
	if r.code != 0 && !strings.Contains(r.out, "stopped while starting") {
		t.Errorf("start failed for another reason: %d %s", r.code, r.out)
	}
	code, out = n.agent("big", "monitor")
	up := n.has("lo", "10.16.0.0") || n.has("lo", "10.16.63.255") || n.has("lo", "10.16.32.7")
	switch {
	case code == 0 && r.code == 0:
	case code == 7 && !up:
	default:
		t.Errorf("after start %d and stop 0: monitor %d (%s), VIPs up: %v", r.code, code, out, up)
	}
	code, out = n.agent("big", "stop", "OCF_RESKEY_CRM_meta_timeout=20000")
	testenv.ExpectExit(t, "stop", code, 0, out)
	if n.has("lo", "10.16.0.0") || n.has("lo", "10.16.63.255") {
		t.Error("addresses left after the last stop")
	}
}

// TestCommandLineIsNoResource: a Pacemaker resource named "cli" is not
// the command line: down leaves its VIPs and status does not report it.
func TestCommandLineIsNoResource(t *testing.T) {
	n := newNode(t, nil)
	code, out := n.agent("cli", "start", "addresses=10.13.0.1")
	testenv.ExpectExit(t, "start of resource cli", code, 0, out)
	code, out = n.cli("status")
	testenv.ExpectExit(t, "status", code, 3, out)
	code, out = n.cli("down", "--addresses", "203.0.113.7")
	testenv.ExpectExit(t, "down", code, 0, out, "--addresses is ignored")
	if !n.has("lo", "10.13.0.1") {
		t.Errorf("down removed the resource's VIP: %s", n.addrs("lo"))
	}
	code, out = n.agent("cli", "monitor")
	testenv.ExpectExit(t, "monitor of resource cli", code, 0, out)
	code, out = n.agent("cli", "stop")
	testenv.ExpectExit(t, "stop of resource cli", code, 0, out)
}

// TestCommandLineFlags: --timeout follows the duration rules and --depth
// has a range; a bad value is a usage error (2) before any state is
// touched. status that cannot read the state (not root) exits 4.
func TestCommandLineFlags(t *testing.T) {
	n := newNode(t, nil)
	vips := n.file("vipaddrs", "10.14.0.1\n")
	code, out := n.cli("status", "--timeout", "5s")
	testenv.ExpectExit(t, "status --timeout 5s", code, 3, out)
	for _, args := range [][]string{
		{"up", "--vipaddrs", vips, "--timeout", "0"},
		{"up", "--vipaddrs", vips, "--timeout", "-5"},
		{"up", "--vipaddrs", vips, "--timeout", "99999999999999"},
		{"up", "--vipaddrs", vips, "--timeout", "fast"},
		{"status", "--depth", "7"},
		{"status", "--depth", "-3"},
	} {
		code, out := n.cli(args...)
		testenv.ExpectExit(t, strings.Join(args, " "), code, 2, out)
		if strings.Contains(strings.Join(args, " "), "timeout") && !strings.Contains(out, "1s to 1h") {
			t.Errorf("%v: the message names no range: %s", args, out)
		}
	}
	if _, err := os.Stat(filepath.Join(n.rsctmp, "ocf-realserver", "state.json")); err == nil {
		t.Error("a refused up touched the state")
	}
	if n.has("lo", "10.14.0.1") {
		t.Error("a refused up added the VIP")
	}
	code, out = n.cli("up", "--vipaddrs", vips, "--timeout", "1m")
	testenv.ExpectExit(t, "up --timeout 1m", code, 0, out)
	// As nobody, who may not read the state.
	bin := filepath.Join(os.Getenv("TMPDIR"), "ocf-realserver-nobody")
	copyFile(t, realserverBin, bin)
	defer os.Remove(bin)
	cmd := n.ns.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "status")
	cmd.Env = append(os.Environ(), "HA_RSCTMP="+n.rsctmp, "HA_LOGFACILITY=none")
	b, err := cmd.CombinedOutput()
	code = 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	if code != 4 {
		t.Errorf("status as nobody: exit %d (%v), want 4\n%s", code, err, b)
	}
	if !strings.Contains(string(b), "permission denied") {
		t.Errorf("status as nobody does not say why: %s", b)
	}
	code, out = n.cli("down")
	testenv.ExpectExit(t, "down", code, 0, out)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreWhenAnyInstanceAsked: the sysctls come back when the last
// instance leaves if any instance asked for restore_sysctls, the last one
// not asking included, and so do those of an interface created while the
// agent ran (it inherited conf/default).
func TestRestoreWhenAnyInstanceAsked(t *testing.T) {
	n := newNode(t, nil)
	before := n.arpSysctls()
	code, out := n.agent("ra", "start", "addresses=10.15.0.1", "restore_sysctls=true")
	testenv.ExpectExit(t, "start ra", code, 0, out)
	n.ns.MustRun(t, "ip", "link", "add", "late0", "type", "veth", "peer", "name", "late1")
	code, out = n.agent("rb", "start", "addresses=10.15.0.2", "restore_sysctls=false")
	testenv.ExpectExit(t, "start rb", code, 0, out)
	n.ns.MustRun(t, "ip", "link", "add", "later0", "type", "veth", "peer", "name", "later1")
	for _, c := range []string{"late0", "late1", "later0"} {
		if v := n.sysctl("net.ipv4.conf." + c + ".arp_ignore"); v != "1" {
			t.Fatalf("%s did not inherit arp_ignore=1 from default: %s", c, v)
		}
	}
	code, out = n.agent("ra", "stop")
	testenv.ExpectExit(t, "stop ra", code, 0, out)
	code, out = n.agent("rb", "stop")
	testenv.ExpectExit(t, "stop rb", code, 0, out)
	if after := n.arpSysctls(); after != before {
		t.Errorf("sysctls after both stopped:\n%s\nbefore:\n%s", after, before)
	}
	for _, c := range []string{"late0", "late1", "later0"} {
		for _, s := range []string{"arp_ignore", "arp_announce"} {
			if v := n.sysctl("net.ipv4.conf." + c + "." + s); v != "0" {
				t.Errorf("%s.%s=%s after stop, want 0", c, s, v)
			}
		}
	}
}

// TestStopWhileALargeStartRuns: a start of the most addresses an
// instance may have holds the node's state lock one chunk at a time, so
// another instance's stop with a short timeout gets it meanwhile; and the
// largest list starts and stops within the default timeouts.
func TestStopWhileALargeStartRuns(t *testing.T) {
	n := newNode(t, nil)
	var b strings.Builder
	for i := 0; i < realserver.MaxAddresses/256; i++ {
		fmt.Fprintf(&b, "10.16.%d.0/24\n", i)
	}
	big := n.file("big", b.String())
	code, out := n.agent("small", "start", "addresses=10.17.0.1")
	testenv.ExpectExit(t, "start small", code, 0, out)
	done := make(chan struct{})
	go func() {
		defer close(done)
		code, out := n.agent("big", "start", "vipaddrs="+big, "OCF_RESKEY_CRM_meta_timeout=20000")
		testenv.ExpectExit(t, "start big", code, 0, out, fmt.Sprintf("added %d of %d", realserver.MaxAddresses, realserver.MaxAddresses))
	}()
	// Once big has begun adding, small's stop must not wait for all of it.
	err := testenv.Poll(20*time.Second, func() error {
		if !n.has("lo", "10.16.0.0") {
			return errors.New("big has added no address yet")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	code, out = n.agent("small", "stop", "OCF_RESKEY_CRM_meta_timeout=1500")
	testenv.ExpectExit(t, "stop small while big starts", code, 0, out)
	<-done
	code, out = n.agent("big", "monitor")
	testenv.ExpectExit(t, "monitor big", code, 0, out)
	code, out = n.agent("big", "stop", "OCF_RESKEY_CRM_meta_timeout=20000")
	testenv.ExpectExit(t, "stop big", code, 0, out)
	if n.has("lo", "10.16.0.0") || n.has("lo", "10.16.63.255") || n.has("lo", "10.17.0.1") {
		t.Errorf("addresses left after stop")
	}
}
