package vip_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
	"github.com/ocfkit/ocfkit/probe/vip"
)

// probeFrom runs vip.Probe inside ns (sockets are created there) against
// the given real servers, and logs the first results and those not up.
func probeFrom(t *testing.T, ns *testenv.NS, l *testenv.LVSDR, timeout time.Duration, mod func(*vip.Config), targets ...vip.Target) []vip.Result {
	t.Helper()
	res := probeQuiet(t, ns, l, timeout, mod, targets...)
	for i, r := range res {
		if i < 4 || r.Status != vip.Up {
			t.Logf("%v mac=%v %v syns=%d resolve=%v rtt=%v", r.Target, r.MAC, r.Status, r.SYNs, r.Resolve, r.RTT)
		}
	}
	return res
}

// probeQuiet is probeFrom without the log.
func probeQuiet(t *testing.T, ns *testenv.NS, l *testenv.LVSDR, timeout time.Duration, mod func(*vip.Config), targets ...vip.Target) []vip.Result {
	t.Helper()
	var res []vip.Result
	err := ns.Within(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		cfg := vip.Config{Interface: ifi, VIP: netip.MustParseAddr(l.VIP), Port: uint16(l.Port)}
		if mod != nil {
			mod(&cfg)
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		res, err = vip.Probe(ctx, cfg, targets)
		return err
	})
	if err != nil {
		t.Fatalf("probe from %s: %v", ns.Name, err)
	}
	return res
}

func rsTargets(l *testenv.LVSDR) []vip.Target {
	return []vip.Target{{Addr: netip.MustParseAddr(l.RSAddr[0])}, {Addr: netip.MustParseAddr(l.RSAddr[1])}}
}

func wantStatuses(t *testing.T, res []vip.Result, want ...vip.Status) {
	t.Helper()
	for i, r := range res {
		if r.Status != want[i] {
			t.Errorf("%v: %v, want %v", r.Target, r.Status, want[i])
		}
	}
}

func noHalfOpen(t *testing.T, l *testenv.LVSDR) {
	t.Helper()
	for i := range l.RS {
		testenv.WaitFor(t, 5*time.Second, "no half-open connection on "+l.RS[i].Name, func() error {
			if s := l.HalfOpen(i); s != "" {
				return fmt.Errorf("SYN-RECV left: %s", s)
			}
			return nil
		})
	}
}

