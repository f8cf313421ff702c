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
)

// errExists is returned by add for an address someone already configured.
var errExists = errors.New("address exists")

// link is one interface and a netlink socket to change its addresses.
type link struct {
	h    *netlink.Handle
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

func (l *link) Close() { l.h.Close() }

// addresses returns the addresses on the interface.
func (l *link) addresses() (map[netip.Addr]bool, error) {
	list, err := l.h.AddrList(l.link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("listing the addresses of %s: %w", l.name, err)
	}
	out := make(map[netip.Addr]bool, len(list))
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out[ip.Unmap()] = true
		}
	}
	return out, nil
}

// nl returns the netlink form of a VIP: a host prefix, for IPv6 without
// duplicate address detection (usable at once; no other host may answer
// for it anyway) and without a prefix route.
func nl(a netip.Addr) *netlink.Addr {
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}}
	if a.Is6() {
		addr.Flags = unix.IFA_F_NODAD | unix.IFA_F_NOPREFIXROUTE
	}
	return addr
}

// add adds a as a host prefix; errExists when it is there already.
func (l *link) add(a netip.Addr) error {
	err := l.h.AddrAdd(l.link, nl(a))
	if errors.Is(err, unix.EEXIST) {
		return errExists
	}
	if err != nil {
		return fmt.Errorf("adding %v to %s: %w", a, l.name, err)
	}
	return nil
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
