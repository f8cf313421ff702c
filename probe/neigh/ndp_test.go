package neigh

import (
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/bpf"
)

// capture is a net.PacketConn that keeps what is written.
type capture struct {
	fakeLAN
	written [][]byte
}

func (c *capture) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.written = append(c.written, append([]byte(nil), b...))
	return len(b), nil
}

// advertisement builds the frame a host sends to answer for target.
func advertisement(t testing.TB, mac net.HardwareAddr, target netip.Addr, withOption bool) []byte {
	na := &ndp.NeighborAdvertisement{Solicited: true, Override: true, TargetAddress: target}
	if withOption {
		na.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}}
	}
	dst := netip.MustParseAddr("fd00::10")
	icmp, err := ndp.MarshalMessageChecksum(na, target, dst)
	if err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	err = gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true},
		&layers.Ethernet{SrcMAC: mac, DstMAC: ourMAC, EthernetType: layers.EthernetTypeIPv6},
		&layers.IPv6{Version: 6, NextHeader: layers.IPProtocolICMPv6, HopLimit: 255, SrcIP: target.AsSlice(), DstIP: dst.AsSlice()},
		gopacket.Payload(icmp))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSolicitationAndAdvertisement(t *testing.T) {
	src, target := netip.MustParseAddr("fd00::10"), netip.MustParseAddr("fd00::21")
	conn := &capture{}
	c, err := New(conn, ourMAC, src)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.request(target); err != nil {
		t.Fatal(err)
	}
	if err := c.request(netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Error("an IPv4 target was asked for from an IPv6 source")
	}
	frame := conn.written[0]
	var (
		eth layers.Ethernet
		ip  layers.IPv6
	)
	if err := eth.DecodeFromBytes(frame, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	if err := ip.DecodeFromBytes(eth.Payload, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	if eth.DstMAC.String() != "33:33:ff:00:00:21" || ip.DstIP.String() != "ff02::1:ff00:21" || ip.HopLimit != 255 {
		t.Errorf("solicitation sent to %v / %v hop limit %d", eth.DstMAC, ip.DstIP, ip.HopLimit)
	}
	m, err := ndp.ParseMessage(ip.Payload)
	if ns, ok := m.(*ndp.NeighborSolicitation); err != nil || !ok || ns.TargetAddress != target {
		t.Errorf("solicitation: %v %v", m, err)
	}

	mac := net.HardwareAddr{2, 0, 0, 0, 0, 0x21}
	for _, withOption := range []bool{true, false} {
		ip, got, ok := ParseReply(advertisement(t, mac, target, withOption))
		if !ok || ip != target || got.String() != mac.String() {
			t.Errorf("option %v: parsed %v %v %v", withOption, ip, got, ok)
		}
	}
	vm, err := bpf.NewVM(ReplyFilter())
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := vm.Run(advertisement(t, mac, target, true)); n == 0 {
		t.Error("the socket filter drops neighbour advertisements")
	}
	if n, _ := vm.Run(frame); n != 0 {
		t.Error("the socket filter passes neighbour solicitations")
	}
}
