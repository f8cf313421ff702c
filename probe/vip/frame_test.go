package vip

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestFrameDecodesElsewhere decodes the probe's frames with gopacket's
// layers, an implementation independent of the netstack header code that
// builds them, and checks every field and both checksums; then reads
// them back with parseSegment.
func TestFrameDecodesElsewhere(t *testing.T) {
	v6src, v6vip := netip.MustParseAddr("fd00::10"), netip.MustParseAddr("fd00::80")
	for _, tc := range []struct {
		name     string
		flow     flow
		flags    tcpFlags
		seq, ack uint32
	}{
		{"IPv4 SYN", flow{localMAC: localMAC, serverMAC: macUp, src: src, vip: vipAddr, sport: 40001, dport: 80}, tcpFlags{SYN: true}, 0xfffffff0, 0},
		{"IPv4 RST-ACK", flow{localMAC: localMAC, serverMAC: macUp, src: src, vip: vipAddr, sport: 40001, dport: 443}, tcpFlags{RST: true, ACK: true}, 7, 0x80000001},
		{"IPv6 SYN", flow{localMAC: localMAC, serverMAC: macUp, src: v6src, vip: v6vip, sport: 40002, dport: 80}, tcpFlags{SYN: true}, 1, 0},
		{"IPv6 FIN-ACK", flow{localMAC: localMAC, serverMAC: macUp, src: v6src, vip: v6vip, sport: 40002, dport: 8080}, tcpFlags{FIN: true, ACK: true}, 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.flow.frame(tc.seq, tc.ack, tc.flags, 1460, 0x1234)
			if err != nil {
				t.Fatal(err)
			}
			p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
			if el := p.ErrorLayer(); el != nil {
				t.Fatalf("gopacket cannot decode the frame: %v", el.Error())
			}
			eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
			if eth.SrcMAC.String() != localMAC.String() || eth.DstMAC.String() != macUp.String() {
				t.Errorf("Ethernet %v -> %v, want %v -> %v", eth.SrcMAC, eth.DstMAC, localMAC, macUp)
			}
			var (
				ipSrc, ipDst []byte
				network      gopacket.NetworkLayer
			)
			if tc.flow.vip.Is4() {
				ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
				if !ok {
					t.Fatalf("no IPv4 layer in %v", p)
				}
				if _, v := ip.VerifyChecksum(); !v.Valid {
					t.Errorf("IPv4 checksum %#04x, want %#04x", v.Actual, v.Correct)
				}
				if ip.TTL != 64 || ip.Id != 0x1234 || ip.Flags != layers.IPv4DontFragment || int(ip.Length) != len(b)-14 {
					t.Errorf("IPv4 TTL %d ID %#x flags %v length %d", ip.TTL, ip.Id, ip.Flags, ip.Length)
				}
				ipSrc, ipDst, network = ip.SrcIP, ip.DstIP, ip
			} else {
				ip, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
				if !ok {
					t.Fatalf("no IPv6 layer in %v", p)
				}
				if ip.HopLimit != 64 || int(ip.Length) != len(b)-14-40 {
					t.Errorf("IPv6 hop limit %d payload length %d", ip.HopLimit, ip.Length)
				}
				ipSrc, ipDst, network = ip.SrcIP, ip.DstIP, ip
			}
			s, _ := netip.AddrFromSlice(ipSrc)
			d, _ := netip.AddrFromSlice(ipDst)
			if s.Unmap() != tc.flow.src || d.Unmap() != tc.flow.vip {
				t.Errorf("IP %v -> %v, want %v -> %v", s, d, tc.flow.src, tc.flow.vip)
			}
			tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if !ok {
				t.Fatalf("no TCP layer in %v", p)
			}
			if err := tcp.SetNetworkLayerForChecksum(network); err != nil {
				t.Fatal(err)
			}
			if err, v := tcp.VerifyChecksum(); err != nil || !v.Valid {
				t.Errorf("TCP checksum %#04x, want %#04x (%v)", v.Actual, v.Correct, err)
			}
			got := tcpFlags{SYN: tcp.SYN, ACK: tcp.ACK, RST: tcp.RST, FIN: tcp.FIN}
			if got != tc.flags || tcp.PSH || tcp.URG || uint16(tcp.SrcPort) != tc.flow.sport || uint16(tcp.DstPort) != tc.flow.dport ||
				tcp.Seq != tc.seq || tcp.Ack != tc.ack || tcp.Window != 64240 || len(tcp.Payload) != 0 {
				t.Errorf("TCP %+v", tcp)
			}
			var mss []byte
			for _, o := range tcp.Options {
				if o.OptionType == layers.TCPOptionKindMSS {
					mss = o.OptionData
				}
			}
			if tc.flags.SYN != (len(mss) == 2 && mss[0] == 1460>>8 && mss[1] == 1460&0xff) {
				t.Errorf("MSS option %v on a segment with SYN=%v", mss, tc.flags.SYN)
			}

			seg, ok := parseSegment(b)
			if !ok || seg.src != tc.flow.src || seg.dst != tc.flow.vip || seg.sport != tc.flow.sport || seg.dport != tc.flow.dport ||
				seg.seq != tc.seq || seg.ack != tc.ack || seg.flags != tc.flags || seg.payload != 0 || seg.srcMAC.String() != localMAC.String() {
				t.Errorf("parseSegment = %+v, %v", seg, ok)
			}
		})
	}
}
