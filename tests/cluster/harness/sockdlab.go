package harness

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// SockdPackage is the import path of the ocf:dante:sockd agent.
const SockdPackage = "github.com/ocfkit/ocfkit/cmd/ocf-sockd"

// SocksLab is a cluster set up for Dante's failover guide: a shared address
// (VIP) that an IPaddr2 resource puts on the active node, a SOCKS client
// namespace that reaches the VIP, and a server namespace with an HTTP server
// the client fetches from through the proxy.
//
// With one node: node1's eth0 (10.N.1.1) is a veth into the client
// (10.N.1.2), the VIP is 10.N.1.50, and eth1 (10.N.2.1, Dante's external
// address) leads to the server (10.N.2.2): the client reaches the server only
// through the proxy. With two nodes everything sits on the cluster's bridge
// 10.N.3.0/24: nodes .11 and .12, VIP .50, client .100, server .200, and
// Dante's external: is the interface eth0.
type SocksLab struct {
	C              *Cluster
	Client, Server *testenv.NS
	VIP, Proxy     string // shared address, and VIP:1080
	Conf, Log      string // danted.conf and its logoutput, on the host's /tmp (seen by every node)
	Config         testenv.DanteConfig
	URL, Body      string // what the client fetches, and the answer
	Dir            string // a scratch directory shared with the nodes
}

// SocksLabOptions configure StartSocksLab.
type SocksLabOptions struct {
	Nodes  int    // 1 (default) or 2
	Prefix string // namespace prefix (short)
	Net    string // first two octets, e.g. "10.210"
}

// SockdPidfile is the agent's default pidfile, in each node's private /run.
const SockdPidfile = "/var/run/sockd.pid"

// StartSocksLab installs the ocf:dante:sockd agent built from this tree,
// starts the cluster and the namespaces, the HTTP server and writes
// danted.conf. No resource is created yet: see CreateGroup.
func StartSocksLab(t testing.TB, o SocksLabOptions) *SocksLab {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "danted")
	testenv.RequireCommand(t, "curl")
	if o.Nodes == 0 {
		o.Nodes = 1
	}
	// Namespaces first: cleanups run last-in first-out, so they go after
	// the cluster has stopped its resources.
	l := &SocksLab{Client: testenv.NewNS(t, o.Prefix+"c"), Server: testenv.NewNS(t, o.Prefix+"s")}
	InstallAgent(t, SockdPackage, "dante", "sockd")
	var srvIP, external string
	if o.Nodes == 1 {
		l.C = Start(t, Options{Prefix: o.Prefix})
		n := l.C.Nodes[0]
		testenv.Veth(t, n.NS, "eth0", o.Net+".1.1/24", l.Client, "eth0", o.Net+".1.2/24")
		testenv.Veth(t, n.NS, "eth1", o.Net+".2.1/24", l.Server, "eth0", o.Net+".2.2/24")
		l.VIP, srvIP, external = o.Net+".1.50", o.Net+".2.2", o.Net+".2.1"
	} else {
		l.C = Start(t, Options{Prefix: o.Prefix, Nodes: o.Nodes, Subnet: o.Net + ".3"})
		l.C.Plug(t, l.Client, "eth0", o.Net+".3.100/24")
		l.C.Plug(t, l.Server, "eth0", o.Net+".3.200/24")
		// One file for every node: the interface has a different address
		// on each.
		l.VIP, srvIP, external = o.Net+".3.50", o.Net+".3.200", "eth0"
	}
	l.Proxy = l.VIP + ":1080"
	l.URL, l.Body = StartHTTPServer(t, l.Server, srvIP, 8080)
	l.Dir = TempDir(t, "lab")
	l.Conf, l.Log = filepath.Join(l.Dir, "danted.conf"), filepath.Join(l.Dir, "danted.log")
	l.Config = testenv.DanteConfig{LogFile: l.Log, Internal: []string{l.VIP}, External: external}
	l.Config.Write(t, l.Conf)
	return l
}

