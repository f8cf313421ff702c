package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/testenv"
	"github.com/ocfkit/ocfkit/tests/cluster/harness"
)

// TestRealserverClone runs ocf:ocfkit:realserver as a clone on two nodes:
// node1 is also the LVS-DR director (it holds the VIP on eth0 and runs
// ocf:ocfkit:vipcheck, which probes node2 through the VIP), node2 a real
// server with an HTTP server and nothing else configured. The vipcheck
// attribute on node1 turns healthy when the clone starts; a sysctl changed
// behind the agent's back on node2 is a monitor failure that Pacemaker
// recovers; disabling the clone removes the VIP from node2's lo and puts
// its sysctls back.
func TestRealserverClone(t *testing.T) {
	const (
		subnet    = "10.217.0"
		vip       = subnet + ".80"
		attribute = "vipcheck"
	)
	harness.InstallAgent(t, "github.com/ocfkit/ocfkit/cmd/ocf-realserver", "ocfkit", "realserver")
	harness.InstallAgent(t, "github.com/ocfkit/ocfkit/cmd/ocf-vipcheck", "ocfkit", "vipcheck")
	c := harness.Start(t, harness.Options{Nodes: 2, Prefix: "rsc", Subnet: subnet})
	director, rs := c.Nodes[0], c.Nodes[1]
	rsAddr := strings.Split(rs.RingAddr, "/")[0]
	checkDescribe(t, director, "ocf:ocfkit:realserver", "realserver")
	for _, tc := range []struct {
		what    string
		code    ocf.Code
		options []string
	}{
		{"a /23", ocf.ErrConfigured, []string{"addresses=10.0.0.0/23"}},
		{"a missing file", ocf.ErrInstalled, []string{"vipaddrs=/nonexistent/vipaddrs"}},
		{"an interface that answers ARP", ocf.ErrConfigured, []string{"addresses=" + vip, "interface=eth0"}},
	} {
		r := validate(t, director, "ocfkit", "realserver", tc.options...)
		if r.Code != tc.code || r.Reason == "" {
			t.Errorf("%s: validate returned %d %q, want %d (%s) with a reason", tc.what, r.Code, r.Reason, tc.code, tc.code)
		}
		t.Logf("%s: validate-all -> %d, reason %q", tc.what, r.Code, r.Reason)
	}

	director.MustRun(t, "ip", "addr", "add", vip+"/24", "dev", "eth0")
	harness.StartHTTPServer(t, rs.NS, "0.0.0.0", 80)
	sysctls := func() string {
		return rs.MustRun(t, "sysctl", "net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce",
			"net.ipv4.conf.eth0.arp_ignore", "net.ipv4.conf.eth0.arp_announce")
	}
	before := sysctls()

	c.Pcs(t, "resource", "create", "vipchk", "ocf:ocfkit:vipcheck", "vip="+vip, "port=80", "real_servers="+rsAddr,
		"interface=eth0", "dampen=1s", "attribute="+attribute, "op", "monitor", "interval=2s")
	c.Pcs(t, "constraint", "location", "vipchk", "prefers", director.Name+"=INFINITY")
	attr := func(s *harness.Status) (int, error) {
		v, ok := s.Attribute(director.Name, attribute)
		if !ok {
			return 0, fmt.Errorf("attribute %s not set", attribute)
		}
		return strconv.Atoi(v)
	}
	c.WaitStatus(t, 30*time.Second, attribute+" = 0 before the clone", func(s *harness.Status) error {
		if v, err := attr(s); err != nil || v != 0 {
			return fmt.Errorf("%s=%d %v", attribute, v, err)
		}
		return nil
	})
	t.Logf("no real server configured: %s=0", attribute)

	t0 := time.Now()
	c.Pcs(t, "resource", "create", "rs", "ocf:ocfkit:realserver", "addresses="+vip,
		"op", "monitor", "interval=2s", "clone")
	c.WaitStatus(t, 30*time.Second, "the clone started on both nodes and "+attribute+" >= 1", func(s *harness.Status) error {
		for _, n := range c.Nodes {
			if _, ok := s.StartedOn("rs", n.Name); !ok {
				return fmt.Errorf("rs is %s", s.Describe("rs"))
			}
		}
		if v, err := attr(s); err != nil || v < 1 {
			return fmt.Errorf("%s=%d %v", attribute, v, err)
		}
		return nil
	})
	t.Logf("clone started: %s >= 1 after %v", attribute, time.Since(t0).Round(time.Millisecond))
	if lo := rs.MustRun(t, "ip", "-br", "addr", "show", "dev", "lo"); !strings.Contains(lo, vip+"/32") {
		t.Errorf("%s lo: %s", rs.Name, lo)
	}

	// Drift: a sysctl set back behind the agent's back is a monitor
	// failure naming it, and the recovery sets it again.
	t0 = time.Now()
	rs.MustRun(t, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=0")
	c.WaitStatus(t, 30*time.Second, "a monitor failure naming arp_ignore on "+rs.Name, func(s *harness.Status) error {
		for _, f := range s.FailuresOf("rs") {
			if f.Node == rs.Name && strings.Contains(f.ExitReason, "net.ipv4.conf.all.arp_ignore is 0, want 1") {
				t.Logf("failure on %s: %s rc=%d reason %q", f.Node, f.OpKey, f.ExitCode, f.ExitReason)
				return nil
			}
		}
		return fmt.Errorf("failures %+v", s.FailuresOf("rs"))
	})
	c.WaitStarted(t, 30*time.Second, "rs", rs.Name)
	testenv.WaitFor(t, 10*time.Second, "arp_ignore set again", func() error {
		if v := strings.TrimSpace(rs.MustRun(t, "sysctl", "-n", "net.ipv4.conf.all.arp_ignore")); v != "1" {
			return fmt.Errorf("arp_ignore=%s", v)
		}
		return nil
	})
	t.Logf("drift caught and recovered in %v", time.Since(t0).Round(time.Millisecond))
	c.Pcs(t, "resource", "cleanup", "rs")

	t0 = time.Now()
	c.Pcs(t, "resource", "disable", "rs-clone")
	c.WaitStatus(t, 30*time.Second, "the clone stopped and "+attribute+" = 0", func(s *harness.Status) error {
		for _, n := range c.Nodes {
			if _, ok := s.StartedOn("rs", n.Name); ok {
				return fmt.Errorf("rs is %s", s.Describe("rs"))
			}
		}
		if v, err := attr(s); err != nil || v != 0 {
			return fmt.Errorf("%s=%d %v", attribute, v, err)
		}
		return nil
	})
	t.Logf("clone stopped: %s = 0 after %v", attribute, time.Since(t0).Round(time.Millisecond))
	if lo := rs.MustRun(t, "ip", "-br", "addr", "show", "dev", "lo"); strings.Contains(lo, vip) {
		t.Errorf("VIP left on %s lo after stop: %s", rs.Name, lo)
	}
	if after := sysctls(); after != before {
		t.Errorf("sysctls on %s after stop:\n%s\nbefore:\n%s", rs.Name, after, before)
	}
}
