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
	var ip gopacket.NetworkLayer
	if f.vip.Is6() {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: f.src.AsSlice(), DstIP: f.vip.AsSlice()}
	} else {
		ip = &layers.IPv4{
			Version: 4, TTL: 64, Id: ipID, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP,
			SrcIP: f.src.AsSlice(), DstIP: f.vip.AsSlice(),
		}
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
	if err := gopacket.SerializeLayers(buf, opts, eth, ip.(gopacket.SerializableLayer), tcp); err != nil {
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

// parseSegment decodes an Ethernet/IPv4/TCP or Ethernet/IPv6/TCP frame; ok
// is false for anything else (other protocols, fragments, extension
// headers, truncated or malformed frames).
func parseSegment(frame []byte) (s segment, ok bool) {
	var (
		eth      layers.Ethernet
		ip4      layers.IPv4
		ip6      layers.IPv6
		tcp      layers.TCP
		decoded  []gopacket.LayerType
		srcIP    net.IP
		dstIP    net.IP
		is4, is6 bool
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &ip6, &tcp)
	p.IgnoreUnsupported = true
	if err := p.DecodeLayers(frame, &decoded); err != nil || len(decoded) != 3 || decoded[2] != layers.LayerTypeTCP {
		return segment{}, false
	}
	switch decoded[1] {
	case layers.LayerTypeIPv4:
		if ip4.FragOffset != 0 || ip4.Flags&layers.IPv4MoreFragments != 0 {
			return segment{}, false
		}
		srcIP, dstIP, is4 = ip4.SrcIP, ip4.DstIP, true
	case layers.LayerTypeIPv6:
		if ip6.NextHeader != layers.IPProtocolTCP {
			return segment{}, false
		}
		srcIP, dstIP, is6 = ip6.SrcIP, ip6.DstIP, true
	}
	src, ok1 := netip.AddrFromSlice(srcIP)
	dst, ok2 := netip.AddrFromSlice(dstIP)
	if is4 {
		src, dst = src.Unmap(), dst.Unmap()
	}
	if !is4 && !is6 {
		return segment{}, false
	}
	if !ok1 || !ok2 {
		return segment{}, false
	}
	return segment{
		srcMAC: append(net.HardwareAddr(nil), eth.SrcMAC...),
		src:    src, dst: dst,
		sport: uint16(tcp.SrcPort), dport: uint16(tcp.DstPort),
		seq: tcp.Seq, ack: tcp.Ack,
		flags:   tcpFlags{SYN: tcp.SYN, ACK: tcp.ACK, RST: tcp.RST, FIN: tcp.FIN},
		payload: len(tcp.Payload),
	}, true
}
