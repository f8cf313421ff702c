package realserver_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestRefusals: input the agent refuses, with its code and reason.
func TestRefusals(t *testing.T) {
	n := newNode(t, nil)
	n.ns.MustRun(t, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	n.ns.MustRun(t, "ip", "link", "set", "eth0", "arp", "off") // as a dummy is
	n.ns.MustRun(t, "ip", "link", "add", "arp0", "type", "veth", "peer", "name", "arp1")
	for _, tc := range []struct {
		what   string
		params []string
		code   int
		reason string
	}{
		{"a /23", []string{"vipaddrs=" + n.file("v23", "10.0.0.1\n# big\n10.0.2.0/23\n")}, 6,
			"line 3: bad vipaddrs entry: \"10.0.2.0/23\": subnets are /24 or longer"},
		{"a host name", []string{"vipaddrs=" + n.file("vname", "www.example.com\n")}, 6, "line 1: bad vipaddrs entry: \"www.example.com\" is not an IP address"},
		{"trailing junk", []string{"vipaddrs=" + n.file("vjunk", "10.0.0.1 10.0.0.2\n")}, 6, "line 1:"},
		{"a /119 inline", []string{"addresses=fd00::/119"}, 6, "addresses: bad vipaddrs entry: \"fd00::/119\""},
		{"a missing file", []string{"vipaddrs=/nonexistent/vipaddrs"}, 5, "vipaddrs file /nonexistent/vipaddrs: "},
		{"the default file missing and no addresses", nil, 5, "vipaddrs file /etc/sysconfig/vipaddrs"},
		{"an empty file", []string{"vipaddrs=" + n.file("vempty", "# nothing\n")}, 6, "no addresses"},
		{"a file others can write", []string{"vipaddrs=" + n.chmod(n.file("vperm", "10.0.0.1\n"), 0o666)}, 5, "writable by group and others"},
		{"a FIFO", []string{"vipaddrs=" + n.fifo("vfifo")}, 5, "not a regular file"},
		{"a file too large", []string{"vipaddrs=" + n.file("vbig", strings.Repeat("# padding\n", 110000))}, 5, "file too large"},
		{"an interface that answers ARP", []string{"addresses=10.0.0.1", "interface=arp0"}, 6, "interface arp0 answers ARP"},
		{"no such interface", []string{"addresses=10.0.0.1", "interface=nope0"}, 5, "interface nope0: no such interface"},
		{"IPv6 on an interface without IPv6", []string{"addresses=fd00::1", "interface=eth0"}, 5, "fd00::1 is IPv6 and IPv6 is disabled on eth0"},
		{"no such arp interface", []string{"addresses=10.0.0.1", "arp_interfaces=lo,nope0"}, 5, "net.ipv4.conf.nope0.arp_ignore"},
		{"a path as arp interface", []string{"addresses=10.0.0.1", "arp_interfaces=../../x"}, 6, "is not an interface name"},
		{"restore_sysctls not a boolean", []string{"addresses=10.0.0.1", "restore_sysctls=maybe"}, 6, "not a boolean"},
	} {
		if _, err := os.Stat("/etc/sysconfig/vipaddrs"); err == nil && tc.params == nil {
			continue // this host has the default file
		}
		if tc.what == "IPv6 on an interface without IPv6" {
			n.setSysctl("net.ipv6.conf.eth0.disable_ipv6=1")
		}
		for _, action := range []string{"validate-all", "start"} {
			code, out := n.agent("bad", action, tc.params...)
			testenv.ExpectExit(t, tc.what+": "+action, code, tc.code, out, "ocf-exit-reason:", tc.reason)
		}
	}
	if got := n.addrs("lo"); strings.Contains(got, "10.0.0.1") {
		t.Errorf("a refused start changed lo: %s", got)
	}
	if v := n.sysctl("net.ipv4.conf.all.arp_ignore"); v != "0" {
		t.Errorf("a refused start set arp_ignore=%s", v)
	}
	// A refused start leaves nothing registered to stop.
	code, out := n.agent("bad", "monitor", "addresses=10.0.0.1")
	testenv.ExpectExit(t, "monitor after refusals", code, 7, out)
}

func (n *node) chmod(path string, mode os.FileMode) string {
	n.t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		n.t.Fatal(err)
	}
	return path
}

func (n *node) fifo(name string) string {
	n.t.Helper()
	path := n.t.TempDir() + "/" + name
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		n.t.Fatal(err)
	}
	return path
}

