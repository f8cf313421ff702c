package vip

import (
	"net/netip"
	"testing"

	"golang.org/x/net/bpf"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// TestReplyFilter runs the socket's BPF program in x/net/bpf's VM.
func TestReplyFilter(t *testing.T) {
	vm, err := bpf.NewVM(replyFilter(src, vipAddr, 80))
	if err != nil {
		t.Fatal(err)
	}
	reply := flow{localMAC: macUp, serverMAC: localMAC, src: vipAddr, vip: src, sport: 80, dport: 40001}
	frame := func(f flow) []byte {
		b, err := f.frame(1, 2, tcpFlags{SYN: true, ACK: true}, 1460, 1)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := frame(reply)
	otherPort := reply
	otherPort.sport = 81
	ours := flow{localMAC: localMAC, serverMAC: macUp, src: src, vip: vipAddr, sport: 40001, dport: 80}
	fragment := append([]byte(nil), good...)
	fragment[20] |= 0x20 // more fragments
	arpRequest := append([]byte(nil), good...)
	arpRequest[12], arpRequest[13] = 0x08, 0x06 // operation (bytes 20-21) is not 2
	arpReply := append([]byte(nil), arpRequest...)
	arpReply[20], arpReply[21] = 0, 2
	cases := []struct {
		name   string
		frame  []byte
		accept bool
	}{
		{"SYN-ACK from VIP:80", good, true},
		{"other port", frame(otherPort), false},
		{"our own SYN", frame(ours), false},
		{"fragment", fragment, false},
		{"ARP request", arpRequest, false},
		{"ARP reply", arpReply, true},
		{"runt", good[:20], false},
	}
	for _, c := range cases {
		n, err := vm.Run(c.frame)
		if err != nil && c.accept {
			t.Errorf("%s: %v", c.name, err)
		}
		if (n > 0) != c.accept {
			t.Errorf("%s: filter returned %d", c.name, n)
		}
	}
}

// TestReplyFilter6 runs the IPv6 program in x/net/bpf's VM.
func TestReplyFilter6(t *testing.T) {
	src6, vip6 := netip.MustParseAddr("fd00::10"), netip.MustParseAddr("fd00::80")
	vm, err := bpf.NewVM(replyFilter(src6, vip6, 80))
	if err != nil {
		t.Fatal(err)
	}
	frame := func(f flow) []byte {
		b, err := f.frame(1, 2, tcpFlags{SYN: true, ACK: true}, 1460, 1)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	reply := flow{localMAC: macUp, serverMAC: localMAC, src: vip6, vip: src6, sport: 80, dport: 40001}
	otherPort, otherSrc, otherDst := reply, reply, reply
	otherPort.sport = 81
	otherSrc.src = netip.MustParseAddr("fd00::81")
	otherDst.vip = netip.MustParseAddr("fd00::11")
	ours := flow{localMAC: localMAC, serverMAC: macUp, src: src6, vip: vip6, sport: 40001, dport: 80}
	na := append([]byte(nil), frame(reply)...)
	na[20], na[54] = 58, 136
	ns := append([]byte(nil), na...)
	ns[54] = 135
	for _, c := range []struct {
		name   string
		frame  []byte
		accept bool
	}{
		{"SYN-ACK from [VIP]:80", frame(reply), true},
		{"other port", frame(otherPort), false},
		{"other source", frame(otherSrc), false},
		{"other destination", frame(otherDst), false},
		{"our own SYN", frame(ours), false},
		{"neighbour advertisement", na, true},
		{"neighbour solicitation", ns, false},
		{"IPv4", frame(flow{localMAC: macUp, serverMAC: localMAC, src: vipAddr, vip: src, sport: 80, dport: 40001}), false},
	} {
		n, _ := vm.Run(c.frame)
		if (n > 0) != c.accept {
			t.Errorf("%s: filter returned %d", c.name, n)
		}
		if seg, ok := parseSegment(c.frame); c.accept && c.name != "neighbour advertisement" && (!ok || seg.src != vip6 || seg.sport != 80) {
			t.Errorf("%s: parsed %+v %v", c.name, seg, ok)
		}
	}
}

// FuzzParseSegment feeds arbitrary frames to the reply parser.
func FuzzParseSegment(f *testing.F) {
	reply := flow{localMAC: macUp, serverMAC: localMAC, src: vipAddr, vip: src, sport: 80, dport: 40001}
	for _, fl := range []tcpFlags{{SYN: true, ACK: true}, {RST: true, ACK: true}, {FIN: true, ACK: true}} {
		b, err := reply.frame(1, 2, fl, 1460, 1)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ok := parseSegment(b)
		if ok && s.src.Is4() != s.dst.Is4() {
			t.Fatalf("accepted a segment with addresses of two families: %+v", s)
		}
	})
}

// FuzzStackFrames feeds arbitrary frames to the bridge's parsers of frames
// from the wire and packets from the stack.
func FuzzStackFrames(f *testing.F) {
	reply := flow{localMAC: macUp, serverMAC: localMAC, src: vipAddr, vip: src, sport: 80, dport: 40001}
	b, err := reply.frame(1, 2, tcpFlags{SYN: true, ACK: true}, 1460, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[14:])
	f.Fuzz(func(t *testing.T, b []byte) {
		tcpDestPort(b)
		for _, v := range []netip.Addr{vipAddr, netip.MustParseAddr("fd00::80")} {
			p := &Paths{cfg: Config{VIP: v, Source: src, Port: 80}, proto: header.IPv4ProtocolNumber}
			if v.Is6() {
				p.proto = header.IPv6ProtocolNumber
			}
			p.outgoing(b)
		}
	})
}
