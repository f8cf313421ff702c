//go:build linux

package realserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ocfkit/ocfkit/action/ifaddr"
)

// errExists is returned by add for an address someone already configured.
var errExists = errors.New("address exists")

// link is one interface and netlink sockets to change its addresses.
type link struct {
	h    *netlink.Handle
	conn *ifaddr.Conn // opened by the first add
	link netlink.Link
	name string
}

// openLink returns the interface named name; errNoLink wraps a missing one.
func openLink(name string) (*link, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening a netlink socket: %w", err)
	}
	l, err := h.LinkByName(name)
	if err != nil {
		h.Close()
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("interface %s: %w", name, errNoLink)
		}
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	return &link{h: h, link: l, name: name}, nil
}

// errNoLink is wrapped by errors for an interface that does not exist.
var errNoLink = errors.New("no such interface")

func (l *link) Close() {
	l.h.Close()
	l.conn.Close()
}

// addresses returns the addresses on the interface.
func (l *link) addresses() (map[netip.Addr]bool, error) {
	return l.list(func(ifaddr.Addr) bool { return true })
}

// list returns the addresses on the interface that keep accepts.
func (l *link) list(keep func(ifaddr.Addr) bool) (map[netip.Addr]bool, error) {
	all, err := ifaddr.List(l.link.Attrs().Index)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.name, err)
	}
	out := make(map[netip.Addr]bool, len(all))
	for _, a := range all {
		if keep(a) {
			out[a.Prefix.Addr().Unmap()] = true
		}
	}
	return out, nil
}

// Protocol is the kernel protocol number (IFA_PROTO, Linux 5.18 and
// later) that marks every address the agent adds, so that what start
// brought up can be found in the kernel when the record of it is lost. It
// marks the agent's addresses, not one instance's: an address two
// instances list is added once. anycast-probe marks its own with 249.
const Protocol = ifaddr.ProtoRealserver

// vipFlags returns the IFA_F_* flags of a VIP: for IPv6 no duplicate
// address detection (usable at once; no other host may answer for it
// anyway) and no prefix route.
func vipFlags(a netip.Addr) uint32 {
	if a.Is6() {
		return unix.IFA_F_NODAD | unix.IFA_F_NOPREFIXROUTE
	}
	return 0
}

// nl returns the netlink form of a VIP: a host prefix.
func nl(a netip.Addr) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}, Flags: int(vipFlags(a))}
}

// add adds a as a host prefix marked with Protocol; errExists when it is
// there already.
func (l *link) add(a netip.Addr) error {
	if l.conn == nil {
		c, err := ifaddr.Dial()
		if err != nil {
			return err
		}
		l.conn = c
	}
	err := l.conn.Add(l.link.Attrs().Index, netip.PrefixFrom(a, a.BitLen()), Protocol, vipFlags(a))
	if errors.Is(err, unix.EEXIST) {
		return errExists
	}
	if err != nil {
		return fmt.Errorf("%s: %w", l.name, err)
	}
	return nil
}

// marked returns the addresses on the interface that carry Protocol.
func (l *link) marked() (map[netip.Addr]bool, error) {
	return l.list(func(a ifaddr.Addr) bool { return a.Proto == Protocol })
}

// del removes a; an address already gone is fine.
func (l *link) del(a netip.Addr) error {
	err := l.h.AddrDel(l.link, nl(a))
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("removing %v from %s: %w", a, l.name, err)
	}
	return nil
}

// Interface flags from /sys/class/net/NAME/flags.
const (
	iffLoopback = 0x8
	iffNoARP    = 0x80
)

// linkFlags returns an interface's flags.
func linkFlags(name string) (uint64, error) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/flags")
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16, 64)
}

// answersNeighbours reports whether an interface answers ARP and
// neighbour solicitations at all (not the loopback, not NOARP like dummy).
func answersNeighbours(name string) (bool, error) {
	f, err := linkFlags(name)
	if err != nil {
		return false, err
	}
	return f&(iffLoopback|iffNoARP) == 0, nil
}

// ipv6Disabled reports whether IPv6 is off on an interface.
func ipv6Disabled(name string) bool {
	v, err := readSysctl("/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6")
	return err != nil || v == "1"
}
