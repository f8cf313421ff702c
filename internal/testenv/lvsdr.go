//go:build linux

package testenv

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// LVSDR is an LVS direct-routing segment built for one test: a bridge in a
// switch namespace and, on it, a client, a master balancer holding the VIP
// on eth0, a backup balancer without it, and two real servers with the VIP
// as /32 on lo, arp_ignore=1 and arp_announce=2 (on all and eth0), each
// running a TCP listener on the VIP port. Every interface is eth0 in its
// namespace. Addresses are 10.206.0.0/24: client .100, master .10, backup
// .11, real servers .21 and .22, VIP .80; and the same host numbers in
// fd00:206::/64 (VIP6 fd00:206::80), without duplicate address detection.
type LVSDR struct {
	Switch, Client, Master, Backup *NS
	RS                             [2]*NS
	RSAddr, RSAddr6                [2]string
	VIP, VIP6                      string
	Port                           int
	listeners                      [2]*exec.Cmd
	t                              testing.TB
	bridgePorts                    int
}

// lvsdrListener accepts TCP connections on [::]:PORT (IPv4 too) and closes
// them.
const lvsdrListener = `import socket, sys
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.listen(1024)
while True:
    c, _ = s.accept()
    c.close()
`

// NewLVSDR builds the segment with namespaces named PREFIX<role>-<random>;
// everything is removed when the test ends.
func NewLVSDR(t testing.TB, prefix string) *LVSDR {
	t.Helper()
	RequireRoot(t)
	RequireCommand(t, "ip")
	RequireCommand(t, "ss")
	RequireCommand(t, "sysctl")
	l := &LVSDR{t: t, VIP: "10.206.0.80", VIP6: "fd00:206::80", Port: 80,
		RSAddr: [2]string{"10.206.0.21", "10.206.0.22"}, RSAddr6: [2]string{"fd00:206::21", "fd00:206::22"}}
	l.Switch = NewNS(t, prefix+"sw")
	l.Switch.MustRun(t, "ip", "link", "add", "br0", "type", "bridge")
	l.Switch.MustRun(t, "ip", "link", "set", "br0", "up")
	l.Client = l.attach(prefix+"cl", "100")
	l.Master = l.attach(prefix+"lm", "10")
	l.Master.MustRun(t, "ip", "addr", "add", l.VIP+"/24", "dev", "eth0")
	l.Master.MustRun(t, "ip", "addr", "add", l.VIP6+"/64", "dev", "eth0", "nodad")
	l.Backup = l.attach(prefix+"lb", "11")
	for i := range l.RS {
		l.RS[i] = l.attach(fmt.Sprintf("%sr%d", prefix, i+1), fmt.Sprint(21+i))
		l.RS[i].MustRun(t, "ip", "addr", "add", l.VIP+"/32", "dev", "lo")
		l.RS[i].MustRun(t, "ip", "addr", "add", l.VIP6+"/128", "dev", "lo", "nodad")
		l.SetARPIgnore(i, 1)
		l.StartListener(i)
	}
	return l
}

// attach creates a namespace with eth0 on the bridge, host number host in
// both address families.
func (l *LVSDR) attach(name, host string) *NS {
	l.t.Helper()
	ns := NewNS(l.t, name)
	l.bridgePorts++
	port := fmt.Sprintf("p%d", l.bridgePorts)
	Veth(l.t, l.Switch, port, "", ns, "eth0", "10.206.0."+host+"/24")
	ns.MustRun(l.t, "ip", "addr", "add", "fd00:206::"+host+"/64", "dev", "eth0", "nodad")
	l.Switch.MustRun(l.t, "ip", "link", "set", port, "master", "br0")
	return ns
}

// SetARPIgnore sets arp_ignore on real server i (all and eth0) and
// arp_announce=2; 1 is the correct LVS-DR setting, 0 makes it answer ARP
// for the VIP.
func (l *LVSDR) SetARPIgnore(i, v int) {
	l.t.Helper()
	l.RS[i].SetARPIgnore(l.t, v)
}

// SetARPIgnore sets arp_ignore to v and arp_announce to 2 on all
// interfaces and eth0 of a real server's namespace: 1 is the LVS-DR
// setting (no ARP answers for the VIP on lo), 0 the kernel's default.
func (ns *NS) SetARPIgnore(t testing.TB, v int) {
	t.Helper()
	for _, c := range []string{"all", "eth0"} {
		ns.MustRun(t, "sysctl", "-qw",
			fmt.Sprintf("net.ipv4.conf.%s.arp_ignore=%d", c, v),
			fmt.Sprintf("net.ipv4.conf.%s.arp_announce=2", c))
	}
}

// StartListener starts the TCP listener on real server i and waits until
// it listens.
func (l *LVSDR) StartListener(i int) {
	l.t.Helper()
	py := Python3(l.t)
	l.listeners[i] = l.RS[i].Start(l.t, py, "-c", lvsdrListener, fmt.Sprint(l.Port))
	WaitFor(l.t, 10*time.Second, "listener on "+l.RS[i].Name, func() error {
		if !l.listening(i) {
			return fmt.Errorf("nothing listens on port %d", l.Port)
		}
		return nil
	})
}

