package neigh

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"golang.org/x/net/bpf"

	"github.com/ocfkit/ocfkit/internal/fakeconn"
)

var (
	ourMAC = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	ourIP  = netip.MustParseAddr("192.0.2.10")
)

// fakeLAN answers ARP requests from a table, dropping the first request for
// each address in lossy, and optionally with several hosts per address.
type fakeLAN struct {
	*fakeconn.Inbox
	mu    sync.Mutex
	hosts map[netip.Addr][]net.HardwareAddr
	lossy map[netip.Addr]bool
	asked map[netip.Addr]int
}

func newFakeLAN(hosts map[netip.Addr][]net.HardwareAddr) *fakeLAN {
	return &fakeLAN{Inbox: fakeconn.NewInbox(256), hosts: hosts, lossy: map[netip.Addr]bool{}, asked: map[netip.Addr]int{}}
}

func (l *fakeLAN) WriteTo(b []byte, _ net.Addr) (int, error) {
	var f ethernet.Frame
	var p arp.Packet
	if err := f.UnmarshalBinary(b); err != nil {
		panic(err)
	}
	if err := p.UnmarshalBinary(f.Payload); err != nil || p.Operation != arp.OperationRequest {
		panic("not an ARP request")
	}
	if p.SenderIP != ourIP || p.SenderHardwareAddr.String() != ourMAC.String() {
		panic("wrong sender in request")
	}
	l.mu.Lock()
	l.asked[p.TargetIP]++
	drop := l.lossy[p.TargetIP] && l.asked[p.TargetIP] == 1
	l.mu.Unlock()
	if drop {
		return len(b), nil
	}
	// Something that is not a reply first: a request from someone else.
	req, _ := arp.NewPacket(arp.OperationRequest, net.HardwareAddr{2, 9, 9, 9, 9, 9}, netip.MustParseAddr("192.0.2.99"), ethernet.Broadcast, p.TargetIP)
	l.Deliver(frameOf(req))
	for _, mac := range l.hosts[p.TargetIP] {
		rep, _ := arp.NewPacket(arp.OperationReply, mac, p.TargetIP, ourMAC, ourIP)
		l.Deliver(frameOf(rep))
	}
	return len(b), nil
}

func frameOf(p *arp.Packet) []byte {
	pb, _ := p.MarshalBinary()
	f := ethernet.Frame{Destination: ourMAC, Source: p.SenderHardwareAddr, EtherType: ethernet.EtherTypeARP, Payload: pb}
	b, _ := f.MarshalBinary()
	return b
}

func TestRoundRetriesAndStopsWhenAllAnswered(t *testing.T) {
	a, b, c := netip.MustParseAddr("192.0.2.21"), netip.MustParseAddr("192.0.2.22"), netip.MustParseAddr("192.0.2.23")
	macA, macB := net.HardwareAddr{2, 0, 0, 0, 0, 0x21}, net.HardwareAddr{2, 0, 0, 0, 0, 0x22}
	lan := newFakeLAN(map[netip.Addr][]net.HardwareAddr{a: {macA}, b: {macB}})
	lan.lossy[b] = true
	cl, err := New(lan, ourMAC, ourIP)
	if err != nil {
		t.Fatal(err)
	}
	cl.FirstRetry, cl.MaxRetry = 5*time.Millisecond, 10*time.Millisecond

	got := map[netip.Addr]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := cl.exchange(ctx, cl.NewRound([]netip.Addr{a, b}), func(x Answer) { got[x.IP] = x.MAC.String() }); err != nil {
		t.Fatal(err)
	}
	if got[a] != macA.String() || got[b] != macB.String() || len(got) != 2 {
		t.Fatalf("resolved %v", got)
	}
	if lan.asked[b] < 2 {
		t.Errorf("lost request for %v was not repeated", b)
	}
	if ctx.Err() != nil {
		t.Error("the round waited for the deadline although everything answered")
	}

	// An address nobody has is not reported; the round ends at the deadline.
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	got = map[netip.Addr]string{}
	if err := cl.exchange(short, cl.NewRound([]netip.Addr{c, a}), func(x Answer) { got[x.IP] = x.MAC.String() }); err != nil {
		t.Fatal(err)
	}
	if _, ok := got[c]; ok || got[a] != macA.String() {
		t.Fatalf("resolved %v", got)
	}
	if lan.asked[c] < 3 {
		t.Errorf("unanswered %v asked %d times, want retries", c, lan.asked[c])
	}
}

