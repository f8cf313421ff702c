package action

import (
	"fmt"
	"net/netip"
	"strings"
)

// OwnedAddress holds host addresses on an interface, marked with a
// protocol number of their own (the kernel's IFA_PROTO, `ip address add
// ... proto N`), so that its Down removes only addresses it added: an
// address of the same value that someone else configured carries another
// protocol and is left alone. Owned lists what a previous run left behind.
// Linux only; elsewhere Up fails.
type OwnedAddress struct {
	Interface string
	Prefixes  []netip.Prefix
	// Protocol marks the addresses as ours; never 0 (unspecified).
	Protocol uint8
}

// Name describes the action.
func (a *OwnedAddress) Name() string {
	s := make([]string, len(a.Prefixes))
	for i, p := range a.Prefixes {
		s[i] = p.String()
	}
	return fmt.Sprintf("address %s on %s (proto %d)", strings.Join(s, ","), a.Interface, a.Protocol)
}

// CheckHost checks that the interface exists.
func (a *OwnedAddress) CheckHost() error { return interfaceExists(a.Interface) }

// Critical marks addresses as safety-relevant.
func (a *OwnedAddress) Critical() bool { return true }

// HostRoute installs a kernel route to one host (a /32 or /128) through an
// interface, with a routing protocol number of its own, so that its Down
// removes only the route it installed and a routing daemon can
// redistribute it by protocol. Linux only; elsewhere Up fails.
type HostRoute struct {
	Interface string
	Dest      netip.Addr
	// Protocol marks the route as ours; never 0.
	Protocol uint8
}

// Name describes the action.
func (r *HostRoute) Name() string {
	return fmt.Sprintf("route %s dev %s proto %d", netip.PrefixFrom(r.Dest, r.Dest.BitLen()), r.Interface, r.Protocol)
}

// CheckHost checks that the interface exists.
func (r *HostRoute) CheckHost() error { return interfaceExists(r.Interface) }

// Critical marks the route as safety-relevant.
func (r *HostRoute) Critical() bool { return true }