// StopListener ends the listener on real server i and waits until the port
// is closed.
func (l *LVSDR) StopListener(i int) {
	l.t.Helper()
	Kill(l.listeners[i])
	WaitFor(l.t, 5*time.Second, "listener gone on "+l.RS[i].Name, func() error {
		if l.listening(i) {
			return fmt.Errorf("port %d still listening", l.Port)
		}
		return nil
	})
}

func (l *LVSDR) listening(i int) bool {
	out, _ := l.RS[i].Command("ss", "-Hltn", fmt.Sprintf("sport = :%d", l.Port)).Output()
	return strings.TrimSpace(string(out)) != ""
}

// HalfOpen returns the SYN-RECV entries on real server i (empty when the
// probes left nothing behind).
func (l *LVSDR) HalfOpen(i int) string {
	out, _ := l.RS[i].Command("ss", "-Htn", "state", "syn-recv").Output()
	return strings.TrimSpace(string(out))
}

// MAC returns the hardware address of eth0 in ns.
func (l *LVSDR) MAC(ns *NS) net.HardwareAddr {
	l.t.Helper()
	var mac net.HardwareAddr
	if err := ns.Within(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr
		return nil
	}); err != nil {
		l.t.Fatal(err)
	}
	return mac
}

// ManySource is the master's address on the wider 10.206.0.0/16 prefix
// that AddRealServerAddresses puts the extra real-server addresses in; a
// probe of those addresses comes from it.
const ManySource = "10.206.9.10"

// AddRealServerAddresses gives each real server perRS more addresses on
// eth0 (10.206.10+i.1 to .250, then 10.206.12+i.1 and so on, /16) and the
// master ManySource, so one check can cover thousands of real servers; it
// returns the addresses, real server 1's first.
func (l *LVSDR) AddRealServerAddresses(perRS int) []string {
	l.t.Helper()
	var all []string
	for i := range l.RS {
		var batch strings.Builder
		for j := 0; j < perRS; j++ {
			a := fmt.Sprintf("10.206.%d.%d", 10+i+len(l.RS)*(j/250), j%250+1)
			fmt.Fprintf(&batch, "addr add %s/16 dev eth0\n", a)
			all = append(all, a)
		}
		cmd := l.RS[i].Command("ip", "-batch", "-")
		cmd.Stdin = strings.NewReader(batch.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			l.t.Fatalf("adding real-server addresses: %v: %s", err, out)
		}
	}
	l.Master.MustRun(l.t, "ip", "addr", "add", ManySource+"/16", "dev", "eth0")
	return all
}

// Loss drops pct percent of the TCP segments to and from port on every
// real server, at random and each way (an nftables table; the balancer's
// packet socket taps frames before any netfilter hook of its own). GSO is
// off the real servers' eth0 meanwhile, so loss hits single segments as on
// a wire, not 64 KiB bursts on veth. Both end with t.
func (l *LVSDR) Loss(t testing.TB, port, pct int) {
	t.Helper()
	RequireCommand(t, "nft")
	for _, rs := range l.RS {
		rs.MustRun(t, "nft", fmt.Sprintf("add table inet testloss; "+
			"add chain inet testloss in { type filter hook input priority 0; }; "+
			"add chain inet testloss out { type filter hook output priority 0; }; "+
			"add rule inet testloss in tcp dport %[1]d numgen random mod 100 < %[2]d drop; "+
			"add rule inet testloss out tcp sport %[1]d numgen random mod 100 < %[2]d drop", port, pct))
		t.Cleanup(func() { rs.MustRun(t, "nft", "delete", "table", "inet", "testloss") })
		rs.MustRun(t, "ip", "link", "set", "dev", "eth0", "gso_max_size", "1500")
		t.Cleanup(func() { rs.MustRun(t, "ip", "link", "set", "dev", "eth0", "gso_max_size", "65536") })
	}
}

// rstTables numbers RSTCounter's tables.
var rstTables atomic.Int32

// RSTCounter counts the TCP segments with RST set that pass hook (input or
// output) in ns and match match, an nftables match such as
// "ip saddr 10.206.0.11" (or nothing); count returns how many did so far.
// The table ends with t.
func (l *LVSDR) RSTCounter(t testing.TB, ns *NS, hook, match string) (count func() int) {
	t.Helper()
	RequireCommand(t, "nft")
	table := fmt.Sprintf("testrst%d", rstTables.Add(1))
	ns.MustRun(t, "nft", fmt.Sprintf("add table inet %[1]s; "+
		"add chain inet %[1]s c { type filter hook %[2]s priority -10; }; "+
		"add rule inet %[1]s c %[3]s tcp flags & rst != 0 counter", table, hook, match))
	t.Cleanup(func() { ns.MustRun(t, "nft", "delete", "table", "inet", table) })
	return func() int {
		out := ns.MustRun(t, "nft", "list", "table", "inet", table)
		k := strings.Index(out, "packets ")
		var n int
		if k < 0 {
			t.Fatalf("no counter in the listing of %s in %s:\n%s", table, ns.Name, out)
		}
		if _, err := fmt.Sscanf(out[k:], "packets %d", &n); err != nil {
			t.Fatalf("reading the counter of %s in %s: %v\n%s", table, ns.Name, err, out)
		}
		return n
	}
}
