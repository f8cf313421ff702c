//go:build linux

package action

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ocfkit/ocfkit/action/ifaddr"
)

// Up adds the addresses with the action's protocol. An address already
// there is left as it is (whoever added it owns it).
func (a *OwnedAddress) Up(ctx context.Context) error {
	if a.Protocol == 0 {
		return errors.New("owned address: protocol 0")
	}
	link, err := netlink.LinkByName(a.Interface)
	if err != nil {
		return fmt.Errorf("interface %s: %w", a.Interface, err)
	}
	for _, p := range a.Prefixes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := ifaddr.Add(link.Attrs().Index, p, a.Protocol, 0); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("%s: %w", a.Interface, err)
		}
	}
	return nil
}

// Down removes those of the addresses that carry the action's protocol;
// a missing interface or address is fine. It runs even when ctx has ended.
func (a *OwnedAddress) Down(ctx context.Context) error {
	owned, err := ifaddr.Owned(a.Interface, a.Protocol)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	mine := map[netip.Prefix]bool{}
	for _, p := range owned {
		mine[p] = true
	}
	var rm []netip.Prefix
	for _, p := range a.Prefixes {
		if mine[p.Masked()] || mine[p] {
			rm = append(rm, p)
		}
	}
	return ifaddr.Remove(a.Interface, rm)
}

// RemoveOwned removes the addresses from the interface (as listed by
// Owned); absent ones are fine.
func RemoveOwned(iface string, prefixes []netip.Prefix) error { return ifaddr.Remove(iface, prefixes) }

// Owned lists the addresses of the interface that carry protocol proto.
func Owned(iface string, proto uint8) ([]netip.Prefix, error) { return ifaddr.Owned(iface, proto) }

func (r *HostRoute) route(link netlink.Link) *netlink.Route {
	bits := r.Dest.BitLen()
	return &netlink.Route{
		LinkIndex: link.Attrs().Index,
		Dst:       &net.IPNet{IP: r.Dest.AsSlice(), Mask: net.CIDRMask(bits, bits)},
		Protocol:  netlink.RouteProtocol(r.Protocol),
		Scope:     netlink.SCOPE_LINK,
	}
}

// Up installs (or replaces) the route.
func (r *HostRoute) Up(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.Protocol == 0 {
		return errors.New("host route: protocol 0")
	}
	link, err := netlink.LinkByName(r.Interface)
	if err != nil {
		return fmt.Errorf("interface %s: %w", r.Interface, err)
	}
	if err := netlink.RouteReplace(r.route(link)); err != nil {
		return fmt.Errorf("installing %s: %w", r.Name(), err)
	}
	return nil
}

// Down removes the route if it carries the action's protocol.
func (r *HostRoute) Down(ctx context.Context) error {
	link, err := netlink.LinkByName(r.Interface)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("interface %s: %w", r.Interface, err)
	}
	want := r.route(link)
	family := netlink.FAMILY_V4
	if r.Dest.Is6() {
		family = netlink.FAMILY_V6
	}
	routes, err := netlink.RouteListFiltered(family, &netlink.Route{Dst: want.Dst, Protocol: want.Protocol, LinkIndex: want.LinkIndex},
		netlink.RT_FILTER_DST|netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_OIF)
	if err != nil {
		return fmt.Errorf("listing routes to %s: %w", r.Dest, err)
	}
	var errs []error
	for i := range routes {
		if err := netlink.RouteDel(&routes[i]); err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("removing %s: %w", r.Name(), err))
		}
	}
	return errors.Join(errs...)
}
