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

// TestSolicitationBytes compares the solicitation the client sends byte
// for byte with the one github.com/mdlayher/ndp built before: same ICMPv6
// message and checksum, solicited-node group, its Ethernet address and hop
// limit 255.
func TestSolicitationBytes(t *testing.T) {
	for _, c := range []struct{ src, target string }{
		{"fd00::10", "fd00::21"},
		{"fe80::1", "fe80::abcd:ef01:2345:6789"},
		{"2001:db8::ffff:ffff", "2001:db8:1:2:3:4:5:6"},
	} {
		src, target := netip.MustParseAddr(c.src), netip.MustParseAddr(c.target)
		group, err := ndp.SolicitedNodeMulticast(target)
		if err != nil {
			t.Fatal(err)
		}
		ns := &ndp.NeighborSolicitation{TargetAddress: target,
			Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: ourMAC}}}
		want, err := ndp.MarshalMessageChecksum(ns, src, group)
		if err != nil {
			t.Fatal(err)
		}
		frame := solicitation(ourMAC, src, target)
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
		g := group.As16()
		wantMAC := net.HardwareAddr{0x33, 0x33, g[12], g[13], g[14], g[15]}
		if eth.DstMAC.String() != wantMAC.String() || eth.SrcMAC.String() != ourMAC.String() ||
			eth.EthernetType != layers.EthernetTypeIPv6 {
			t.Errorf("%s: Ethernet header %v -> %v type %v", c.target, eth.SrcMAC, eth.DstMAC, eth.EthernetType)
		}
		if ip.Version != 6 || ip.NextHeader != layers.IPProtocolICMPv6 || ip.HopLimit != 255 ||
			!ip.SrcIP.Equal(src.AsSlice()) || !ip.DstIP.Equal(group.AsSlice()) || int(ip.Length) != len(want) {
			t.Errorf("%s: IPv6 header %+v", c.target, ip)
		}
		if string(ip.Payload) != string(want) {
			t.Errorf("%s: ICMPv6 message\n% x\nwant\n% x", c.target, ip.Payload, want)
		}
	}
}

// FuzzSolicitation compares the ICMPv6 message of solicitations for
// arbitrary addresses with the one github.com/mdlayher/ndp builds, the
// checksum above all.
func FuzzSolicitation(f *testing.F) {
	f.Add(netip.MustParseAddr("fd00::10").AsSlice(), netip.MustParseAddr("fd00::21").AsSlice())
	f.Add(netip.MustParseAddr("fe80::ffff:ffff:ffff:ffff").AsSlice(), netip.MustParseAddr("ff02::ffff:ffff").AsSlice())
	f.Fuzz(func(t *testing.T, s, d []byte) {
		src, ok1 := netip.AddrFromSlice(s)
		target, ok2 := netip.AddrFromSlice(d)
		if !ok1 || !ok2 || !src.Is6() || !target.Is6() || target.Is4In6() {
			return
		}
		group, err := ndp.SolicitedNodeMulticast(target)
		if err != nil {
			t.Fatal(err)
		}
		ns := &ndp.NeighborSolicitation{TargetAddress: target,
			Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: ourMAC}}}
		want, err := ndp.MarshalMessageChecksum(ns, src, group)
		if err != nil {
			t.Fatal(err)
		}
		if got := solicitation(ourMAC, src, target)[14+40:]; string(got) != string(want) {
			t.Fatalf("ICMPv6 message\n% x\nwant\n% x", got, want)
		}
	})
}

// naMessage returns an ICMPv6 neighbour advertisement for target with the
// given raw options.
func naMessage(target string, opts ...byte) []byte {
	b := make([]byte, 24, 24+len(opts))
	b[0], b[4] = 136, 0x60
	a := netip.MustParseAddr(target).As16()
	copy(b[8:], a[:])
	return append(b, opts...)
}

