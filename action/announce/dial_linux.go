//go:build linux

package announce

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
)

const etherTypeARP = 0x0806

// Dial opens the sockets needed to announce ips on the interface ifname
// (a raw AF_PACKET socket for IPv4, an ICMPv6 socket for IPv6). The caller
// closes the returned function when done.
func Dial(ifname string, ips []netip.Addr) (*Announcer, func() error, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, nil, fmt.Errorf("interface %s: %w", ifname, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, nil, fmt.Errorf("interface %s has no Ethernet address", ifname)
	}
	a := &Announcer{HardwareAddr: ifi.HardwareAddr}
	var closers []func() error
	closeAll := func() error {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c())
		}
		return errors.Join(errs...)
	}
	var v4, v6 bool
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	if v4 {
		c, err := packet.Listen(ifi, packet.Raw, etherTypeARP, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("ARP socket on %s: %w", ifname, err)
		}
		a.ARP = c
		closers = append(closers, c.Close)
	}
	if v6 {
		c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
		if err != nil {
			_ = closeAll()
			return nil, nil, fmt.Errorf("NDP socket on %s: %w", ifname, err)
		}
		a.NDP = c
		closers = append(closers, c.Close)
	}
	return a, closeAll, nil
}
