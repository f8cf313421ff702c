package realserver_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// director makes the master balancer of l an LVS-DR director for real
// server 0: what reaches the VIP's port 80 from the wire is sent on to the
// real server's MAC, unchanged above Ethernet (nftables on the ingress
// hook: ether addresses rewritten, forwarded out of eth0). The director
// keeps the VIP on eth0, so it alone answers ARP for it, as in LVS-DR.
func director(t *testing.T, l *testenv.LVSDR) {
	t.Helper()
	testenv.RequireCommand(t, "nft")
	lm, rs := l.MAC(l.Master), l.MAC(l.RS[0])
	rules := fmt.Sprintf(`table netdev lvsdr {
  chain in {
    type filter hook ingress device eth0 priority 0;
    ether daddr %[1]s ip daddr %[3]s tcp dport 80 ether saddr set %[1]s ether daddr set %[2]s fwd to eth0
    ether daddr %[1]s ip6 daddr %[4]s tcp dport 80 ether saddr set %[1]s ether daddr set %[2]s fwd to eth0
  }
}
`, lm, rs, l.VIP, l.VIP6)
	cmd := l.Master.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
}

// connects reports whether the client completes a TCP connection to
// addr port 80 within a second.
func connects(t *testing.T, l *testenv.LVSDR, addr string) bool {
	t.Helper()
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	script := fmt.Sprintf("import socket; socket.create_connection((%q, 80), timeout=1).close()", strings.Trim(addr, "[]"))
	err := l.Client.Command(testenv.Python3(t), "-c", script).Run()
	return err == nil
}