// TestProbeLVSDR runs the probe against real servers in namespaces: the
// statuses a DR setup can show, loss and the backup balancer.
func TestProbeLVSDR(t *testing.T) {
	l := testenv.NewLVSDR(t, "vcp")
	rs1, rs2 := netip.MustParseAddr(l.RSAddr[0]), netip.MustParseAddr(l.RSAddr[1])

	t.Run("healthy", func(t *testing.T) {
		res := probeFrom(t, l.Master, l, time.Second, nil, rsTargets(l)...)
		wantStatuses(t, res, vip.Up, vip.Up)
		if res[0].MAC.String() != l.MAC(l.RS[0]).String() || res[1].MAC.String() != l.MAC(l.RS[1]).String() {
			t.Errorf("resolved MACs %v %v", res[0].MAC, res[1].MAC)
		}
		noHalfOpen(t, l)
	})

	t.Run("close with FIN", func(t *testing.T) {
		res := probeFrom(t, l.Master, l, time.Second, func(c *vip.Config) { c.Close = true }, rsTargets(l)...)
		wantStatuses(t, res, vip.Up, vip.Up)
		for _, r := range res {
			if !r.Closed {
				t.Errorf("%v: connection not closed by a FIN exchange", r.Target)
			}
		}
		noHalfOpen(t, l)
		for i := range l.RS {
			testenv.WaitFor(t, 5*time.Second, "no connection left on "+l.RS[i].Name, func() error {
				out, _ := l.RS[i].Command("ss", "-Htn", "state", "connected").Output()
				if s := strings.TrimSpace(string(out)); s != "" {
					return fmt.Errorf("connections left: %s", s)
				}
				return nil
			})
		}
	})

	t.Run("VIP missing on a real server's lo", func(t *testing.T) {
		l.RS[0].MustRun(t, "ip", "addr", "del", l.VIP+"/32", "dev", "lo")
		defer l.RS[0].MustRun(t, "ip", "addr", "add", l.VIP+"/32", "dev", "lo")
		res := probeFrom(t, l.Master, l, 500*time.Millisecond, nil, rsTargets(l)...)
		wantStatuses(t, res, vip.NoAnswer, vip.Up)
		if res[0].SYNs < 2 {
			t.Errorf("no retransmission before giving up: %d SYNs", res[0].SYNs)
		}
		// The point: an ordinary check of the real server's own address
		// still succeeds.
		l.Client.MustRun(t, "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", l.RSAddr[0], l.Port))
	})

	t.Run("nothing listening", func(t *testing.T) {
		l.StopListener(1)
		defer l.StartListener(1)
		res := probeFrom(t, l.Master, l, time.Second, nil, rsTargets(l)...)
		wantStatuses(t, res, vip.Up, vip.Refused)
	})

	t.Run("no ARP answer and a wrong static MAC", func(t *testing.T) {
		res := probeFrom(t, l.Master, l, 300*time.Millisecond, nil,
			vip.Target{Addr: netip.MustParseAddr("10.206.0.99")},
			vip.Target{Addr: rs1, MAC: net.HardwareAddr{2, 0xde, 0xad, 0, 0, 1}},
			vip.Target{Addr: rs2, MAC: l.MAC(l.RS[1])})
		wantStatuses(t, res, vip.NoARP, vip.NoAnswer, vip.Up)
		if res[2].Resolve != 0 {
			t.Errorf("static MAC was resolved anyway")
		}
	})

	t.Run("from the backup balancer", func(t *testing.T) {
		// The backup does not hold the VIP: its kernel sees the SYN-ACK
		// addressed to it from the VIP and answers with a RST toward the
		// VIP, which goes to the VIP's ARP owner, the master, not to the
		// real server. The raw probe sees the SYN-ACK first. Count the RSTs
		// that reach each real server from the backup: exactly the probe's
		// own, one per probe, and none with a FIN close.
		var resets [2]func() int
		for i := range l.RS {
			resets[i] = l.RSTCounter(t, l.RS[i], "input", "ip saddr 10.206.0.11")
		}
		res := probeFrom(t, l.Backup, l, time.Second, nil, rsTargets(l)...)
		wantStatuses(t, res, vip.Up, vip.Up)
		noHalfOpen(t, l)
		res = probeFrom(t, l.Backup, l, time.Second, func(c *vip.Config) { c.Close = true }, rsTargets(l)...)
		wantStatuses(t, res, vip.Up, vip.Up)
		for i, r := range res {
			if !r.Closed {
				t.Errorf("%v: FIN close from the backup did not complete", r.Target)
			}
			if n := resets[i](); n != 1 {
				t.Errorf("%s got %d RSTs from the backup, want 1 (the probe's own)", l.RS[i].Name, n)
			}
		}
		// No balancer holds the VIP (a failover gap): the backup kernel's
		// RST finds no ARP owner and goes nowhere.
		l.Master.MustRun(t, "ip", "addr", "del", l.VIP+"/24", "dev", "eth0")
		res = probeFrom(t, l.Backup, l, time.Second, func(c *vip.Config) { c.Close = true }, rsTargets(l)...)
		l.Master.MustRun(t, "ip", "addr", "add", l.VIP+"/24", "dev", "eth0")
		wantStatuses(t, res, vip.Up, vip.Up)
		if n0, n1 := resets[0](), resets[1](); n0 != 1 || n1 != 1 {
			t.Errorf("RSTs reached the real servers during the gap: %d, %d", n0, n1)
		}
		noHalfOpen(t, l)
	})

	t.Run("200 real-server addresses", func(t *testing.T) {
		var targets []vip.Target
		for _, a := range l.AddRealServerAddresses(100) {
			targets = append(targets, vip.Target{Addr: netip.MustParseAddr(a)})
		}
		res := probeFrom(t, l.Master, l, 3*time.Second, func(c *vip.Config) {
			c.Source = netip.MustParseAddr(testenv.ManySource)
		}, targets...)
		up := 0
		for _, r := range res {
			if r.Status == vip.Up {
				up++
			}
		}
		if up != len(targets) {
			t.Errorf("%d of %d addresses up", up, len(targets))
		}
		noHalfOpen(t, l)
	})
	t.Run("IPv6", func(t *testing.T) {
		v6 := func(c *vip.Config) { c.VIP = netip.MustParseAddr(l.VIP6) }
		targets := []vip.Target{{Addr: netip.MustParseAddr(l.RSAddr6[0])}, {Addr: netip.MustParseAddr(l.RSAddr6[1])}}
		// Count the RSTs reaching the real servers from either balancer:
		// only the probe's own may arrive, whatever the balancers' kernels
		// do with the SYN-ACKs addressed to them.
		var resets [2]func() int
		for i := range l.RS {
			resets[i] = l.RSTCounter(t, l.RS[i], "input", "ip6 saddr { fd00:206::10, fd00:206::11 }")
		}
		res := probeFrom(t, l.Master, l, time.Second, v6, targets...)
		wantStatuses(t, res, vip.Up, vip.Up)
		if res[0].MAC.String() != l.MAC(l.RS[0]).String() {
			t.Errorf("NDP resolved %v, want %v", res[0].MAC, l.MAC(l.RS[0]))
		}
		res = probeFrom(t, l.Backup, l, time.Second, func(c *vip.Config) { v6(c); c.Close = true }, targets...)
		wantStatuses(t, res, vip.Up, vip.Up)
		noHalfOpen(t, l)
		for i := range l.RS {
			if n := resets[i](); n != 1 {
				t.Errorf("%s: %d RSTs from the balancers, want exactly the master probe's", l.RS[i].Name, n)
			}
		}

		l.RS[0].MustRun(t, "ip", "addr", "del", l.VIP6+"/128", "dev", "lo")
		res = probeFrom(t, l.Master, l, 300*time.Millisecond, v6, targets...)
		l.RS[0].MustRun(t, "ip", "addr", "add", l.VIP6+"/128", "dev", "lo", "nodad")
		wantStatuses(t, res, vip.NoAnswer, vip.Up)
		l.Client.MustRun(t, "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", l.RSAddr6[0], l.Port))

		l.StopListener(1)
		res = probeFrom(t, l.Master, l, time.Second, v6, targets...)
		l.StartListener(1)
		wantStatuses(t, res, vip.Up, vip.Refused)

		res = probeFrom(t, l.Master, l, 300*time.Millisecond, v6, vip.Target{Addr: netip.MustParseAddr("fd00:206::99")})
		wantStatuses(t, res, vip.NoARP)
	})

	// Last: a lost RST leaves a half-open connection on the real server
	// until its SYN-ACK retries run out, which the other cases would see.
	t.Run("30% loss", func(t *testing.T) {
		l.Loss(t, l.Port, 30)
		for round := 0; round < 3; round++ {
			res := probeFrom(t, l.Master, l, 3*time.Second, nil, rsTargets(l)...)
			wantStatuses(t, res, vip.Up, vip.Up)
		}
	})

}