// TestOverlappingInstances: two instances with overlapping sets, and an
// address the administrator configured: nobody's address is removed while
// another needs it, and the sysctls come back only when the last leaves.
func TestOverlappingInstances(t *testing.T) {
	n := newNode(t, nil)
	n.ns.MustRun(t, "ip", "addr", "add", "10.7.0.9/32", "dev", "lo") // the administrator's
	before := n.arpSysctls()
	a := []string{"addresses=10.7.0.1,10.7.0.2,10.7.0.9"}
	b := []string{"addresses=10.7.0.2 10.7.0.3 10.7.0.9"}
	code, out := n.agent("a", "start", a...)
	testenv.ExpectExit(t, "start a", code, 0, out, "added 2 of 3")
	code, out = n.agent("b", "start", b...)
	testenv.ExpectExit(t, "start b", code, 0, out, "added 1 of 3")
	for _, addr := range []string{"10.7.0.1", "10.7.0.2", "10.7.0.3", "10.7.0.9"} {
		if !n.has("lo", addr) {
			t.Errorf("%s missing after both started", addr)
		}
	}
	// b leaves: its own 10.7.0.3 goes; 10.7.0.2 (a's) and 10.7.0.9 stay;
	// a still needs the sysctls.
	code, out = n.agent("b", "stop", b...)
	testenv.ExpectExit(t, "stop b", code, 0, out)
	if n.has("lo", "10.7.0.3") || !n.has("lo", "10.7.0.2") || !n.has("lo", "10.7.0.9") {
		t.Errorf("after b stopped: %s", n.addrs("lo"))
	}
	if v := n.sysctl("net.ipv4.conf.all.arp_ignore"); v != "1" {
		t.Errorf("arp_ignore=%s while a runs", v)
	}
	code, out = n.agent("a", "monitor", a...)
	testenv.ExpectExit(t, "monitor a", code, 0, out)

	// The other order: a leaves first, b keeps what it shares.
	code, out = n.agent("b", "start", b...)
	testenv.ExpectExit(t, "start b again", code, 0, out)
	code, out = n.agent("a", "stop", a...)
	testenv.ExpectExit(t, "stop a", code, 0, out)
	if n.has("lo", "10.7.0.1") || !n.has("lo", "10.7.0.2") || !n.has("lo", "10.7.0.3") {
		t.Errorf("after a stopped: %s", n.addrs("lo"))
	}
	code, out = n.agent("b", "monitor", b...)
	testenv.ExpectExit(t, "monitor b", code, 0, out)
	code, out = n.agent("b", "stop", b...)
	testenv.ExpectExit(t, "stop b", code, 0, out)
	if n.has("lo", "10.7.0.2") || n.has("lo", "10.7.0.3") || !n.has("lo", "10.7.0.9") {
		t.Errorf("after both stopped (10.7.0.9 is the administrator's): %s", n.addrs("lo"))
	}
	if after := n.arpSysctls(); after != before {
		t.Errorf("sysctls after both stopped:\n%s\nbefore:\n%s", after, before)
	}
}