// vipcheck runs ocf-vipcheck in ns and returns its exit status and output.
func vipcheck(t *testing.T, ns *testenv.NS, args ...string) (int, string) {
	t.Helper()
	out, err := ns.Command(vipcheckBin, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("ocf-vipcheck %s -> %d\n%s", strings.Join(args, " "), code, out)
	return code, string(out)
}

// TestLVSDR proves the agent on a real LVS-DR segment: a client reaches
// the VIP through a director that forwards by MAC to a real server whose
// VIP and sysctls only the agent sets up.
func TestLVSDR(t *testing.T) {
	l := testenv.NewLVSDR(t, "rsl")
	director(t, l)
	n := newNode(t, l.RS[0])
	// Real server 0 as a fresh host: no VIP, the kernel's sysctls (and one
	// odd value, to see it restored exactly).
	n.ns.MustRun(t, "ip", "addr", "del", l.VIP+"/32", "dev", "lo")
	n.ns.MustRun(t, "ip", "addr", "del", l.VIP6+"/128", "dev", "lo")
	n.setSysctl("net.ipv4.conf.all.arp_ignore=0", "net.ipv4.conf.all.arp_announce=0",
		"net.ipv4.conf.eth0.arp_ignore=0", "net.ipv4.conf.eth0.arp_announce=1")
	before := n.arpSysctls()
	rs := l.RSAddr[0]
	vips := n.file("vipaddrs", "# the web VIPs\n"+l.VIP+"\n"+l.VIP6+"\n")

	if connects(t, l, l.VIP) || connects(t, l, l.VIP6) {
		t.Fatal("the client reaches the VIP before the agent started")
	}
	code, out := vipcheck(t, l.Master, "tcp", "eth0", rs, l.VIP, "80")
	testenv.ExpectExit(t, "vipcheck before start", code, 1, out)
	code, out = n.agent("web", "monitor", "vipaddrs="+vips)
	testenv.ExpectExit(t, "probe before start", code, 7, out)

	code, out = n.agent("web", "start", "vipaddrs="+vips)
	testenv.ExpectExit(t, "start", code, 0, out)
	if !connects(t, l, l.VIP) || !connects(t, l, l.VIP6) {
		t.Error("the client does not reach the VIP after start")
	}
	code, out = vipcheck(t, l.Master, "tcp", "eth0", rs, l.VIP, "80")
	testenv.ExpectExit(t, "vipcheck after start", code, 0, out, rs+" up")
	code, out = vipcheck(t, l.Master, "tcp", "eth0", l.RSAddr6[0], l.VIP6, "80")
	testenv.ExpectExit(t, "vipcheck IPv6 after start", code, 0, out, " up")
	code, out = vipcheck(t, l.Master, "arp-leak", "eth0", l.VIP)
	testenv.ExpectExit(t, "arp-leak from the director", code, 0, out)
	// Asked from the client, only the director answers for the VIP.
	code, out = vipcheck(t, l.Client, "arp-leak", "--allow", l.MAC(l.Master).String(), "eth0", l.VIP)
	testenv.ExpectExit(t, "who has the VIP, from the client", code, 0, out)
	code, out = n.agent("web", "monitor", "vipaddrs="+vips, "OCF_CHECK_LEVEL=10")
	testenv.ExpectExit(t, "monitor depth 10", code, 0, out)
	if v6 := n.ns.MustRun(t, "ip", "-6", "addr", "show", "dev", "lo"); !strings.Contains(v6, "nodad") || !strings.Contains(v6, "noprefixroute") {
		t.Errorf("IPv6 VIP without nodad noprefixroute:\n%s", v6)
	}

	// A leak made behind the agent's back: the wire shows it, and so do
	// monitor (the sysctl) and depth 10 (the interface that answers).
	n.setSysctl("net.ipv4.conf.all.arp_ignore=0", "net.ipv4.conf.eth0.arp_ignore=0")
	code, out = vipcheck(t, l.Client, "arp-leak", "--allow", l.MAC(l.Master).String(), "eth0", l.VIP)
	testenv.ExpectExit(t, "who has the VIP, leaking", code, 1, out, strings.ToLower(l.MAC(l.RS[0]).String()))
	code, out = n.agent("web", "monitor", "vipaddrs="+vips)
	testenv.ExpectExit(t, "monitor, leaking", code, 1, out, "net.ipv4.conf.all.arp_ignore is 0, want 1")
	n.setSysctl("net.ipv4.conf.all.arp_ignore=1")
	code, out = n.agent("web", "monitor", "vipaddrs="+vips, "OCF_CHECK_LEVEL=10")
	testenv.ExpectExit(t, "monitor depth 10, leaking", code, 1, out, "net.ipv4.conf.eth0.arp_ignore is 0, want 1")
	// Start repairs the drift (and is idempotent).
	code, out = n.agent("web", "start", "vipaddrs="+vips)
	testenv.ExpectExit(t, "start again", code, 0, out)
	code, out = vipcheck(t, l.Client, "arp-leak", "--allow", l.MAC(l.Master).String(), "eth0", l.VIP)
	testenv.ExpectExit(t, "who has the VIP, repaired", code, 0, out)

	code, out = n.agent("web", "stop", "vipaddrs="+vips)
	testenv.ExpectExit(t, "stop", code, 0, out)
	if after := n.arpSysctls(); after != before {
		t.Errorf("sysctls after stop:\n%s\nbefore start:\n%s", after, before)
	}
	if n.has("lo", l.VIP) || n.has("lo", l.VIP6) {
		t.Errorf("VIP left on lo after stop: %s", n.addrs("lo"))
	}
	if connects(t, l, l.VIP) {
		t.Error("the client reaches the VIP after stop")
	}
	code, out = vipcheck(t, l.Master, "tcp", "eth0", rs, l.VIP, "80")
	testenv.ExpectExit(t, "vipcheck after stop", code, 1, out)
	code, out = n.agent("web", "stop", "vipaddrs="+vips)
	testenv.ExpectExit(t, "stop again", code, 0, out)
	code, out = n.agent("web", "monitor", "vipaddrs="+vips)
	testenv.ExpectExit(t, "monitor after stop", code, 7, out)
}

// TestDepth10FindsVIPOnAnARPInterface shows depth 10 catching a VIP that
// someone also put on an interface that answers ARP, which depth 0 cannot
// see; the wire agrees.
func TestDepth10FindsVIPOnAnARPInterface(t *testing.T) {
	l := testenv.NewLVSDR(t, "rsx")
	n := newNode(t, l.RS[0])
	n.ns.MustRun(t, "ip", "addr", "del", l.VIP+"/32", "dev", "lo")
	code, out := n.agent("web", "start", "addresses="+l.VIP)
	testenv.ExpectExit(t, "start", code, 0, out)
	n.ns.MustRun(t, "ip", "addr", "add", l.VIP+"/32", "dev", "eth0")
	code, out = n.agent("web", "monitor", "addresses="+l.VIP)
	testenv.ExpectExit(t, "monitor depth 0", code, 0, out)
	code, out = n.agent("web", "monitor", "addresses="+l.VIP, "OCF_CHECK_LEVEL=10")
	testenv.ExpectExit(t, "monitor depth 10", code, 1, out, "eth0 holds VIP "+l.VIP+" and answers for it")
	code, out = vipcheck(t, l.Client, "arp-leak", "--allow", l.MAC(l.Master).String(), "eth0", l.VIP)
	testenv.ExpectExit(t, "who has the VIP", code, 1, out, strings.ToLower(l.MAC(l.RS[0]).String()))
	n.ns.MustRun(t, "ip", "addr", "del", l.VIP+"/32", "dev", "eth0")
	code, out = n.agent("web", "stop")
	testenv.ExpectExit(t, "stop", code, 0, out)

	// Sysctls set on lo alone leave eth0 answering: depth 0 checks what
	// the instance set, depth 10 finds the leak, and so does the wire.
	n.setSysctl("net.ipv4.conf.all.arp_ignore=0", "net.ipv4.conf.eth0.arp_ignore=0")
	code, out = n.agent("web", "start", "addresses="+l.VIP, "arp_interfaces=lo")
	testenv.ExpectExit(t, "start, arp_interfaces=lo", code, 0, out)
	code, out = n.agent("web", "monitor", "addresses="+l.VIP, "arp_interfaces=lo")
	testenv.ExpectExit(t, "monitor depth 0, arp_interfaces=lo", code, 0, out)
	code, out = n.agent("web", "monitor", "addresses="+l.VIP, "arp_interfaces=lo", "OCF_CHECK_LEVEL=10")
	testenv.ExpectExit(t, "monitor depth 10, arp_interfaces=lo", code, 1, out, "eth0 answers ARP for every VIP (arp_ignore 0")
	code, out = vipcheck(t, l.Client, "arp-leak", "--allow", l.MAC(l.Master).String(), "eth0", l.VIP)
	testenv.ExpectExit(t, "who has the VIP, arp_interfaces=lo", code, 1, out, strings.ToLower(l.MAC(l.RS[0]).String()))
}

// TestDepth10WireProbe: a real server with two interfaces on one segment,
// the ARP sysctls set on one of them only. Asked on eth0, eth1 answers for
// the VIP: depth 10 reports it from the kernel's rules and from the wire.
func TestDepth10WireProbe(t *testing.T) {
	sw := testenv.NewNS(t, "rsw")
	sw.MustRun(t, "ip", "link", "add", "br0", "type", "bridge")
	sw.MustRun(t, "ip", "link", "set", "br0", "up")
	n := newNode(t, nil)
	for i, addr := range []string{"10.12.0.21/24", "10.12.0.22/24"} {
		port := fmt.Sprintf("p%d", i)
		testenv.Veth(t, sw, port, "", n.ns, fmt.Sprintf("eth%d", i), addr)
		sw.MustRun(t, "ip", "link", "set", port, "master", "br0")
	}
	const vip = "10.12.0.80"
	code, out := n.agent("web", "start", "addresses="+vip, "arp_interfaces=eth0")
	testenv.ExpectExit(t, "start, arp_interfaces=eth0", code, 0, out)
	code, out = n.agent("web", "monitor", "addresses="+vip, "arp_interfaces=eth0", "OCF_CHECK_LEVEL=10")
	testenv.ExpectExit(t, "depth 10", code, 1, out, "eth1 answers ARP for every VIP (arp_ignore 0",
		"eth1 ("+strings.ToLower(macOf(t, n, "eth1"))+") answered ARP for VIP "+vip+", asked on eth0")
	code, out = n.agent("web", "start", "addresses="+vip)
	testenv.ExpectExit(t, "start, arp_interfaces=all", code, 0, out)
	code, out = n.agent("web", "monitor", "addresses="+vip, "OCF_CHECK_LEVEL=10")
	testenv.ExpectExit(t, "depth 10, every interface set", code, 0, out)
}

// macOf returns an interface's MAC in the node's namespace.
func macOf(t *testing.T, n *node, iface string) string {
	t.Helper()
	return strings.TrimSpace(n.ns.MustRun(t, "cat", "/sys/class/net/"+iface+"/address"))
}
