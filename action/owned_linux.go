//go:build linux

package action

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// ifaProto is IFA_PROTO of linux/if_addr.h (Linux 5.18).
const ifaProto = 11

// addrMsg builds an RTM_NEWADDR or RTM_DELADDR request for p on link.
func addrMsg(typ, flags int, index int, p netip.Prefix, proto uint8) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(typ, flags|unix.NLM_F_ACK)
	family := unix.AF_INET
	if p.Addr().Is6() {
		family = unix.AF_INET6
	}
	msg := nl.NewIfAddrmsg(family)
	msg.Index = uint32(index)
	msg.Prefixlen = uint8(p.Bits())
	if p.Addr().Is6() {
		msg.Flags = unix.IFA_F_NODAD
	}
	req.AddData(msg)
	b := p.Addr().AsSlice()
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, b))
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, b))
	if proto != 0 {
		req.AddData(nl.NewRtAttr(ifaProto, []byte{proto}))
	}
	return req
}

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
		req := addrMsg(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, link.Attrs().Index, p, a.Protocol)
		if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("adding %s to %s: %w", p, a.Interface, err)
		}
	}
	return nil
}

// Down removes those of the addresses that carry the action's protocol;
// a missing interface or address is fine. It runs even when ctx has ended.
func (a *OwnedAddress) Down(ctx context.Context) error {
	owned, err := Owned(a.Interface, a.Protocol)
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
	return RemoveOwned(a.Interface, rm)
}

// RemoveOwned removes the addresses from the interface (as listed by
// Owned); absent ones are fine.
func RemoveOwned(iface string, prefixes []netip.Prefix) error {
	if len(prefixes) == 0 {
		return nil
	}
	link, err := netlink.LinkByName(iface)
	if err != nil {
		return fmt.Errorf("interface %s: %w", iface, err)
	}
	var errs []error
	for _, p := range prefixes {
		req := addrMsg(unix.RTM_DELADDR, 0, link.Attrs().Index, p, 0)
		if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("removing %s from %s: %w", p, iface, err))
		}
	}
	return errors.Join(errs...)
}

// Owned lists the addresses of the interface that carry protocol proto.
func Owned(iface string, proto uint8) ([]netip.Prefix, error) {
	link, err := netlink.LinkByName(iface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", iface, err)
	}
	req := nl.NewNetlinkRequest(unix.RTM_GETADDR, unix.NLM_F_DUMP)
	req.AddData(nl.NewIfAddrmsg(unix.AF_UNSPEC))
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWADDR)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s: %w", iface, err)
	}
	var out []netip.Prefix
	for _, m := range msgs {
		if p, ok := ownedIn(m, link.Attrs().Index, proto); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// ownedIn parses one RTM_NEWADDR message and returns its address if it is
// on the interface index and carries proto.
func ownedIn(m []byte, index int, proto uint8) (netip.Prefix, bool) {
	if len(m) < unix.SizeofIfAddrmsg {
		return netip.Prefix{}, false
	}
	msg := nl.DeserializeIfAddrmsg(m)
	if int(msg.Index) != index {
		return netip.Prefix{}, false
	}
	attrs, err := nl.ParseRouteAttr(m[unix.SizeofIfAddrmsg:])
	if err != nil {
		return netip.Prefix{}, false
	}
	var got uint8
	var addr, local net.IP
	for _, at := range attrs {
		switch at.Attr.Type {
		case ifaProto:
			if len(at.Value) > 0 {
				got = at.Value[0]
			}
		case unix.IFA_ADDRESS:
			addr = at.Value
		case unix.IFA_LOCAL:
			local = at.Value
		}
	}
	if local != nil {
		addr = local
	}
	ip, ok := netip.AddrFromSlice(addr)
	if got != proto || !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(ip, int(msg.Prefixlen)), true
}

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