func TestWhoHasListsEveryAnswer(t *testing.T) {
	vip := netip.MustParseAddr("192.0.2.80")
	m1, m2 := net.HardwareAddr{2, 0, 0, 0, 0, 0x10}, net.HardwareAddr{2, 0, 0, 0, 0, 0x21}
	lan := newFakeLAN(map[netip.Addr][]net.HardwareAddr{vip: {m1, m2}})
	cl, _ := New(lan, ourMAC, ourIP)
	cl.FirstRetry = 5 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
	defer cancel()
	got, err := cl.WhoHas(ctx, vip)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].MAC.String() != m1.String() || got[1].MAC.String() != m2.String() {
		t.Fatalf("WhoHas = %v", got)
	}
	if _, err := cl.WhoHas(context.Background(), vip); err == nil {
		t.Error("WhoHas without a deadline did not fail")
	}
}

func TestReplyFilter(t *testing.T) {
	vm, err := bpf.NewVM(ReplyFilter())
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := arp.NewPacket(arp.OperationReply, ourMAC, ourIP, ourMAC, ourIP)
	req, _ := arp.NewPacket(arp.OperationRequest, ourMAC, ourIP, ethernet.Broadcast, ourIP)
	for _, c := range []struct {
		name  string
		frame []byte
		want  bool
	}{{"reply", frameOf(rep), true}, {"request", frameOf(req), false}, {"IPv4", append(frameOf(rep)[:12], 8, 0, 0x45), false}} {
		n, _ := vm.Run(c.frame)
		if (n > 0) != c.want {
			t.Errorf("%s: filter returned %d", c.name, n)
		}
	}
}

// FuzzParseReply feeds arbitrary frames to the ARP reply parser.
func FuzzParseReply(f *testing.F) {
	rep, _ := arp.NewPacket(arp.OperationReply, ourMAC, ourIP, ourMAC, ourIP)
	f.Add(frameOf(rep))
	f.Add(advertisement(f, net.HardwareAddr{2, 0, 0, 0, 0, 0x21}, netip.MustParseAddr("fd00::21"), true))
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, mac, ok := ParseReply(b)
		if ok && ((!ip.Is4() && !ip.Is6()) || len(mac) != 6) {
			t.Fatalf("accepted %v %v", ip, mac)
		}
	})
}

// TestRoundPacesRequests shows that a round of many addresses asks in
// batches, not all at once (a burst of thousands of broadcasts overflows
// the receivers' queues), that each address keeps its own retry schedule,
// and that a first retry waits at least twice the slowest answer so far.
func TestRoundPacesRequests(t *testing.T) {
	lan := newFakeLAN(nil)
	lan.Inbox = fakeconn.NewInbox(4096) // nobody reads the frames it answers with
	cl, _ := New(lan, ourMAC, ourIP)
	cl.FirstRetry, cl.MaxRetry = 10*time.Millisecond, 40*time.Millisecond
	var targets []netip.Addr
	for i := range 3*SendBatch + 5 {
		targets = append(targets, netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 1)}))
	}
	r := cl.NewRound(targets)
	now := time.Now()
	asked := func() (n int) {
		lan.mu.Lock()
		defer lan.mu.Unlock()
		for _, c := range lan.asked {
			n += c
		}
		return n
	}
	for batch := 1; batch <= 4; batch++ {
		if err := r.Send(now); err != nil {
			t.Fatal(err)
		}
		want := min(batch*SendBatch, len(targets))
		if got := asked(); got != want {
			t.Fatalf("after %d sends: %d requests, want %d", batch, got, want)
		}
		if batch < 4 && !r.Next().Equal(now.Add(SendPace)) {
			t.Fatalf("after %d sends: next at %v, want after the pace", batch, r.Next().Sub(now))
		}
		now = now.Add(SendPace)
	}
	// Everything asked: the next is the first batch's retry, 10 ms after it.
	if got := r.Next().Sub(now.Add(-4 * SendPace)); got != cl.FirstRetry {
		t.Errorf("next retry %v after the first batch, want %v", got, cl.FirstRetry)
	}

	// An answer that took 15 ms makes a new address's first retry wait 30.
	slow := cl.NewRound([]netip.Addr{targets[0], targets[1]})
	slow.slowest = 15 * time.Millisecond
	t0 := time.Now()
	_ = slow.Send(t0)
	if got := slow.Next().Sub(t0); got != 30*time.Millisecond {
		t.Errorf("first retry after %v, want 30ms", got)
	}
}