// TestDrift: what changes behind the agent's back.
func TestDrift(t *testing.T) {
	n := newNode(t, nil)
	vips := n.file("vipaddrs", "10.8.0.0/30\nfd00:8::/127\n")
	code, out := n.agent("web", "start", "vipaddrs="+vips)
	testenv.ExpectExit(t, "start", code, 0, out, "added 6 of 6")

	n.setSysctl("net.ipv4.conf.lo.arp_announce=1")
	code, out = n.agent("web", "monitor", "vipaddrs="+vips)
	testenv.ExpectExit(t, "sysctl changed", code, 1, out, "ocf-exit-reason:net.ipv4.conf.lo.arp_announce is 1, want 2")
	n.setSysctl("net.ipv4.conf.lo.arp_announce=2")

	n.ns.MustRun(t, "ip", "addr", "del", "10.8.0.2/32", "dev", "lo")
	code, out = n.agent("web", "monitor", "vipaddrs="+vips)
	testenv.ExpectExit(t, "address removed", code, 1, out, "ocf-exit-reason:address 10.8.0.2 is missing from lo")
	n.ns.MustRun(t, "ip", "addr", "del", "fd00:8::1/128", "dev", "lo")
	code, out = n.agent("web", "monitor", "vipaddrs="+vips)
	testenv.ExpectExit(t, "two addresses removed", code, 1, out, "ocf-exit-reason:address 10.8.0.2 and 1 more are missing from lo")
	for _, a := range []string{"10.8.0.0/32", "10.8.0.1/32", "10.8.0.3/32", "fd00:8::/128"} {
		n.ns.MustRun(t, "ip", "addr", "del", a, "dev", "lo")
	}
	code, out = n.agent("web", "monitor", "vipaddrs="+vips, "OCF_RESKEY_CRM_meta_interval=10000")
	testenv.ExpectExit(t, "every address removed", code, 7, out, "ocf-exit-reason:none of the 6 addresses is on lo")

	n.ns.MustRun(t, "ip", "link", "set", "lo", "down")
	code, out = n.agent("web", "start", "vipaddrs="+vips)
	testenv.ExpectExit(t, "start with lo down", code, 1, out, "ocf-exit-reason:interface lo is down")
	if got := n.addrs("lo"); strings.Contains(got, "10.8.0.1") {
		t.Errorf("start with lo down changed it: %s", got)
	}
	n.ns.MustRun(t, "ip", "link", "set", "lo", "up")
	code, out = n.agent("web", "start", "vipaddrs="+vips)
	testenv.ExpectExit(t, "start repairs", code, 0, out, "added 6 of 6")

	// Someone sets arp_ignore=2 (as good) and later all.arp_announce to
	// 1 after we set it: stop leaves their value.
	n.setSysctl("net.ipv4.conf.all.arp_announce=1")
	// The file gone, stop still undoes what start registered.
	if err := os.Remove(vips); err != nil {
		t.Fatal(err)
	}
	code, out = n.agent("web", "stop", "vipaddrs="+vips)
	testenv.ExpectExit(t, "stop without the file", code, 0, out)
	if n.has("lo", "10.8.0.1") || n.has("lo", "fd00:8::1") {
		t.Errorf("stop left addresses: %s", n.addrs("lo"))
	}
	if v := n.sysctl("net.ipv4.conf.all.arp_announce"); v != "1" {
		t.Errorf("stop overwrote a value changed since start: arp_announce=%s", v)
	}
	if v := n.sysctl("net.ipv4.conf.all.arp_ignore"); v != "0" {
		t.Errorf("arp_ignore=%s after stop, want 0", v)
	}
}