// CreateGroup creates, in one CIB push, FailoverIP (IPaddr2 on the VIP,
// monitor every 5 s), the proxy resource SOCKDfailover made by
// `pcs resource create SOCKDfailover AGENT_AND_OPTIONS...`, the group
// SOCKD_failover of both, and the group's meta attributes, then waits until
// both run and returns the node. With agentAndOptions
// "ocf:dante:sockd", "sockd_config="+l.Conf, "op", "monitor", "interval=5s",
// "op", "monitor", "interval=10s", "OCF_CHECK_LEVEL=20" these are exactly
// the commands of Dante's failover guide; the single push only keeps sockd
// from starting before its address.
func (l *SocksLab) CreateGroup(t testing.TB, meta []string, agentAndOptions ...string) string {
	t.Helper()
	cib := filepath.Join(l.Dir, "cib.xml")
	t0 := time.Now()
	l.C.Pcs(t, "cluster", "cib", cib)
	l.C.Pcs(t, "-f", cib, "resource", "create", "FailoverIP", "ocf:heartbeat:IPaddr2", "ip="+l.VIP, "cidr_netmask=24", "op", "monitor", "interval=5s")
	l.C.Pcs(t, append([]string{"-f", cib, "resource", "create", "SOCKDfailover"}, agentAndOptions...)...)
	l.C.Pcs(t, "-f", cib, "resource", "group", "add", "SOCKD_failover", "FailoverIP", "SOCKDfailover")
	if len(meta) > 0 {
		l.C.Pcs(t, append([]string{"-f", cib, "resource", "meta", "SOCKD_failover"}, meta...)...)
	}
	l.C.Pcs(t, "cluster", "cib-push", cib, "--config")
	on := l.C.WaitStarted(t, 30*time.Second, "SOCKDfailover", "")
	l.C.WaitStarted(t, 30*time.Second, "FailoverIP", on)
	t.Logf("group SOCKD_failover started on %s %v after the CIB push", on, time.Since(t0).Round(time.Millisecond))
	return on
}

// GuideSockd is the ocf:dante:sockd resource of Dante's failover guide, with
// a depth-20 monitor every 10 s next to the depth-0 one every 5 s.
func (l *SocksLab) GuideSockd() []string {
	return []string{"ocf:dante:sockd", "sockd_config=" + l.Conf,
		"op", "monitor", "interval=5s", "op", "monitor", "interval=10s", "OCF_CHECK_LEVEL=20"}
}

// Fetch fetches the server's file from the client through the proxy once.
func (l *SocksLab) Fetch(timeout time.Duration) error {
	return FetchViaSOCKS(l.Client, l.Proxy, l.URL, l.Body, timeout)
}

// WaitServed waits until the client is served through the proxy.
func (l *SocksLab) WaitServed(t testing.TB, timeout time.Duration) {
	t.Helper()
	testenv.WaitFor(t, timeout, "client served through "+l.Proxy, func() error {
		return l.Fetch(2 * time.Second)
	})
}

// HangIOChildren SIGSTOPs the io children of the danted instance whose
// mother is named in pidfile on node n, and returns every process of that
// instance (to check later that none is left).
func HangIOChildren(t testing.TB, n *Node, pidfile string) []DanteProcess {
	t.Helper()
	ps, err := DanteProcesses(n, pidfile)
	if err != nil {
		t.Fatal(err)
	}
	io := WithTitle(ps, "io-child")
	if len(io) == 0 {
		t.Fatalf("no io-child among %+v", ps)
	}
	for _, p := range io {
		if err := p.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("SIGSTOPped %d io-child(ren) of danted pid %d on %s", len(io), ps[0].PID, n.Name)
	return ps
}

// Left returns the processes of ps that are still alive (a zombie waiting
// to be reaped counts as gone).
func Left(ps []DanteProcess) []string {
	var left []string
	for _, p := range ps {
		if p.Alive() {
			left = append(left, fmt.Sprintf("%d (%s)", p.PID, p.Title))
		}
	}
	return left
}
