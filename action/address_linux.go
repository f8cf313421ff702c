//go:build linux

package action

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ocfkit/ocfkit/action/ifaddr"
)

func (a *Address) nl(p netip.Prefix) *netlink.Addr {
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		addr.Flags = unix.IFA_F_NODAD // usable (and announceable) at once
	}
	return addr
}

// hasIPv4 reports whether any of the addresses is IPv4.
func (a *Address) hasIPv4() bool {
	for _, p := range a.Prefixes {
		if p.Addr().Is4() {
			return true
		}
	}
	return false
}

// Up adds the addresses; present ones are left alone. For IPv4 it first
// sets promote_secondaries on the interface (see Down). Nothing is added
// once ctx has ended.
func (a *Address) Up(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	link, err := netlink.LinkByName(a.Interface)
	if err != nil {
		return fmt.Errorf("interface %s: %w", a.Interface, err)
	}
	if a.hasIPv4() {
		_ = a.promote() // Down checks again, and repairs
	}
	for _, p := range a.Prefixes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := netlink.AddrAdd(link, a.nl(p)); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("adding %s to %s: %w", p, a.Interface, err)
		}
	}
	return nil
}

// promoteSecondaries sets net.ipv4.conf.IFACE.promote_secondaries to 1
// and reports whether it changed; tests replace it.
var promoteSecondaries = func(iface string) (bool, error) {
	p := filepath.Join("/proc/sys/net/ipv4/conf", iface, "promote_secondaries")
	b, err := os.ReadFile(p)
	if err == nil && strings.TrimSpace(string(b)) == "1" {
		return false, nil
	}
	if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
		return false, fmt.Errorf("setting promote_secondaries on %s: %w", iface, err)
	}
	return true, nil
}

// promote sets promote_secondaries on the interface, saying so when it
// changed it.
func (a *Address) promote() error {
	changed, err := promoteSecondaries(a.Interface)
	if changed {
		a.logf("set net.ipv4.conf.%s.promote_secondaries=1: removing an address must not remove the others of its subnet", a.Interface)
	}
	return err
}

// Down removes the addresses; absent ones (or a missing interface) are
// fine. Removing the primary IPv4 address of a subnet makes Linux remove
// every secondary one in that subnet too (another group's address, the
// host's own) unless promote_secondaries is set on the interface: Down sets
// it first, as keepalived does, and then checks that every other address
// of the interface is still there, adding back (and logging) any that went
// with ours. Down runs even when ctx has ended: it is a few netlink calls,
// and an address left in force is the worse failure.
func (a *Address) Down(ctx context.Context) error {
	link, err := netlink.LinkByName(a.Interface)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("interface %s: %w", a.Interface, err)
	}
	var errs []error
	var before []netlink.Addr
	if a.hasIPv4() {
		if err := a.promote(); err != nil {
			a.logf("%v; will add back what the kernel removes", err)
		}
		if before, err = listV4(link); err != nil {
			errs = append(errs, fmt.Errorf("listing addresses of %s: %w", a.Interface, err))
		}
	}
	for _, p := range a.Prefixes {
		err := netlink.AddrDel(link, a.nl(p))
		if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("removing %s from %s: %w", p, a.Interface, err))
		}
	}
	if err := a.restore(link, before); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ours reports whether addr is one of the action's addresses.
func (a *Address) ours(addr netlink.Addr) bool {
	bits, _ := addr.Mask.Size()
	ip, ok := netip.AddrFromSlice(addr.IP)
	if !ok {
		return false
	}
	for _, p := range a.Prefixes {
		if p.Addr().Unmap() == ip.Unmap() && p.Bits() == bits {
			return true
		}
	}
	return false
}

// restore adds back the addresses of before, not ours, that are gone.
func (a *Address) restore(link netlink.Link, before []netlink.Addr) error {
	if len(before) == 0 {
		return nil
	}
	after, err := listV4(link)
	if err != nil {
		return fmt.Errorf("listing addresses of %s: %w", a.Interface, err)
	}
	present := map[string]bool{}
	for _, addr := range after {
		present[addr.IPNet.String()] = true
	}
	var errs []error
	for _, addr := range before {
		if a.ours(addr) || present[addr.IPNet.String()] {
			continue
		}
		addr.Flags &^= unix.IFA_F_SECONDARY | unix.IFA_F_PERMANENT | unix.IFA_F_TENTATIVE | unix.IFA_F_DEPRECATED | unix.IFA_F_DADFAILED
		if err := netlink.AddrAdd(link, &addr); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("adding back %s to %s (removed by the kernel with ours): %w", addr.IPNet, a.Interface, err))
			continue
		}
		a.logf("added back %s to %s: the kernel removed it with %s (promote_secondaries was off)", addr.IPNet, a.Interface, a.Name())
	}
	return errors.Join(errs...)
}

// listV4 lists the IPv4 addresses of link, taking a dump the kernel
// reports interrupted (an address changed anywhere meanwhile) again.
func listV4(link netlink.Link) ([]netlink.Addr, error) {
	return ifaddr.Dump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, netlink.FAMILY_V4) })
}
