package vip

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// flow is one probe connection as it appears on the wire: from our
// interface and address to the VIP, in frames for the real server's MAC.
type flow struct {
	localMAC, serverMAC net.HardwareAddr
	src, vip            netip.Addr
	sport, dport        uint16
}

// tcpFlags are the TCP flags the probe sends or looks at.
type tcpFlags struct{ SYN, ACK, RST, FIN bool }

// frame builds one Ethernet/IPv4/TCP (or IPv6/TCP) frame of the flow with
// the given sequence and acknowledgement numbers and flags. A SYN carries an
// MSS option like a real client's. Headers and checksums come from
// netstack's header package, which the userspace stack uses as well.
func (f *flow) frame(seq, ack uint32, fl tcpFlags, mss uint16, ipID uint16) ([]byte, error) {
	if len(f.localMAC) != 6 || len(f.serverMAC) != 6 {
		return nil, fmt.Errorf("encoding a TCP frame to %v:%d: no Ethernet addresses", f.vip, f.dport)
	}
	tcpLen := header.TCPMinimumSize
	if fl.SYN {
		tcpLen += 4 // MSS option
	}
	ipLen, ethType := header.IPv4MinimumSize, uint16(header.IPv4ProtocolNumber)
	if f.vip.Is6() {
		ipLen, ethType = header.IPv6MinimumSize, uint16(header.IPv6ProtocolNumber)
	}
	b := make([]byte, 14+ipLen+tcpLen)
	copy(b[0:6], f.serverMAC)
	copy(b[6:12], f.localMAC)
	binary.BigEndian.PutUint16(b[12:14], ethType)
	src, dst := tcpip.AddrFromSlice(f.src.AsSlice()), tcpip.AddrFromSlice(f.vip.AsSlice())
	if f.vip.Is6() {
		header.IPv6(b[14:]).Encode(&header.IPv6Fields{PayloadLength: uint16(tcpLen),
			TransportProtocol: header.TCPProtocolNumber, HopLimit: 64, SrcAddr: src, DstAddr: dst})
	} else {
		ip := header.IPv4(b[14:])
		ip.Encode(&header.IPv4Fields{TotalLength: uint16(ipLen + tcpLen), ID: ipID, Flags: header.IPv4FlagDontFragment,
			TTL: 64, Protocol: uint8(header.TCPProtocolNumber), SrcAddr: src, DstAddr: dst})
		ip.SetChecksum(^ip.CalculateChecksum())
	}
	var flags header.TCPFlags
	for _, x := range []struct {
		set  bool
		flag header.TCPFlags
	}{{fl.SYN, header.TCPFlagSyn}, {fl.ACK, header.TCPFlagAck}, {fl.RST, header.TCPFlagRst}, {fl.FIN, header.TCPFlagFin}} {
		if x.set {
			flags |= x.flag
		}
	}
	t := header.TCP(b[14+ipLen:])
	t.Encode(&header.TCPFields{SrcPort: f.sport, DstPort: f.dport, SeqNum: seq, AckNum: ack,
		DataOffset: uint8(tcpLen), Flags: flags, WindowSize: 64240})
	if fl.SYN {
		copy(t[header.TCPMinimumSize:], []byte{header.TCPOptionMSS, 4, byte(mss >> 8), byte(mss)})
	}
	xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(tcpLen))
	t.SetChecksum(^t.CalculateChecksum(xsum))
	return b, nil
}

// segment is what the probe needs to know of a received TCP frame.
type segment struct {
	srcMAC       net.HardwareAddr
	src, dst     netip.Addr
	sport, dport uint16
	seq, ack     uint32
	flags        tcpFlags
	payload      int
}

// parseSegment decodes an Ethernet/IPv4/TCP or Ethernet/IPv6/TCP frame; ok
// is false for anything else (other protocols, fragments, extension
// headers, truncated or malformed frames).
func parseSegment(frame []byte) (s segment, ok bool) {
	if len(frame) < 14 {
		return segment{}, false
	}
	src, dst, t, ok := parseTCP(tcpip.NetworkProtocolNumber(binary.BigEndian.Uint16(frame[12:14])), frame[14:])
	if !ok {
		return segment{}, false
	}
	fl := t.Flags()
	return segment{
		srcMAC: append(net.HardwareAddr(nil), frame[6:12]...),
		src:    src, dst: dst,
		sport: t.SourcePort(), dport: t.DestinationPort(),
		seq: t.SequenceNumber(), ack: t.AckNumber(),
		flags: tcpFlags{SYN: fl.Contains(header.TCPFlagSyn), ACK: fl.Contains(header.TCPFlagAck),
			RST: fl.Contains(header.TCPFlagRst), FIN: fl.Contains(header.TCPFlagFin)},
		payload: len(t) - int(t.DataOffset()),
	}, true
}

// parseTCP decodes an IP packet of protocol proto (IPv4 or IPv6, the
// EtherType) that carries a TCP segment, and returns its addresses and the
// segment; ok is false for anything else (other protocols, fragments,
// extension headers, truncated or malformed packets).
func parseTCP(proto tcpip.NetworkProtocolNumber, b []byte) (src, dst netip.Addr, t header.TCP, ok bool) {
	switch proto {
	case header.IPv4ProtocolNumber:
		ip := header.IPv4(b)
		if len(ip) < header.IPv4MinimumSize || ip[0]>>4 != 4 {
			return src, dst, nil, false
		}
		hl, total := int(ip.HeaderLength()), int(ip.TotalLength())
		if hl < header.IPv4MinimumSize || total < hl || total > len(ip) || ip.More() || ip.FragmentOffset() != 0 ||
			ip.Protocol() != uint8(header.TCPProtocolNumber) {
			return src, dst, nil, false
		}
		src, dst, t = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20])), header.TCP(ip[hl:total])
	case header.IPv6ProtocolNumber:
		ip := header.IPv6(b)
		if len(ip) < header.IPv6MinimumSize || ip[0]>>4 != 6 || ip.NextHeader() != uint8(header.TCPProtocolNumber) {
			return src, dst, nil, false
		}
		end := header.IPv6MinimumSize + int(ip.PayloadLength())
		if end > len(ip) {
			return src, dst, nil, false
		}
		src, dst, t = netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40])), header.TCP(ip[header.IPv6MinimumSize:end])
	default:
		return src, dst, nil, false
	}
	if len(t) < header.TCPMinimumSize || int(t.DataOffset()) < header.TCPMinimumSize || int(t.DataOffset()) > len(t) {
		return src, dst, nil, false
	}
	return src, dst, t, true
}
