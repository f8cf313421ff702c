package cluster

import (
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/tests/cluster/harness"
)

// TestSockdFailoverTwoNodes runs the group of Dante's failover guide on two
// nodes (each in its own network, mount and UTS namespace, joined by a
// bridge) with migration-threshold=1, hangs Dante on the active node by
// stopping its io children, and checks that the depth-20 monitor catches it,
// the group moves to the other node, and a client on the bridge is served
// through the shared address again.
func TestSockdFailoverTwoNodes(t *testing.T) {
	l := harness.StartSocksLab(t, harness.SocksLabOptions{Nodes: 2, Prefix: "fo", Net: "10.210"})
	first := l.CreateGroup(t, []string{"migration-threshold=1"}, l.GuideSockd()...)
	l.WaitServed(t, 10*time.Second)
	t.Logf("client served through %s", l.Proxy())

	t0 := time.Now()
	old := harness.HangIOChildren(t, l.C.Node(first), l.Pidfile)
	other := l.C.Other(first)
	t.Logf("expecting the depth-20 monitor to catch it and the group to move to %s", other)
	l.C.WaitStarted(t, 90*time.Second, harness.IPResource, other)
	l.C.WaitStarted(t, 60*time.Second, harness.SockdResource, other)
	l.WaitServed(t, 20*time.Second)
	t.Logf("group failed over %s -> %s; client served again %v after the SIGSTOP", first, other, time.Since(t0).Round(time.Millisecond))
	s, err := l.C.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range s.FailuresOf(harness.SockdResource) {
		t.Logf("failure on %s: %s rc=%d (%s) reason %q", f.Node, f.OpKey, f.ExitCode, f.ExitStatus, f.ExitReason)
	}
	checkGone(t, old)
}
