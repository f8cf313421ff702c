package vip

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"

	"github.com/ocfkit/ocfkit/internal/fakeconn"
	"github.com/ocfkit/ocfkit/probe/neigh"
)

var (
	localMAC = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	macUp    = net.HardwareAddr{2, 0, 0, 0, 0, 0x21}
	macRST   = net.HardwareAddr{2, 0, 0, 0, 0, 0x22}
	macMute  = net.HardwareAddr{2, 0, 0, 0, 0, 0x23}
	macLossy = net.HardwareAddr{2, 0, 0, 0, 0, 0x24}
	src      = netip.MustParseAddr("192.0.2.10")
	vipAddr  = netip.MustParseAddr("192.0.2.80")
)

// fakeSegment is a network of simulated real servers behind a
// net.PacketConn: each answers SYNs to the VIP according to its MAC.
type fakeSegment struct {
	*fakeconn.Inbox
	mu      sync.Mutex
	sent    []segment
	lossy   int  // SYNs the lossy server still drops
	garbage bool // answer each SYN with unrelated frames first
	arp     map[netip.Addr]net.HardwareAddr
}

func newFakeSegment() *fakeSegment {
	return &fakeSegment{Inbox: fakeconn.NewInbox(1024), lossy: 2}
}

func (f *fakeSegment) WriteTo(b []byte, _ net.Addr) (int, error) {
	if isNeighbour(b) {
		var p arp.Packet
		if err := p.UnmarshalBinary(b[14:]); err != nil || p.Operation != arp.OperationRequest {
			panic("probe wrote a bad ARP request")
		}
		if mac, ok := f.arp[p.TargetIP]; ok {
			rep, _ := arp.NewPacket(arp.OperationReply, mac, p.TargetIP, p.SenderHardwareAddr, p.SenderIP)
			pb, _ := rep.MarshalBinary()
			fr, _ := (&ethernet.Frame{Destination: p.SenderHardwareAddr, Source: mac, EtherType: ethernet.EtherTypeARP, Payload: pb}).MarshalBinary()
			f.Deliver(fr)
		}
		return len(b), nil
	}
	seg, ok := parseSegment(b)
	if !ok {
		panic("probe wrote a frame it cannot parse")
	}
	// The ethernet destination is the real server; parseSegment gives the
	// source, so read the destination from the frame.
	dst := net.HardwareAddr(b[0:6])
	f.mu.Lock()
	f.sent = append(f.sent, seg)
	f.mu.Unlock()
	if !seg.flags.SYN {
		return len(b), nil
	}
	reply := flow{localMAC: dst, serverMAC: localMAC, src: seg.dst, vip: seg.src, sport: seg.dport, dport: seg.sport}
	if f.garbage {
		wrongAck, _ := reply.frame(7, seg.seq+5, tcpFlags{SYN: true, ACK: true}, 1460, 1)
		other := reply
		other.src = netip.MustParseAddr("192.0.2.99")
		wrongSrc, _ := other.frame(7, seg.seq+1, tcpFlags{SYN: true, ACK: true}, 1460, 1)
		f.Deliver(wrongAck)
		f.Deliver(wrongSrc)
		f.Deliver([]byte{1, 2, 3})
	}
	switch dst.String() {
	case macUp.String():
		fr, _ := reply.frame(1000, seg.seq+1, tcpFlags{SYN: true, ACK: true}, 1460, 1)
		f.Deliver(fr)
	case macRST.String():
		fr, _ := reply.frame(0, seg.seq+1, tcpFlags{RST: true, ACK: true}, 0, 1)
		f.Deliver(fr)
	case macLossy.String():
		f.mu.Lock()
		drop := f.lossy > 0
		f.lossy--
		f.mu.Unlock()
		if !drop {
			fr, _ := reply.frame(1000, seg.seq+1, tcpFlags{SYN: true, ACK: true}, 1460, 1)
			f.Deliver(fr)
		}
	}
	return len(b), nil
}

func fakePorts() portReserver {
	var mu sync.Mutex
	next := uint16(40000)
	return func(netip.Addr) (uint16, func(), error) {
		mu.Lock()
		defer mu.Unlock()
		next++
		return next, func() {}, nil
	}
}