// TestParseNA shows which advertisements the parser takes and what it
// finds in them, and that github.com/mdlayher/ndp agrees where it parses
// the options the parser reads.
func TestParseNA(t *testing.T) {
	lla := func(typ byte, last byte) []byte { return []byte{typ, 1, 2, 0, 0, 0, 0, last} }
	cat := func(parts ...[]byte) (b []byte) {
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	unknown := []byte{200, 1, 0, 0, 0, 0, 0, 0}
	for _, c := range []struct {
		name string
		msg  []byte
		ok   bool
		mac  string // "" for none
	}{
		{"no options", naMessage("fd00::21"), true, ""},
		{"target option", naMessage("fd00::21", lla(2, 0x21)...), true, "02:00:00:00:00:21"},
		{"source option only", naMessage("fd00::21", lla(1, 0x21)...), true, ""},
		{"last target option wins", naMessage("fd00::21", cat(lla(2, 1), unknown, lla(2, 2))...), true, "02:00:00:00:00:02"},
		{"unknown option skipped", naMessage("fd00::21", cat(unknown, lla(2, 0x21))...), true, "02:00:00:00:00:21"},
		{"solicitation", append([]byte{135}, naMessage("fd00::21")[1:]...), false, ""},
		{"short", naMessage("fd00::21")[:23], false, ""},
		{"IPv4-mapped target", naMessage("::ffff:192.0.2.1"), false, ""},
		{"zero-length option", naMessage("fd00::21", 200, 0, 0, 0, 0, 0, 0, 0), false, ""},
		{"truncated option header", naMessage("fd00::21", 2), false, ""},
		{"option past the end", naMessage("fd00::21", lla(2, 0x21)[:7]...), false, ""},
		{"16-byte link-layer option", naMessage("fd00::21", cat([]byte{2, 2, 2, 0, 0, 0, 0, 0x21}, make([]byte, 8))...), false, ""},
	} {
		target, mac, ok := parseNA(c.msg)
		if ok != c.ok || (ok && (target != netip.MustParseAddr("fd00::21") || string(mac) != string(parseMAC(t, c.mac)))) {
			t.Errorf("%s: got %v %v %v, want ok %v MAC %q", c.name, target, net.HardwareAddr(mac), ok, c.ok, c.mac)
		}
		m, err := ndp.ParseMessage(c.msg)
		_, isNA := m.(*ndp.NeighborAdvertisement)
		if (err == nil && isNA) != c.ok {
			t.Errorf("%s: ndp parses it: %v %v", c.name, m, err)
		}
	}
}

// parseMAC parses s, nil for "".
func parseMAC(t *testing.T, s string) net.HardwareAddr {
	if s == "" {
		return nil
	}
	mac, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return mac
}

// TestAdvertisementHopLimit shows that an advertisement with a hop limit
// other than 255 is dropped (RFC 4861, section 7.1.2: it may come from off
// the link), as is one whose IPv6 payload length runs past the frame.
func TestAdvertisementHopLimit(t *testing.T) {
	mac, target := net.HardwareAddr{2, 0, 0, 0, 0, 0x21}, netip.MustParseAddr("fd00::21")
	frame := advertisement(t, mac, target, true)
	if _, _, ok := parseAdvertisement(frame); !ok {
		t.Fatal("the advertisement is refused")
	}
	frame[14+7] = 254
	if _, _, ok := parseAdvertisement(frame); ok {
		t.Error("an advertisement with hop limit 254 is taken")
	}
	frame = advertisement(t, mac, target, true)
	if _, _, ok := parseAdvertisement(frame[:len(frame)-1]); ok {
		t.Error("an advertisement longer than its frame is taken")
	}
}

// FuzzParseNA feeds arbitrary ICMPv6 messages to the advertisement parser
// and to github.com/mdlayher/ndp, which it replaced: what ndp takes the
// parser takes, with the same target and link-layer address; what only
// the parser takes carries an option the parser skips unread.
func FuzzParseNA(f *testing.F) {
	f.Add(naMessage("fd00::21", 2, 1, 2, 0, 0, 0, 0, 0x21))
	f.Add(naMessage("fd00::21", 200, 1, 0, 0, 0, 0, 0, 0, 2, 1, 2, 0, 0, 0, 0, 0x21))
	f.Fuzz(func(t *testing.T, b []byte) {
		target, mac, ok := parseNA(b)
		if ok && (!target.Is6() || target.Is4In6() || (mac != nil && len(mac) != 6)) {
			t.Fatalf("accepted %v %v", target, mac)
		}
		m, err := ndp.ParseMessage(b)
		na, isNA := m.(*ndp.NeighborAdvertisement)
		if err != nil || !isNA {
			if ok && !skipsOption(b[24:]) {
				t.Fatalf("took what ndp refuses (%v): %v %v", err, target, mac)
			}
			return
		}
		var want net.HardwareAddr
		for _, o := range na.Options {
			if lla, isLLA := o.(*ndp.LinkLayerAddress); isLLA && lla.Direction == ndp.Target {
				want = lla.Addr
			}
		}
		if !ok || target != na.TargetAddress || string(mac) != string(want) {
			t.Fatalf("parsed %v %v %v, ndp %v %v", target, mac, ok, na.TargetAddress, want)
		}
	})
}

// skipsOption reports whether well-formed options carry one the parser
// does not read (neither link-layer address option).
func skipsOption(opts []byte) bool {
	for len(opts) >= 2 && opts[1] != 0 && int(opts[1])*8 <= len(opts) {
		if opts[0] != 1 && opts[0] != 2 {
			return true
		}
		opts = opts[int(opts[1])*8:]
	}
	return false
}
