//go:build linux

// Package ifaddr adds, lists and removes interface addresses marked with a
// protocol number of their own (the kernel's IFA_PROTO, Linux 5.18 and
// later; `ip address add ... proto N`), so that a program finds what it
// added from the kernel alone: an address of the same value that someone
// else configured carries another protocol. It is the mechanism under
// action.OwnedAddress, small enough for a one-shot agent to link.
package ifaddr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ifaProto is IFA_PROTO of linux/if_addr.h (Linux 5.18).
const ifaProto = 11

// addrMsg builds an RTM_NEWADDR or RTM_DELADDR request for p on link;
// ifaFlags other than 0 are the address's IFA_F_* flags (IFA_FLAGS, which
// holds the flags above the first eight), else IPv6 gets nodad.
func addrMsg(typ, flags int, index int, p netip.Prefix, proto uint8, ifaFlags uint32) *nl.NetlinkRequest {
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
	if ifaFlags != 0 {
		req.AddData(nl.NewRtAttr(unix.IFA_FLAGS, binary.NativeEndian.AppendUint32(nil, ifaFlags)))
	}
	return req
}

// Conn is a netlink socket that many requests share: opening one per
// address costs a bulk add a third of its time. A nil *Conn opens one per
// request.
type Conn struct{ sh *nl.SocketHandle }

// Dial opens a Conn in the current network namespace.
func Dial() (*Conn, error) {
	s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening a netlink socket: %w", err)
	}
	if err := s.SetSendTimeout(&nl.SocketTimeoutTv); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.SetReceiveTimeout(&nl.SocketTimeoutTv); err != nil {
		s.Close()
		return nil, err
	}
	return &Conn{sh: &nl.SocketHandle{Socket: s}}, nil
}

// Close closes the socket.
func (c *Conn) Close() {
	if c != nil {
		c.sh.Close()
	}
}

// Add adds p as (*Conn).Add does, over a socket of its own.
func Add(index int, p netip.Prefix, proto uint8, ifaFlags uint32) error {
	var c *Conn
	return c.Add(index, p, proto, ifaFlags)
}

// Add adds p to the interface of index index, marked with protocol proto
// (never 0), with the IFA_F_* flags ifaFlags (0: nodad for IPv6). An
// address that is there already, whoever added it, fails with an error
// wrapping unix.EEXIST (fs.ErrExist).
func (c *Conn) Add(index int, p netip.Prefix, proto uint8, ifaFlags uint32) error {
	if proto == 0 {
		return errors.New("marked address: protocol 0")
	}
	req := addrMsg(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, index, p, proto, ifaFlags)
	if c != nil {
		req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: c.sh}
	}
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
		return fmt.Errorf("adding %s: %w", p, err)
	}
	return nil
}

// Remove removes the addresses from the interface (as listed by Owned);
// absent ones are fine.
func Remove(iface string, prefixes []netip.Prefix) error {
	if len(prefixes) == 0 {
		return nil
	}
	link, err := netlink.LinkByName(iface)
	if err != nil {
		return fmt.Errorf("interface %s: %w", iface, err)
	}
	var errs []error
	for _, p := range prefixes {
		req := addrMsg(unix.RTM_DELADDR, 0, link.Attrs().Index, p, 0, 0)
		if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("removing %s from %s: %w", p, iface, err))
		}
	}
	return errors.Join(errs...)
}

// Addr is an address of an interface and the protocol that marks it (0
// for none).
type Addr struct {
	Prefix netip.Prefix
	Proto  uint8
}

// dumpTries bounds how many times List asks again for a dump that the
// kernel reports interrupted (NLM_F_DUMP_INTR: an address anywhere in the
// namespace came or went while the dump, one batch of messages at a time,
// was under way). With thousands of addresses on the node, one change
// meanwhile is common; a listing taken on such a dump may miss addresses.
const dumpTries = 50

// Dump returns what dump lists, taking the dump again while the kernel
// reports it interrupted, up to dumpTries times; its error wraps
// nl.ErrDumpInterrupted when every one was.
func Dump[T any](dump func() (T, error)) (T, error) {
	var v T
	var err error
	for range dumpTries {
		if v, err = dump(); !errors.Is(err, nl.ErrDumpInterrupted) {
			return v, err
		}
	}
	var zero T
	return zero, fmt.Errorf("%d dumps, each interrupted by changes meanwhile: %w", dumpTries, err)
}

// List returns the addresses of the interface of index index, with their
// marks, taking a dump the kernel reports interrupted again (Dump).
func List(index int) ([]Addr, error) {
	msgs, err := Dump(func() ([][]byte, error) {
		req := nl.NewNetlinkRequest(unix.RTM_GETADDR, unix.NLM_F_DUMP)
		req.AddData(nl.NewIfAddrmsg(unix.AF_UNSPEC))
		return req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWADDR)
	})
	if err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	var out []Addr
	for _, m := range msgs {
		if a, ok := parseAddr(m, index); ok {
			out = append(out, a)
		}
	}
	return out, nil
}

// Owned lists the addresses of the interface that carry protocol proto.
func Owned(iface string, proto uint8) ([]netip.Prefix, error) {
	link, err := netlink.LinkByName(iface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", iface, err)
	}
	all, err := List(link.Attrs().Index)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", iface, err)
	}
	var out []netip.Prefix
	for _, a := range all {
		if a.Proto == proto {
			out = append(out, a.Prefix)
		}
	}
	return out, nil
}

// parseAddr parses one RTM_NEWADDR message and returns its address if it
// is on the interface index.
func parseAddr(m []byte, index int) (Addr, bool) {
	if len(m) < unix.SizeofIfAddrmsg {
		return Addr{}, false
	}
	msg := nl.DeserializeIfAddrmsg(m)
	if int(msg.Index) != index {
		return Addr{}, false
	}
	var got uint8
	var addr, local []byte
	ok := eachAttr(m[unix.SizeofIfAddrmsg:], func(typ uint16, v []byte) {
		switch typ {
		case ifaProto:
			if len(v) > 0 {
				got = v[0]
			}
		case unix.IFA_ADDRESS:
			addr = v
		case unix.IFA_LOCAL:
			local = v
		}
	})
	if !ok {
		return Addr{}, false
	}
	if local != nil {
		addr = local
	}
	ip, ok := netip.AddrFromSlice(addr)
	if !ok || int(msg.Prefixlen) > ip.BitLen() {
		return Addr{}, false
	}
	return Addr{Prefix: netip.PrefixFrom(ip, int(msg.Prefixlen)), Proto: got}, true
}

// eachAttr calls f with the type and value of each netlink attribute in b
// and reports whether b holds whole attributes only (nl.ParseRouteAttr
// panics on a length that runs past its value's end).
func eachAttr(b []byte, f func(typ uint16, v []byte)) bool {
	for len(b) > 0 {
		if len(b) < unix.SizeofRtAttr {
			return false
		}
		n := int(binary.NativeEndian.Uint16(b))
		if n < unix.SizeofRtAttr || n > len(b) {
			return false
		}
		f(binary.NativeEndian.Uint16(b[2:])&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER), b[unix.SizeofRtAttr:n])
		b = b[min((n+unix.RTA_ALIGNTO-1)&^(unix.RTA_ALIGNTO-1), len(b)):]
	}
	return true
}
