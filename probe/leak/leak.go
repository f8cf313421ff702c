// Package leak finds hosts that answer ARP (IPv4) or neighbour
// solicitations (IPv6) for a virtual IP: an LVS direct-routing real server
// that holds the VIP on its loopback without arp_ignore (or its IPv6
// counterpart) answers for it, and steals the balancer's traffic.
package leak

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/ocfkit/ocfkit/probe/neigh"
	"github.com/ocfkit/ocfkit/probe/vip"
)

// Result is what a leak check found.
type Result struct {
	VIP     netip.Addr
	Answers []neigh.Answer // every answer
	Foreign []neigh.Answer // answers from neither this host nor an allowed MAC
	// Expected is how many foreign answers are no leak: none where the VIP
	// is this host's or allowed MACs were given, else one (the master's).
	Expected int
}

// Leaking reports whether more hosts answer for the VIP than should.
func (r Result) Leaking() bool { return len(r.Foreign) > r.Expected }

// Check asks who has addr on ifi until ctx ends. The MACs in allow may
// answer besides this host's; without them, where addr is not configured
// on this host, one foreign answer (the master's) is expected.
func Check(ctx context.Context, ifi *net.Interface, addr netip.Addr, allow []net.HardwareAddr) (Result, error) {
	local, err := vip.IsLocal(addr)
	if err != nil {
		return Result{}, err
	}
	r := Result{VIP: addr}
	if !local && len(allow) == 0 {
		r.Expected = 1 // the master's answer
	}
	ok := map[string]bool{}
	for _, m := range allow {
		ok[m.String()] = true
	}
	locals, err := net.Interfaces()
	if err != nil {
		return Result{}, fmt.Errorf("listing interfaces: %w", err)
	}
	for _, i := range locals {
		ok[i.HardwareAddr.String()] = true
	}
	src, err := vip.SourceAddress(ifi, addr, netip.Addr{})
	if err != nil {
		return Result{}, err
	}
	conn, err := neigh.Listen(ifi)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	client, err := neigh.New(conn, ifi.HardwareAddr, src)
	if err != nil {
		return Result{}, err
	}
	if r.Answers, err = client.WhoHas(ctx, addr); err != nil {
		return Result{}, err
	}
	for _, a := range r.Answers {
		if !ok[a.MAC.String()] {
			r.Foreign = append(r.Foreign, a)
		}
	}
	return r, nil
}
