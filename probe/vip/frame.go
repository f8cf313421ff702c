package vip

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
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

// frame builds one Ethernet/IPv4/TCP frame of the flow with the given
// sequence and acknowledgement numbers and flags. A SYN carries an MSS option
// like a real client's.
func (f *flow) frame(seq, ack uint32, fl tcpFlags, mss uint16, ipID uint16) ([]byte, error) {
	eth := &layers.Ethernet{SrcMAC: f.localMAC, DstMAC: f.serverMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{
		Version: 4, TTL: 64, Id: ipID, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP,
		SrcIP: f.src.AsSlice(), DstIP: f.vip.AsSlice(),
	}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(f.sport), DstPort: layers.TCPPort(f.dport),
		Seq: seq, Ack: ack, SYN: fl.SYN, ACK: fl.ACK, RST: fl.RST, FIN: fl.FIN, Window: 64240,
	}
	if fl.SYN {
		tcp.Options = []layers.TCPOption{{
			OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{byte(mss >> 8), byte(mss)},
		}}
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, fmt.Errorf("preparing the TCP checksum: %w", err)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, eth, ip, tcp); err != nil {
		return nil, fmt.Errorf("encoding a TCP frame to %v:%d: %w", f.vip, f.dport, err)
	}
	return buf.Bytes(), nil
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

// parseSegment decodes an Ethernet/IPv4/TCP frame; ok is false for anything
// else (other protocols, fragments, truncated or malformed frames).
func parseSegment(frame []byte) (s segment, ok bool) {
	var (
		eth     layers.Ethernet
		ip      layers.IPv4
		tcp     layers.TCP
		decoded []gopacket.LayerType
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip, &tcp)
	p.IgnoreUnsupported = true
	if err := p.DecodeLayers(frame, &decoded); err != nil || len(decoded) != 3 {
		return segment{}, false
	}
	if ip.FragOffset != 0 || ip.Flags&layers.IPv4MoreFragments != 0 {
		return segment{}, false
	}
	src, ok1 := netip.AddrFromSlice(ip.SrcIP)
	dst, ok2 := netip.AddrFromSlice(ip.DstIP)
	if !ok1 || !ok2 {
		return segment{}, false
	}
	return segment{
		srcMAC: append(net.HardwareAddr(nil), eth.SrcMAC...),
		src:    src.Unmap(), dst: dst.Unmap(),
		sport: uint16(tcp.SrcPort), dport: uint16(tcp.DstPort),
		seq: tcp.Seq, ack: tcp.Ack,
		flags:   tcpFlags{SYN: tcp.SYN, ACK: tcp.ACK, RST: tcp.RST, FIN: tcp.FIN},
		payload: len(tcp.Payload),
	}, true
}
