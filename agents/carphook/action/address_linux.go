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
)

func (a *Address) nl(p netip.Prefix) *netlink.Addr {
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		addr.Flags = unix.IFA_F_NODAD // usable (and announceable) at once
	}
	return addr
}

// Up adds the addresses; present ones are left alone.
func (a *Address) Up(ctx context.Context) error {
	link, err := netlink.LinkByName(a.Interface)
	if err != nil {
		return fmt.Errorf("interface %s: %w", a.Interface, err)
	}
	for _, p := range a.Prefixes {
		if err := netlink.AddrAdd(link, a.nl(p)); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("adding %s to %s: %w", p, a.Interface, err)
		}
	}
	return nil
}

// Down removes the addresses; absent ones (or a missing interface) are fine.
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
	for _, p := range a.Prefixes {
		err := netlink.AddrDel(link, a.nl(p))
		if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("removing %s from %s: %w", p, a.Interface, err))
		}
	}
	return errors.Join(errs...)
}
