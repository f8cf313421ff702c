package neigh

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
)

// etherTypeIPv6 is the EtherType of IPv6 frames.
const etherTypeIPv6 = 0x86dd

// solicit multicasts one IPv6 neighbour solicitation (RFC 4861) for target
// to its solicited-node address, from c.src with our MAC as source
// link-layer address.
func (c *Client) solicit(target netip.Addr) error {
	group, err := ndp.SolicitedNodeMulticast(target)
	if err != nil {
		return fmt.Errorf("neighbour solicitation for %v: %w", target, err)
	}
	ns := &ndp.NeighborSolicitation{TargetAddress: target,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: c.mac}}}
	icmp, err := ndp.MarshalMessageChecksum(ns, c.src, group)
	if err != nil {
		return fmt.Errorf("encoding a neighbour solicitation for %v: %w", target, err)
	}
	g := group.As16()
	dstMAC := net.HardwareAddr{0x33, 0x33, g[12], g[13], g[14], g[15]}
	frame := make([]byte, 14+40, 14+40+len(icmp))
	copy(frame[0:6], dstMAC)
	copy(frame[6:12], c.mac)
	binary.BigEndian.PutUint16(frame[12:14], etherTypeIPv6)
	frame[14] = 6 << 4 // version 6, traffic class and flow label 0
	binary.BigEndian.PutUint16(frame[18:20], uint16(len(icmp)))
	frame[20], frame[21] = 58, 255 // next header ICMPv6, hop limit 255 (RFC 4861)
	src := c.src.As16()
	copy(frame[22:38], src[:])
	copy(frame[38:54], g[:])
	frame = append(frame, icmp...)
	if _, err := c.conn.WriteTo(frame, &packet.Addr{HardwareAddr: dstMAC}); err != nil {
		return fmt.Errorf("sending a neighbour solicitation for %v: %w", target, err)
	}
	return nil
}

// parseAdvertisement returns the target of an IPv6 neighbour advertisement
// in an Ethernet frame and its link-layer address (the target link-layer
// address option, else the frame's source).
func parseAdvertisement(frame []byte) (netip.Addr, net.HardwareAddr, bool) {
	if len(frame) < 14+40 || binary.BigEndian.Uint16(frame[12:14]) != etherTypeIPv6 || frame[14]>>4 != 6 ||
		frame[20] != 58 || frame[21] != 255 {
		return netip.Addr{}, nil, false
	}
	end := 14 + 40 + int(binary.BigEndian.Uint16(frame[18:20]))
	if end > len(frame) {
		return netip.Addr{}, nil, false
	}
	m, err := ndp.ParseMessage(frame[14+40 : end])
	if err != nil {
		return netip.Addr{}, nil, false
	}
	na, ok := m.(*ndp.NeighborAdvertisement)
	if !ok || !na.TargetAddress.Is6() {
		return netip.Addr{}, nil, false
	}
	mac := net.HardwareAddr(append([]byte(nil), frame[6:12]...))
	for _, o := range na.Options {
		if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target && len(lla.Addr) == 6 {
			mac = lla.Addr
		}
	}
	return na.TargetAddress, mac, true
}
