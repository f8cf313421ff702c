//go:build linux

package realserver

import (
	"fmt"
	"net/netip"
	"os"
	"sort"
)

// Leaks returns, for each interface of this node that answers neighbours,
// why the kernel would answer ARP or neighbour solicitation for one of the
// VIPs on it, or announce one as the sender of its own ARP requests. It
// applies the kernel's rules (net/ipv4/arp.c arp_ignore and
// arp_announce, the larger of conf/all and conf/IFACE; IPv6 answers
// solicitations only for addresses of the interface asked on) to the
// node's interfaces, addresses and sysctls: a frame sent from this node
// never comes back to its own stack, so asking on the wire cannot see
// the node's own answer.
func Leaks(vips []netip.Addr) ([]string, error) {
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	var leaks []string
	for _, e := range entries {
		name := e.Name()
		answers, err := answersNeighbours(name)
		if err != nil || !answers {
			continue // gone since, or silent
		}
		l, err := openLink(name)
		if err != nil {
			continue
		}
		own, err := l.addresses()
		l.Close()
		if err != nil {
			return nil, err
		}
		leaks = append(leaks, interfaceLeaks(name, vips, own)...)
	}
	sort.Strings(leaks)
	return leaks, nil
}

// interfaceLeaks applies the rules to one interface.
func interfaceLeaks(name string, vips []netip.Addr, own map[netip.Addr]bool) []string {
	var leaks []string
	has4 := false
	for _, v := range vips {
		if own[v] {
			leaks = append(leaks, fmt.Sprintf("%s holds VIP %v and answers for it", name, v))
		}
		has4 = has4 || v.Is4()
	}
	if !has4 {
		return leaks
	}
	if ign, err := effective(name, arpIgnore); err == nil {
		if _, ok := wanted(arpIgnore, fmt.Sprint(ign)); !ok {
			leaks = append(leaks, fmt.Sprintf("%s answers ARP for every VIP (arp_ignore %d, the larger of all and %s)", name, ign, name))
		}
	}
	if ann, err := effective(name, arpAnnounce); err == nil && ann < 2 {
		leaks = append(leaks, fmt.Sprintf("%s may send a VIP as the source of ARP requests (arp_announce %d)", name, ann))
	}
	return leaks
}
