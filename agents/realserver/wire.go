//go:build linux

package realserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/ocfkit/ocfkit/probe/neigh"
)

// The wire probe of depth 10 asks, on every interface that answers
// neighbours, who has the first maxWireVIPs IPv4 VIPs for wireWindow, and
// reports the answers that come from one of this node's own interfaces: a
// node with two interfaces on one segment hears the leak of the other.
// (A frame sent on an interface never comes back to the same interface, so
// the rules of Leaks cover the single-interface case.) The director's
// answers, and any other host's, are not this agent's business.
const (
	maxWireVIPs = 32
	wireWindow  = 300 * time.Millisecond
)

// WireLeaks runs the wire probe. It needs CAP_NET_RAW.
func WireLeaks(ctx context.Context, vips []netip.Addr) ([]string, error) {
	var v4 []netip.Addr
	for _, v := range vips {
		if v.Is4() && len(v4) < maxWireVIPs {
			v4 = append(v4, v)
		}
	}
	if len(v4) == 0 {
		return nil, nil
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	own := map[string]string{}
	for _, ifi := range ifaces {
		if len(ifi.HardwareAddr) == 6 {
			own[ifi.HardwareAddr.String()] = ifi.Name
		}
	}
	ctx, cancel := context.WithTimeout(ctx, wireWindow)
	defer cancel()
	var (
		mu    sync.Mutex
		leaks []string
		errs  []error
		wg    sync.WaitGroup
	)
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || len(ifi.HardwareAddr) != 6 {
			continue
		}
		if answers, err := answersNeighbours(ifi.Name); err != nil || !answers {
			continue
		}
		wg.Add(1)
		go func(ifi net.Interface) {
			defer wg.Done()
			found, err := askOn(ctx, &ifi, v4, own)
			mu.Lock()
			defer mu.Unlock()
			leaks = append(leaks, found...)
			if err != nil {
				errs = append(errs, err)
			}
		}(ifi)
	}
	wg.Wait()
	sort.Strings(leaks)
	return leaks, errors.Join(errs...)
}

// askOn asks on one interface until ctx ends.
func askOn(ctx context.Context, ifi *net.Interface, vips []netip.Addr, own map[string]string) ([]string, error) {
	// ARP probes (sender 0.0.0.0, RFC 5227): the kernel answers them as
	// it answers requests (arp_ignore applies), but drops a request
	// whose sender is one of its own addresses, and a probe teaches
	// no neighbour anything.
	src := netip.IPv4Unspecified()
	conn, err := neigh.Listen(ifi)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	client, err := neigh.New(conn, ifi.HardwareAddr, src)
	if err != nil {
		return nil, err
	}
	asked := map[netip.Addr]bool{}
	for _, v := range vips {
		asked[v] = true
	}
	round := client.NewRound(vips)
	deadline, _ := ctx.Deadline()
	seen := map[string]bool{}
	var leaks []string
	buf := make([]byte, 1500)
	for ctx.Err() == nil {
		if now := time.Now(); !now.Before(round.Next()) {
			if err := round.Send(now); err != nil {
				return leaks, err
			}
		}
		until := round.Next()
		if deadline.Before(until) {
			until = deadline
		}
		if err := conn.SetReadDeadline(until); err != nil {
			return leaks, err
		}
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return leaks, fmt.Errorf("reading ARP replies on %s: %w", ifi.Name, err)
		}
		ip, mac, ok := neigh.ParseReply(buf[:n])
		if !ok || !asked[ip] {
			continue
		}
		if name, ours := own[mac.String()]; ours && mac.String() != ifi.HardwareAddr.String() {
			msg := fmt.Sprintf("%s (%s) answered ARP for VIP %v, asked on %s", name, mac, ip, ifi.Name)
			if !seen[msg] {
				seen[msg] = true
				leaks = append(leaks, msg)
			}
		}
	}
	return leaks, nil
}
