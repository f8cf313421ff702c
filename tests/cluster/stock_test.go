package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
	"github.com/ocfkit/ocfkit/tests/cluster/harness"
)

// TestStockAgents proves the harness with the stock agents on one node:
// ocf:heartbeat:Dummy and ocf:heartbeat:IPaddr2 on a veth into a client
// namespace, an injected monitor failure that Pacemaker records and
// recovers, and a cleanup.
func TestStockAgents(t *testing.T) {
	cli := testenv.NewNS(t, "skc") // before Start: removed after the cluster
	c := harness.Start(t, harness.Options{Prefix: "sk"})
	n := c.Nodes[0]
	testenv.Veth(t, n.NS, "eth0", "10.209.1.1/24", cli, "eth0", "10.209.1.2/24")

	t0 := time.Now()
	c.Pcs(t, "resource", "create", "d1", "ocf:heartbeat:Dummy", "op", "monitor", "interval=2s")
	c.Pcs(t, "resource", "create", "vip", "ocf:heartbeat:IPaddr2", "ip=10.209.1.50", "cidr_netmask=24", "op", "monitor", "interval=5s")
	c.WaitStarted(t, 30*time.Second, "d1", "node1")
	c.WaitStarted(t, 30*time.Second, "vip", "node1")
	t.Logf("d1 and vip started %v after create", time.Since(t0).Round(time.Millisecond))
	cli.MustRun(t, "ping", "-c1", "-W2", "10.209.1.50")
	t.Logf("client reaches the address managed by IPaddr2")

	// The Dummy's state lives in the node's private /run.
	t0 = time.Now()
	n.MustRun(t, "rm", "-f", "/run/resource-agents/Dummy-d1.state")
	s := c.WaitStatus(t, 20*time.Second, "d1's monitor failure recorded", func(s *harness.Status) error {
		if fc := s.FailCount("d1", "node1"); fc != "1" {
			return fmt.Errorf("fail-count %q", fc)
		}
		return nil
	})
	f := s.FailuresOf("d1")
	if len(f) != 1 || f[0].Task != "monitor" || f[0].ExitStatus != "not running" {
		t.Fatalf("failures of d1: %+v", f)
	}
	c.WaitStarted(t, 20*time.Second, "d1", "node1")
	t.Logf("d1: failure %q recorded and recovered %v after the state file was removed", f[0].ExitStatus, time.Since(t0).Round(time.Millisecond))

	c.Pcs(t, "resource", "cleanup", "d1")
	c.WaitStatus(t, 10*time.Second, "fail-count cleared", func(s *harness.Status) error {
		if fc := s.FailCount("d1", "node1"); fc != "" && fc != "0" {
			return fmt.Errorf("fail-count %q", fc)
		}
		if len(s.FailuresOf("d1")) > 0 {
			return fmt.Errorf("failures still listed")
		}
		return nil
	})
}

// TestStockGroupFailoverTwoNodes proves two nodes on one machine: a group of
// IPaddr2 and Dummy with migration-threshold=1 moves to the other node when
// the Dummy fails, and a client on the bridge reaches the address on the new
// node.
func TestStockGroupFailoverTwoNodes(t *testing.T) {
	cli := testenv.NewNS(t, "s2c")
	c := harness.Start(t, harness.Options{Nodes: 2, Prefix: "s2", Subnet: "10.209.2"})
	c.Plug(t, cli, "eth0", "10.209.2.100/24")

	c.Pcs(t, "resource", "create", "vip", "ocf:heartbeat:IPaddr2", "ip=10.209.2.50", "cidr_netmask=24", "op", "monitor", "interval=5s", "--group", "g")
	c.Pcs(t, "resource", "create", "d1", "ocf:heartbeat:Dummy", "op", "monitor", "interval=2s", "--group", "g")
	c.Pcs(t, "resource", "meta", "g", "migration-threshold=1")
	first := c.WaitStarted(t, 30*time.Second, "d1", "")
	c.WaitStarted(t, 30*time.Second, "vip", first)
	cli.MustRun(t, "ping", "-c1", "-W2", "10.209.2.50")
	t.Logf("group g runs on %s; client reaches its address", first)

	t0 := time.Now()
	c.Node(first).MustRun(t, "rm", "-f", "/run/resource-agents/Dummy-d1.state")
	other := c.Other(first)
	c.WaitStarted(t, 30*time.Second, "d1", other)
	c.WaitStarted(t, 30*time.Second, "vip", other)
	testenv.WaitFor(t, 10*time.Second, "client reaches the address on "+other, func() error {
		_, err := cli.Command("ping", "-c1", "-W1", "10.209.2.50").CombinedOutput()
		return err
	})
	t.Logf("group g failed over %s -> %s in %v", first, other, time.Since(t0).Round(time.Millisecond))
}
