package neigh

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/packet"
)

// etherTypeIPv6 is the EtherType of IPv6 frames.
const etherTypeIPv6 = 0x86dd

// Sizes and values of the neighbour discovery messages (RFC 4861, section
// 4) the client sends and reads.
const (
	ethHeaderLen  = 14
	ipv6HeaderLen = 40
	// protoICMPv6 is ICMPv6's IPv6 next header value.
	protoICMPv6 = 58
	// ndpHopLimit is the only hop limit RFC 4861 lets neighbour discovery
	// messages carry; receivers drop the others as possibly off-link.
	ndpHopLimit = 255
	typeNS      = 135
	typeNA      = 136
	// naLen is an advertisement without options: the ICMPv6 type, code
	// and checksum, the flags and reserved bytes, and the target.
	naLen = 24
	// nsLen is a solicitation with one source link-layer address option:
	// type, code, checksum, reserved bytes, target and the option.
	nsLen = 24 + lladdrOptLen
	// lladdrOptLen is a link-layer address option for an Ethernet
	// address: type, length (in units of 8 bytes) and 6 bytes of address.
	lladdrOptLen = 8
	optSourceLLA = 1
	optTargetLLA = 2
)

// solicit multicasts one IPv6 neighbour solicitation (RFC 4861) for target
// to its solicited-node address, from c.src with our MAC as source
// link-layer address.
func (c *Client) solicit(target netip.Addr) error {
	if !target.Is6() || target.Is4In6() {
		return fmt.Errorf("neighbour solicitation for %v: not an IPv6 address", target)
	}
	frame := solicitation(c.mac, c.src, target)
	if _, err := c.conn.WriteTo(frame, &packet.Addr{HardwareAddr: net.HardwareAddr(frame[0:6])}); err != nil {
		return fmt.Errorf("sending a neighbour solicitation for %v: %w", target, err)
	}
	return nil
}

// solicitation returns the Ethernet frame of a neighbour solicitation for
// target from src and mac, to target's solicited-node multicast group
// (RFC 4291, section 2.7.1) at its Ethernet address (RFC 2464, section 7),
// with hop limit 255, a source link-layer address option and the ICMPv6
// checksum. It is written by hand: the header package of the userspace
// stack would bring gVisor into ocf-realserver, which uses this package
// too, and github.com/mdlayher/ndp brought 140 KB of Unicode tables.
func solicitation(mac net.HardwareAddr, src, target netip.Addr) []byte {
	t := target.As16()
	group := [16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff} // ff02::1:ff00:0/104
	copy(group[13:], t[13:])
	frame := make([]byte, ethHeaderLen+ipv6HeaderLen+nsLen)
	copy(frame[0:6], []byte{0x33, 0x33, group[12], group[13], group[14], group[15]})
	copy(frame[6:12], mac)
	binary.BigEndian.PutUint16(frame[12:14], etherTypeIPv6)
	ip := frame[ethHeaderLen:]
	ip[0] = 6 << 4 // version 6, traffic class and flow label 0
	binary.BigEndian.PutUint16(ip[4:6], nsLen)
	ip[6], ip[7] = protoICMPv6, ndpHopLimit
	s := src.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], group[:])
	icmp := ip[ipv6HeaderLen:]
	icmp[0] = typeNS
	copy(icmp[8:24], t[:])
	icmp[24], icmp[25] = optSourceLLA, lladdrOptLen/8
	copy(icmp[26:32], mac)
	binary.BigEndian.PutUint16(icmp[2:4], icmpv6Checksum(s, group, icmp))
	return frame
}

// icmpv6Checksum returns the checksum of an ICMPv6 message from src to dst
// whose checksum field is zero: the ones' complement of the ones'
// complement sum of the IPv6 pseudo-header and the message (RFC 4443,
// section 2.3; RFC 8200, section 8.1).
func icmpv6Checksum(src, dst [16]byte, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for ; len(b) >= 2; b = b[2:] {
			sum += uint32(b[0])<<8 | uint32(b[1])
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	add(src[:])
	add(dst[:])
	sum += uint32(len(msg))>>16 + uint32(len(msg))&0xffff + protoICMPv6
	add(msg)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// parseAdvertisement returns the target of an IPv6 neighbour advertisement
// in an Ethernet frame and its link-layer address (the last target
// link-layer address option, else the frame's source). It takes only
// advertisements with hop limit 255 right behind the IPv6 header.
func parseAdvertisement(frame []byte) (netip.Addr, net.HardwareAddr, bool) {
	if len(frame) < ethHeaderLen+ipv6HeaderLen || binary.BigEndian.Uint16(frame[12:14]) != etherTypeIPv6 {
		return netip.Addr{}, nil, false
	}
	ip := frame[ethHeaderLen:]
	if ip[0]>>4 != 6 || ip[6] != protoICMPv6 || ip[7] != ndpHopLimit {
		return netip.Addr{}, nil, false
	}
	end := ethHeaderLen + ipv6HeaderLen + int(binary.BigEndian.Uint16(ip[4:6]))
	if end > len(frame) {
		return netip.Addr{}, nil, false
	}
	target, lla, ok := parseNA(frame[ethHeaderLen+ipv6HeaderLen : end])
	if !ok {
		return netip.Addr{}, nil, false
	}
	if lla == nil {
		lla = frame[6:12]
	}
	return target, net.HardwareAddr(append([]byte(nil), lla...)), true
}

// parseNA parses an ICMPv6 neighbour advertisement (RFC 4861, section 4.4)
// and returns its target and the Ethernet address of its last target
// link-layer address option, nil without one. It refuses what
// github.com/mdlayher/ndp, which it replaced, refused: a message too short
// for its target, an IPv4-mapped target, an option running past the end
// or of length 0 (section 4.6: receivers silently discard these), and a
// link-layer address option not 8 bytes long. Other options it skips
// unread, as section 4.6 asks of options a receiver does not use. Like
// ndp it does not check the ICMPv6 code or checksum.
func parseNA(b []byte) (netip.Addr, []byte, bool) {
	if len(b) < naLen || b[0] != typeNA {
		return netip.Addr{}, nil, false
	}
	target := netip.AddrFrom16([16]byte(b[8:24]))
	if target.Is4In6() {
		return netip.Addr{}, nil, false
	}
	var lla []byte
	for opts := b[naLen:]; len(opts) > 0; {
		if len(opts) < 2 {
			return netip.Addr{}, nil, false
		}
		n := int(opts[1]) * 8
		if n == 0 || n > len(opts) {
			return netip.Addr{}, nil, false
		}
		switch opts[0] {
		case optSourceLLA, optTargetLLA:
			if n != lladdrOptLen {
				return netip.Addr{}, nil, false
			}
			if opts[0] == optTargetLLA {
				lla = opts[2:lladdrOptLen]
			}
		}
		opts = opts[n:]
	}
	return target, lla, true
}
