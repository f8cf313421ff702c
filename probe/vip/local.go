package vip

import (
	"fmt"
	"net"
	"net/netip"
)

// IsLocal reports whether addr is configured on any interface of this
// network namespace.
func IsLocal(addr netip.Addr) (bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false, fmt.Errorf("listing local addresses: %w", err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == addr {
			return true, nil
		}
	}
	return false, nil
}