// TestRoundAsksTheLastAddresses: a round of many addresses nobody answers
// (thousands of dead real servers), on a host so busy that the retries of
// the first addresses come due before the last ones were ever asked. Each
// Send began with the first addresses, whose retries filled the batch, so
// the last addresses were never asked and healthy real servers listed last
// never resolved. Every address must be asked within one pass of batches,
// and retries take turns the same way.
func TestRoundAsksTheLastAddresses(t *testing.T) {
	lan := newFakeLAN(nil)                       // nobody answers
	lan.Inbox = fakeconn.NewInbox(8 * SendBatch) // nobody reads the requests it echoes
	cl, _ := New(lan, ourMAC, ourIP)
	cl.FirstRetry, cl.MaxRetry = SendPace, SendPace // due again by the next Send
	var targets []netip.Addr
	for i := range 3 * SendBatch {
		targets = append(targets, netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 1)}))
	}
	r := cl.NewRound(targets)
	now := time.Now()
	send := func() {
		t.Helper()
		if err := r.Send(now); err != nil {
			t.Fatal(err)
		}
		now = now.Add(SendPace)
	}
	for range 3 {
		send()
	}
	for _, a := range targets {
		if n := lan.asked[a]; n != 1 {
			t.Fatalf("after one pass of batches %v was asked %d times, want once (last: %d times)", a, n, lan.asked[targets[len(targets)-1]])
		}
	}
	for range 3 {
		send()
	}
	for _, a := range targets {
		if n := lan.asked[a]; n != 2 {
			t.Fatalf("after two passes %v was asked %d times, want twice", a, n)
		}
	}
}

// TestRoundTakesOnlyAnswersToUs shows that an ARP reply addressed to
// another host (a forged broadcast, a gratuitous reply) does not resolve a
// pending address; the reply to us does.
func TestRoundTakesOnlyAnswersToUs(t *testing.T) {
	rs := netip.MustParseAddr("192.0.2.21")
	good, evil := net.HardwareAddr{2, 0, 0, 0, 0, 0x21}, net.HardwareAddr{2, 6, 6, 6, 6, 6}
	cl, _ := New(newFakeLAN(nil), ourMAC, ourIP)
	r := cl.NewRound([]netip.Addr{rs})
	for _, p := range []*arp.Packet{
		mustPacket(arp.NewPacket(arp.OperationReply, evil, rs, ethernet.Broadcast, netip.MustParseAddr("192.0.2.99"))),
		mustPacket(arp.NewPacket(arp.OperationReply, evil, rs, ethernet.Broadcast, rs)), // gratuitous
		mustPacket(arp.NewPacket(arp.OperationReply, evil, rs, net.HardwareAddr{2, 9, 9, 9, 9, 9}, ourIP)),
	} {
		if a, ok := r.Take(frameOf(p)); ok {
			t.Fatalf("took %v from a reply to %v/%v", a, p.TargetHardwareAddr, p.TargetIP)
		}
	}
	a, ok := r.Take(frameOf(mustPacket(arp.NewPacket(arp.OperationReply, good, rs, ourMAC, ourIP))))
	if !ok || a.MAC.String() != good.String() {
		t.Fatalf("the reply to us: %v %v", a, ok)
	}
}

func mustPacket(p *arp.Packet, err error) *arp.Packet {
	if err != nil {
		panic(err)
	}
	return p
}