// TestStopBoundedByTimeout: a stop that cannot get the state lock fails
// within the operation's timeout instead of hanging.
func TestStopBoundedByTimeout(t *testing.T) {
	n := newNode(t, nil)
	code, out := n.agent("web", "start", "addresses=10.9.0.1")
	testenv.ExpectExit(t, "start", code, 0, out)
	f, err := os.OpenFile(n.rsctmp+"/ocf-realserver/lock", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, out = n.agent("web", "stop", "OCF_RESKEY_CRM_meta_timeout=2000")
	testenv.ExpectExit(t, "stop with the lock held", code, 1, out, "waiting for the state lock")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stop took %v, beyond its 2 s timeout", d)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	code, out = n.agent("web", "stop")
	testenv.ExpectExit(t, "stop", code, 0, out)
	if n.has("lo", "10.9.0.1") {
		t.Error("10.9.0.1 left after stop")
	}
}

// TestCommandLine: up, down and status without Pacemaker, sharing the
// node's state with the OCF instances.
func TestCommandLine(t *testing.T) {
	n := newNode(t, nil)
	vips := n.file("vipaddrs", "10.10.0.0/31\n")
	code, out := n.cli("status", "--vipaddrs", vips)
	testenv.ExpectExit(t, "status before up", code, 3, out)
	code, out = n.cli("up", "--vipaddrs", vips)
	testenv.ExpectExit(t, "up", code, 0, out)
	code, out = n.cli("status", "--vipaddrs", vips)
	testenv.ExpectExit(t, "status", code, 0, out, "up")
	n.setSysctl("net.ipv4.conf.default.arp_ignore=0")
	code, out = n.cli("status")
	testenv.ExpectExit(t, "status drifted", code, 1, out, "net.ipv4.conf.default.arp_ignore is 0, want 1")
	code, out = n.cli("up", "--vipaddrs", vips)
	testenv.ExpectExit(t, "up again", code, 0, out)
	code, out = n.cli("status", "--depth", "10")
	testenv.ExpectExit(t, "status depth 10", code, 0, out)
	// An OCF instance of the same addresses: down keeps them.
	code, out = n.agent("web", "start", "addresses=10.10.0.1")
	testenv.ExpectExit(t, "ocf start", code, 0, out)
	code, out = n.cli("down")
	testenv.ExpectExit(t, "down", code, 0, out)
	if n.has("lo", "10.10.0.0") || !n.has("lo", "10.10.0.1") {
		t.Errorf("after down: %s", n.addrs("lo"))
	}
	code, out = n.cli("down")
	testenv.ExpectExit(t, "down again", code, 0, out)
	code, out = n.cli("status")
	testenv.ExpectExit(t, "status after down", code, 3, out)
	code, out = n.agent("web", "stop")
	testenv.ExpectExit(t, "ocf stop", code, 0, out)
	if n.has("lo", "10.10.0.1") {
		t.Errorf("after the OCF instance stopped too: %s", n.addrs("lo"))
	}
	// up again after the file changed (the unit's reload) applies the
	// difference.
	if err := os.WriteFile(vips, []byte("10.10.0.1\n10.10.0.2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = n.cli("up", "--vipaddrs", vips)
	testenv.ExpectExit(t, "up, 10.10.0.0/31", code, 0, out)
	if err := os.WriteFile(vips, []byte("10.10.0.2\n10.10.0.3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = n.cli("up", "--vipaddrs", vips)
	testenv.ExpectExit(t, "up after the file changed", code, 0, out, "added 1 of 2")
	if n.has("lo", "10.10.0.1") || !n.has("lo", "10.10.0.2") || !n.has("lo", "10.10.0.3") {
		t.Errorf("after reload: %s", n.addrs("lo"))
	}
	code, out = n.cli("down")
	testenv.ExpectExit(t, "down after reload", code, 0, out)
	if n.has("lo", "10.10.0.2") || n.has("lo", "10.10.0.3") {
		t.Errorf("after down: %s", n.addrs("lo"))
	}
	code, out = n.cli("up", "--vipaddrs", n.file("bad", "10.0.0.0/16\n"))
	testenv.ExpectExit(t, "up with a /16", code, 6, out, "line 1:")
	code, out = n.cli("status", "extra")
	testenv.ExpectExit(t, "status with an argument", code, 2, out)
}

// TestConcurrentInstances starts and stops instances with overlapping
// address sets all at once: the state lock serialises them, every address
// is there while any instance lists it, and nothing is left at the end.
func TestConcurrentInstances(t *testing.T) {
	n := newNode(t, nil)
	before := n.arpSysctls()
	const k = 6
	params := func(i int) []string {
		return []string{fmt.Sprintf("addresses=10.11.0.%d,10.11.0.%d,10.11.1.0/30", i, i+1)}
	}
	all := func(action string) {
		var wg sync.WaitGroup
		codes := make([]int, k)
		for i := 0; i < k; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				codes[i], _ = n.agent(fmt.Sprintf("i%d", i), action, params(i)...)
			}(i)
		}
		wg.Wait()
		for i, c := range codes {
			if c != 0 {
				t.Errorf("%s of instance %d: exit %d", action, i, c)
			}
		}
	}
	all("start")
	for i := 0; i <= k; i++ {
		if !n.has("lo", fmt.Sprintf("10.11.0.%d", i)) {
			t.Errorf("10.11.0.%d missing after every start: %s", i, n.addrs("lo"))
		}
	}
	all("monitor")
	all("stop")
	if got := n.addrs("lo"); strings.Contains(got, "10.11.") {
		t.Errorf("addresses left after every stop: %s", got)
	}
	if after := n.arpSysctls(); after != before {
		t.Errorf("sysctls after every stop:\n%s\nbefore:\n%s", after, before)
	}
}

// TestSmallBinary: ocf-realserver imports no userspace TCP/IP stack and
// stays small.
func TestSmallBinary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/ocfkit/ocfkit/cmd/ocf-realserver").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "gvisor.dev") {
		t.Error("ocf-realserver imports gVisor")
	}
	if realserverBin == "" {
		t.Skip("the binary is built as root only")
	}
	fi, err := os.Stat(realserverBin)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 7<<20 {
		t.Errorf("ocf-realserver is %d bytes stripped, over 7 MiB", fi.Size())
	}
	t.Logf("ocf-realserver: %.2f MiB stripped", float64(fi.Size())/(1<<20))
}
