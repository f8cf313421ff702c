package cluster

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/testenv"
	"github.com/ocfkit/ocfkit/tests/cluster/harness"
)

// TestVipcheckClone runs ocf:ocfkit:vipcheck as a clone on a balancer node
// that holds the VIP, probing one LVS-DR real server, and checks that the
// node attribute it publishes drives a location rule: a resource that needs
// a healthy real server stops when the VIP disappears from the real
// server's loopback and starts again when it comes back.
func TestVipcheckClone(t *testing.T) {
	const (
		vip  = "10.211.0.80"
		rsIP = "10.211.0.21"
		// attribute is the node attribute the clone publishes, given
		// explicitly (it is also the agent's default).
		attribute = "vipcheck"
	)
	rs := testenv.NewNS(t, "vcr")
	harness.InstallAgent(t, "github.com/ocfkit/ocfkit/cmd/ocf-vipcheck", "ocfkit", "vipcheck")
	c := harness.Start(t, harness.Options{Prefix: "vc"})
	n := c.Nodes[0]
	checkDescribe(t, n, "ocf:ocfkit:vipcheck", "vipcheck")
	for _, tc := range []struct {
		what    string
		code    ocf.Code
		options []string
	}{
		{"missing interface", ocf.ErrInstalled, []string{"vip=" + vip, "port=80", "real_servers=" + rsIP, "interface=nosuchif0"}},
		{"VIP not an address", ocf.ErrConfigured, []string{"vip=notanip", "port=80", "real_servers=" + rsIP, "interface=lo"}},
	} {
		r := validate(t, n, "ocfkit", "vipcheck", tc.options...)
		if r.Code != tc.code || r.Reason == "" {
			t.Errorf("%s: validate returned %d %q, want %d (%s) with a reason", tc.what, r.Code, r.Reason, tc.code, tc.code)
		}
		t.Logf("%s: validate-all -> %d, reason %q", tc.what, r.Code, r.Reason)
	}

	// The balancer holds the VIP on eth0; the real server holds it on lo
	// and must not answer ARP for it.
	testenv.Veth(t, n.NS, "eth0", "10.211.0.10/24", rs, "eth0", rsIP+"/24")
	n.MustRun(t, "ip", "addr", "add", vip+"/24", "dev", "eth0")
	rs.SetARPIgnore(t, 1)
	rs.MustRun(t, "ip", "addr", "add", vip+"/32", "dev", "lo")
	harness.StartHTTPServer(t, rs, "0.0.0.0", 80)

	c.Pcs(t, "resource", "create", "vipchk", "ocf:ocfkit:vipcheck", "vip="+vip, "port=80", "real_servers="+rsIP, "interface=eth0", "dampen=1s", "attribute="+attribute,
		"op", "monitor", "interval=2s", "clone")
	c.Pcs(t, "resource", "create", "web", "ocf:heartbeat:Dummy", "op", "monitor", "interval=5s")
	c.Pcs(t, "constraint", "location", "web", "rule", "score=-INFINITY", attribute, "lt", "1", "or", "not_defined", attribute)

	attr := func(s *harness.Status) (int, error) {
		v, ok := s.Attribute(n.Name, attribute)
		if !ok {
			return 0, fmt.Errorf("attribute %s not set", attribute)
		}
		return strconv.Atoi(v)
	}
	t0 := time.Now()
	c.WaitStatus(t, 30*time.Second, attribute+" >= 1 and web started", func(s *harness.Status) error {
		if v, err := attr(s); err != nil || v < 1 {
			return fmt.Errorf("%s=%d %v", attribute, v, err)
		}
		if d := s.Describe("web"); d != "Started on "+n.Name {
			return fmt.Errorf("web is %s", d)
		}
		return nil
	})
	t.Logf("healthy real server: attribute vipcheck >= 1, web started (%v)", time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	rs.MustRun(t, "ip", "addr", "del", vip+"/32", "dev", "lo")
	c.WaitStatus(t, 30*time.Second, attribute+" = 0 and web stopped", func(s *harness.Status) error {
		if v, err := attr(s); err != nil || v != 0 {
			return fmt.Errorf("%s=%d %v", attribute, v, err)
		}
		if d := s.Describe("web"); d != "Stopped" {
			return fmt.Errorf("web is %s", d)
		}
		return nil
	})
	t.Logf("VIP removed from the real server's lo: vipcheck=0, web stopped after %v", time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	rs.MustRun(t, "ip", "addr", "add", vip+"/32", "dev", "lo")
	c.WaitStarted(t, 30*time.Second, "web", n.Name)
	t.Logf("VIP back: web started again after %v", time.Since(t0).Round(time.Millisecond))
}
