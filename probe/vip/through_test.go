package vip

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/fakeconn"
	"github.com/ocfkit/ocfkit/internal/fanout"
	"github.com/ocfkit/ocfkit/probe/neigh"
)

// stuckConn is a socket that refuses read deadlines: only Close ends a
// blocked read.
type stuckConn struct{ *fakeconn.Inbox }

func (stuckConn) SetReadDeadline(time.Time) error { return errors.New("deadline refused") }

func (stuckConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }

// TestPathsCloseWhenDeadlineFails shows that Close ends even where the
// socket refuses the read deadline that stops the bridge's reader: it
// closes the socket instead of waiting forever, and says what failed.
func TestPathsCloseWhenDeadlineFails(t *testing.T) {
	cfg := Config{Interface: &net.Interface{Name: "fake0", MTU: 1500, HardwareAddr: localMAC}, Source: src, VIP: vipAddr, Port: 80}
	cfg.defaults()
	p, err := newPaths(cfg, stuckConn{fakeconn.NewInbox(1)}, nil, fakePorts(), []Target{{Addr: src, MAC: macUp}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Close hid the refused deadline")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close still blocked after 30 s")
	}
}

// TestPathsDial dials through the userspace stack over a simulated
// segment, without root: a server that answers is connected (in frames
// for its MAC, to the VIP), one that resets is refused, a silent one
// gives no answer by the deadline, a lossy one is reached by the bridge's
// SYN repetitions, and one whose MAC ARP finds is reached too; one nobody
// resolves is no-arp.
func TestPathsDial(t *testing.T) {
	rs := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	cfg := Config{Interface: &net.Interface{Name: "fake0", MTU: 1500, HardwareAddr: localMAC}, Source: src, VIP: vipAddr, Port: 80,
		FirstRetransmit: 5 * time.Millisecond, MaxRetransmit: 10 * time.Millisecond}
	cfg.defaults()
	seg := newFakeSegment()
	seg.arp = map[netip.Addr]net.HardwareAddr{rs("192.0.2.25"): macUp}
	client, err := neigh.New(seg, localMAC, src)
	if err != nil {
		t.Fatal(err)
	}
	targets := []Target{{Addr: rs("192.0.2.21"), MAC: macUp}, {Addr: rs("192.0.2.22"), MAC: macRST},
		{Addr: rs("192.0.2.23"), MAC: macMute}, {Addr: rs("192.0.2.24"), MAC: macLossy},
		{Addr: rs("192.0.2.25")}, {Addr: rs("192.0.2.26")}}
	want := []Status{Up, Refused, NoAnswer, Up, Up, NoARP}
	p, err := newPaths(cfg, seg, arpResolver{client}, fakePorts(), targets)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	results := make([]Result, len(targets))
	fanout.Each(len(targets), 0, func(i int) {
		conn, a, err := p.Dial(ctx, targets[i].Addr)
		results[i] = p.result(targets[i].Addr, a, err)
		if conn != nil {
			conn.(interface{ Abort() }).Abort()
			conn.Close()
		}
	})
	if err := p.Close(); err != nil {
		t.Error(err)
	}
	for i, r := range results {
		if r.Status != want[i] {
			t.Errorf("%v: %v, want %v", r.Target, r.Status, want[i])
		}
		if r.Status == NoARP && r.MAC != nil {
			t.Errorf("%v: no-arp with MAC %v", r.Target, r.MAC)
		}
	}
	if r := results[3]; r.SYNs < 3 {
		t.Errorf("lossy server reached after %d SYNs, want at least 3 (two dropped)", r.SYNs)
	}
	if r := results[4]; r.MAC.String() != macUp.String() || r.Resolve <= 0 {
		t.Errorf("resolved server: MAC %v after %v", r.MAC, r.Resolve)
	}
	seg.mu.Lock()
	defer seg.mu.Unlock()
	for _, s := range seg.sent {
		if s.src != src || s.dst != vipAddr || s.dport != 80 {
			t.Errorf("a segment %v:%d -> %v:%d left the bridge", s.src, s.sport, s.dst, s.dport)
		}
	}
}
