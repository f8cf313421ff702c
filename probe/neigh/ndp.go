package neigh

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
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
	eth := &layers.Ethernet{SrcMAC: c.mac, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolICMPv6, HopLimit: 255,
		SrcIP: c.src.AsSlice(), DstIP: group.AsSlice()}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth, ip, gopacket.Payload(icmp)); err != nil {
		return fmt.Errorf("encoding a neighbour solicitation frame for %v: %w", target, err)
	}
	if _, err := c.conn.WriteTo(buf.Bytes(), &packet.Addr{HardwareAddr: dstMAC}); err != nil {
		return fmt.Errorf("sending a neighbour solicitation for %v: %w", target, err)
	}
	return nil
}

// parseAdvertisement returns the target of an IPv6 neighbour advertisement
// in an Ethernet frame and its link-layer address (the target link-layer
// address option, else the frame's source).
func parseAdvertisement(frame []byte) (netip.Addr, net.HardwareAddr, bool) {
	var (
		eth     layers.Ethernet
		ip      layers.IPv6
		decoded []gopacket.LayerType
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip)
	p.IgnoreUnsupported = true
	if err := p.DecodeLayers(frame, &decoded); err != nil || len(decoded) != 2 ||
		ip.NextHeader != layers.IPProtocolICMPv6 || ip.HopLimit != 255 {
		return netip.Addr{}, nil, false
	}
	m, err := ndp.ParseMessage(ip.Payload)
	if err != nil {
		return netip.Addr{}, nil, false
	}
	na, ok := m.(*ndp.NeighborAdvertisement)
	if !ok || !na.TargetAddress.Is6() {
		return netip.Addr{}, nil, false
	}
	mac := net.HardwareAddr(append([]byte(nil), eth.SrcMAC...))
	for _, o := range na.Options {
		if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target && len(lla.Addr) == 6 {
			mac = lla.Addr
		}
	}
	if len(mac) != 6 {
		return netip.Addr{}, nil, false
	}
	return na.TargetAddress, mac, true
}