func TestRunStatuses(t *testing.T) {
	rs := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	cfg := Config{Interface: &net.Interface{Name: "fake0", HardwareAddr: localMAC}, Source: src, VIP: vipAddr, Port: 80,
		FirstRetransmit: 5 * time.Millisecond, MaxRetransmit: 10 * time.Millisecond}
	table := map[netip.Addr]net.HardwareAddr{rs("192.0.2.21"): macUp, rs("192.0.2.22"): macRST, rs("192.0.2.23"): macMute, rs("192.0.2.24"): macLossy}
	targets := []Target{{Addr: rs("192.0.2.21")}, {Addr: rs("192.0.2.22")}, {Addr: rs("192.0.2.23")},
		{Addr: rs("192.0.2.24")}, {Addr: rs("192.0.2.25")}, {Addr: rs("192.0.2.26"), MAC: macUp}}
	want := []Status{Up, Refused, NoAnswer, Up, NoARP, Up}
	for _, garbage := range []bool{false, true} {
		net := newFakeSegment()
		net.garbage, net.arp = garbage, table
		client, err := neigh.New(net, localMAC, src)
		if err != nil {
			t.Fatal(err)
		}
		res := arpResolver{client}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		got, err := run(ctx, cfg, net, res, fakePorts(), targets)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range got {
			if r.Status != want[i] {
				t.Errorf("garbage=%v: %v: got %v, want %v", garbage, r.Target, r.Status, want[i])
			}
		}
		if got[3].SYNs != 3 {
			t.Errorf("lossy server: %d SYNs sent, want 3", got[3].SYNs)
		}
		if got[5].Resolve != 0 || got[5].MAC.String() != macUp.String() {
			t.Errorf("static MAC target: %+v", got[5])
		}
		// Every SYN-ACK is followed by a RST with seq = its ack.
		rsts := 0
		for _, s := range net.sent {
			if s.flags.RST {
				rsts++
			}
		}
		if rsts != 3 {
			t.Errorf("garbage=%v: %d RSTs sent, want 3 (one per healthy server)", garbage, rsts)
		}
	}
}

func TestHandleIgnoresForeignSegments(t *testing.T) {
	f := flow{localMAC: localMAC, serverMAC: macUp, src: src, vip: vipAddr, sport: 40001, dport: 80}
	good := segment{srcMAC: macUp, src: vipAddr, dst: src, sport: 80, dport: 40001, ack: 101,
		flags: tcpFlags{SYN: true, ACK: true}}
	cases := []struct {
		name  string
		edit  func(*segment)
		match bool
	}{
		{"matching", func(*segment) {}, true},
		{"other MAC", func(s *segment) { s.srcMAC = macRST }, false},
		{"other source", func(s *segment) { s.src = src }, false},
		{"other destination", func(s *segment) { s.dst = vipAddr }, false},
		{"other server port", func(s *segment) { s.sport = 81 }, false},
		{"other client port", func(s *segment) { s.dport = 40002 }, false},
	}
	for _, c := range cases {
		s := good
		c.edit(&s)
		if got := f.matches(s); got != c.match {
			t.Errorf("%s: matches = %v", c.name, got)
		}
	}
	st := &state{flow: f, isn: 100}
	noSend := func(*state, uint32, uint32, tcpFlags) error { return nil }
	bad := good
	bad.ack = 5
	_ = st.handle(bad, time.Now(), Config{}, noSend)
	if st.Status == Up || st.done {
		t.Fatal("a SYN-ACK with a wrong ack was accepted")
	}
	rst := segment{flags: tcpFlags{RST: true, ACK: true}, ack: 7}
	_ = st.handle(rst, time.Now(), Config{}, noSend)
	if st.done {
		t.Fatal("a RST acknowledging something else was accepted")
	}
	// In SYN-SENT a RST without ACK is dropped (RFC 9293 3.10.7.3): else
	// anyone guessing the port could make a healthy server look refused.
	_ = st.handle(segment{flags: tcpFlags{RST: true}, seq: 12345}, time.Now(), Config{}, noSend)
	if st.done || st.Status == Refused {
		t.Fatal("a RST without ACK was taken as a refusal")
	}
	_ = st.handle(good, time.Now(), Config{}, noSend)
	if st.Status != Up || !st.done {
		t.Fatal("the matching SYN-ACK was not accepted")
	}
}

// TestRetransmissionsTakeTurns: thousands of real servers that do not
// answer, on a host so busy that the first targets' retransmissions come
// due before a batch is through. Each scan began with the first targets,
// whose retransmissions filled every batch: the last targets never got
// a second SYN. Every target must be retransmitted within one pass of
// batches.
func TestRetransmissionsTakeTurns(t *testing.T) {
	cfg := Config{Interface: &net.Interface{Name: "fake0", HardwareAddr: localMAC}, Source: src, VIP: vipAddr, Port: 80,
		FirstRetransmit: synPace, MaxRetransmit: synPace} // due again by the next batch
	cfg.defaults()
	seg := newFakeSegment() // macMute never answers
	s := &session{cfg: cfg, conn: seg, start: time.Now(), byPort: map[uint16]*state{}, byAddr: map[netip.Addr][]*state{}}
	var targets []Target
	for i := range 3 * synBatch {
		targets = append(targets, Target{Addr: netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 1)}), MAC: macMute})
	}
	if err := s.prepare(fakePorts(), targets); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, st := range s.states {
		s.begin(st, st.MAC, now)
	}
	s.open = len(s.states)
	tick := func() {
		t.Helper()
		if err := s.tick(now); err != nil {
			t.Fatal(err)
		}
		now = now.Add(synPace)
	}
	for range 3 { // the first SYNs
		tick()
	}
	for range 3 { // one pass of retransmissions
		tick()
	}
	for i, st := range s.states {
		if st.SYNs != 2 {
			t.Fatalf("target %d of %d: %d SYNs after one pass of retransmissions, want 2 (last: %d)",
				i, len(s.states), st.SYNs, s.states[len(s.states)-1].SYNs)
		}
	}
}
