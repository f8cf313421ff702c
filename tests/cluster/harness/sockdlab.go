package harness

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
	"github.com/ocfkit/ocfkit/metadata"
)

// The resources of Dante's failover guide, as CreateGroup names them.
const (
	// SockdResource is the ocf:dante:sockd resource.
	SockdResource = "SOCKDfailover"
	// IPResource is the IPaddr2 resource holding the shared address.
	IPResource = "FailoverIP"
	// GroupResource is the group of both.
	GroupResource = "SOCKD_failover"
)

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
	VIP            string // shared address
	Conf           string // danted.conf, on the host's /tmp (seen by every node); Config.LogFile is next to it
	Config         testenv.DanteConfig
	URL, Body      string // what the client fetches, and the answer
	Dir            string // a scratch directory shared with the nodes
	// Pidfile is the agent's default sockd_pidfile (from its metadata),
	// in each node's private /run.
	Pidfile string
}

// SocksLabOptions configure StartSocksLab.
type SocksLabOptions struct {
	Nodes  int    // 1 (default) or 2
	Prefix string // namespace prefix (short)
	Net    string // first two octets, e.g. "10.210"
}

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
	md, err := metadata.Load("sockd")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := md.Parameter("sockd_pidfile")
	if !ok || p.Content.Default == "" {
		t.Fatal("metadata/sockd.xml: no default sockd_pidfile")
	}
	l.Pidfile = p.Content.Default
	InstallAgent(t, "github.com/ocfkit/ocfkit/cmd/ocf-sockd", "dante", "sockd")
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
	l.URL, l.Body = StartHTTPServer(t, l.Server, srvIP, 8080)
	l.Dir = testenv.SharedTempDir(t, "lab")
	l.Conf = filepath.Join(l.Dir, "danted.conf")
	l.Config = testenv.DanteConfig{LogFile: filepath.Join(l.Dir, "danted.log"), Internal: []string{l.VIP}, External: external}
	l.Config.Write(t, l.Conf)
	return l
}

// Proxy is the SOCKS server's address: the VIP and Dante's port.
func (l *SocksLab) Proxy() string { return l.VIP + ":1080" }

// CreateGroup creates, in one CIB push, FailoverIP (IPaddr2 on the VIP,
// monitor every 5 s), the proxy resource SOCKDfailover made by
// `pcs resource create SOCKDfailover AGENT_AND_OPTIONS...`, the group
// SOCKD_failover of both, and the group's meta attributes, then waits until
// both run and returns the node. With agentAndOptions l.GuideSockd() these
// are exactly the commands of Dante's failover guide; the single push only
// keeps sockd from starting before its address.
func (l *SocksLab) CreateGroup(t testing.TB, meta []string, agentAndOptions ...string) string {
	t.Helper()
	cib := filepath.Join(l.Dir, "cib.xml")
	t0 := time.Now()
	l.C.Pcs(t, "cluster", "cib", cib)
	l.C.Pcs(t, "-f", cib, "resource", "create", IPResource, "ocf:heartbeat:IPaddr2", "ip="+l.VIP, "cidr_netmask=24", "op", "monitor", "interval=5s")
	l.C.Pcs(t, append([]string{"-f", cib, "resource", "create", SockdResource}, agentAndOptions...)...)
	l.C.Pcs(t, "-f", cib, "resource", "group", "add", GroupResource, IPResource, SockdResource)
	if len(meta) > 0 {
		l.C.Pcs(t, append([]string{"-f", cib, "resource", "meta", GroupResource}, meta...)...)
	}
	l.C.Pcs(t, "cluster", "cib-push", cib, "--config")
	on := l.C.WaitStarted(t, 30*time.Second, SockdResource, "")
	l.C.WaitStarted(t, 30*time.Second, IPResource, on)
	t.Logf("group %s started on %s %v after the CIB push", GroupResource, on, time.Since(t0).Round(time.Millisecond))
	return on
}

// GuideSockd is the ocf:dante:sockd resource of Dante's failover guide, with
// a depth-20 monitor every 10 s next to the depth-0 one every 5 s.
// depth20Options are further options of the depth-20 monitor op, such as
// "timeout=5s".
func (l *SocksLab) GuideSockd(depth20Options ...string) []string {
	return append([]string{"ocf:dante:sockd", "sockd_config=" + l.Conf,
		"op", "monitor", "interval=5s", "op", "monitor", "interval=10s", "OCF_CHECK_LEVEL=20"}, depth20Options...)
}

// Fetch fetches the server's file from the client through the proxy once.
func (l *SocksLab) Fetch(timeout time.Duration) error {
	return fetch(l.Client, l.Proxy(), l.URL, l.Body, timeout)
}

// WaitServed waits until the client is served through the proxy.
func (l *SocksLab) WaitServed(t testing.TB, timeout time.Duration) {
	t.Helper()
	testenv.WaitFor(t, timeout, "client served through "+l.Proxy(), func() error {
		return l.Fetch(2 * time.Second)
	})
}

// Processes returns the processes of the danted instance the agent runs
// with its default pidfile on node n.
func (l *SocksLab) Processes(t testing.TB, n *Node) []DanteProcess {
	t.Helper()
	return mustDanteProcesses(t, n, l.Pidfile)
}

// Cleanup clears the failures of SOCKDfailover, waits until none is listed
// and it runs on node (any node when node is empty), and returns that node.
func (l *SocksLab) Cleanup(t testing.TB, timeout time.Duration, node string) string {
	t.Helper()
	l.C.Pcs(t, "resource", "cleanup", SockdResource)
	var on string
	l.C.WaitStatus(t, timeout, SockdResource+" clean and started", func(s *Status) error {
		if len(s.FailuresOf(SockdResource)) > 0 {
			return errors.New("failures still listed")
		}
		var ok bool
		if on, ok = s.StartedOn(SockdResource, node); !ok {
			return fmt.Errorf("%s is %s", SockdResource, s.Describe(SockdResource))
		}
		return nil
	})
	return on
}

// HangIOChildren SIGSTOPs the io children of the danted instance whose
// mother is named in pidfile on node n, and returns every process of that
// instance (to check later that none is left).
func HangIOChildren(t testing.TB, n *Node, pidfile string) []DanteProcess {
	t.Helper()
	ps := mustDanteProcesses(t, n, pidfile)
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
