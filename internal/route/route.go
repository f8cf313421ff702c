//go:build linux

// Package route asks the kernel which interface a packet to an address
// would leave by (the answer of `ip route get`), over rtnetlink.
package route

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Interface returns the outgoing interface of the route to addr in the
// calling thread's network namespace.
func Interface(addr netip.Addr) (*net.Interface, error) {
	index, err := outgoingIndex(addr)
	if err != nil {
		return nil, fmt.Errorf("no route to %v: %w", addr, err)
	}
	ifi, err := net.InterfaceByIndex(index)
	if err != nil {
		return nil, fmt.Errorf("interface of the route to %v: %w", addr, err)
	}
	return ifi, nil
}

// outgoingIndex sends RTM_GETROUTE for addr and returns the RTA_OIF of
// the answer.
func outgoingIndex(addr netip.Addr) (int, error) {
	if !addr.IsValid() {
		return 0, fmt.Errorf("no address")
	}
	addr = addr.Unmap()
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return 0, fmt.Errorf("opening rtnetlink: %w", err)
	}
	defer c.Close()
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETROUTE, Flags: netlink.Request},
		Data:   request(addr),
	})
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		if index, ok := parseOIF(m.Data); ok {
			return index, nil
		}
	}
	return 0, fmt.Errorf("the kernel's answer names no interface")
}

// request is an rtmsg (family, destination prefix length, the rest zero)
// followed by an RTA_DST attribute.
func request(addr netip.Addr) []byte {
	family := byte(unix.AF_INET)
	if addr.Is6() {
		family = unix.AF_INET6
	}
	rtm := make([]byte, unix.SizeofRtMsg)
	rtm[0], rtm[1] = family, byte(addr.BitLen())
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.RTA_DST, addr.AsSlice())
	attrs, _ := ae.Encode() // one fixed attribute: cannot fail
	return append(rtm, attrs...)
}

// parseOIF reads the outgoing interface index of an RTM_NEWROUTE message
// body.
func parseOIF(data []byte) (int, bool) {
	if len(data) < unix.SizeofRtMsg {
		return 0, false
	}
	ad, err := netlink.NewAttributeDecoder(data[unix.SizeofRtMsg:])
	if err != nil {
		return 0, false
	}
	for ad.Next() {
		if ad.Type() == unix.RTA_OIF && len(ad.Bytes()) == 4 {
			return int(binary.NativeEndian.Uint32(ad.Bytes())), true
		}
	}
	return 0, false
}
