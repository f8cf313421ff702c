package vip_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
	"github.com/ocfkit/ocfkit/probe/vip"
)

// manyCount is how many real servers TestProbeMany checks in one call
// (bench/vipcheck checks 10,000).
const manyCount = 2000

// TestProbeMany probes thousands of real-server addresses in one call:
// every one healthy must come out up within the deadline (ARP requests
// paced and answered while they are sent, none lost to a full receive
// queue), and two healthy ones among 9,998 dead ones as well.
func TestProbeMany(t *testing.T) {
	testenv.RequireRoot(t)
	l := testenv.NewLVSDR(t, "vpm")
	var healthy []vip.Target
	for _, a := range l.AddRealServerAddresses(manyCount / len(l.RS)) {
		healthy = append(healthy, vip.Target{Addr: netip.MustParseAddr(a)})
	}
	source := func(c *vip.Config) { c.Source = netip.MustParseAddr(testenv.ManySource) }
	countUp := func(res []vip.Result) (up int, first string) {
		for _, r := range res {
			if r.Status == vip.Up {
				up++
			} else if first == "" {
				first = fmt.Sprintf("%v %v syns=%d resolve=%v", r.Target, r.Status, r.SYNs, r.Resolve)
			}
		}
		return up, first
	}

	t.Run("all healthy", func(t *testing.T) {
		res := probeQuiet(t, l.Master, l, time.Second, source, healthy...)
		if up, first := countUp(res); up != len(healthy) {
			t.Errorf("%d of %d up; first down: %s", up, len(healthy), first)
		}
	})

	t.Run("two healthy among dead ones", func(t *testing.T) {
		var mixed []vip.Target
		for j := range 9998 { // nothing answers ARP for these
			mixed = append(mixed, vip.Target{Addr: netip.AddrFrom4([4]byte{10, 206, byte(100 + j/250), byte(j%250 + 1)})})
		}
		mixed = append(mixed, healthy[0], healthy[len(healthy)-1])
		res := probeQuiet(t, l.Master, l, time.Second, source, mixed...)
		for _, r := range res[len(res)-2:] {
			if r.Status != vip.Up {
				t.Errorf("healthy %v among %d dead: %v syns=%d resolve=%v", r.Target, len(mixed)-2, r.Status, r.SYNs, r.Resolve)
			}
		}
		if up, _ := countUp(res); up != 2 {
			t.Errorf("%d up, want the 2 healthy", up)
		}
	})
}
