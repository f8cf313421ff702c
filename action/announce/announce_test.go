package announce

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/ipv6"
)

type frameSink struct{ frames [][]byte }

func (s *frameSink) WriteTo(b []byte, addr net.Addr) (int, error) {
	if a, ok := addr.(*packet.Addr); !ok || a.HardwareAddr.String() != "ff:ff:ff:ff:ff:ff" {
		panic("frame not sent to broadcast")
	}
	s.frames = append(s.frames, append([]byte(nil), b...))
	return len(b), nil
}

type naSink struct {
	msgs []ndp.Message
	dsts []netip.Addr
}

func (s *naSink) WriteTo(m ndp.Message, _ *ipv6.ControlMessage, dst netip.Addr) error {
	s.msgs, s.dsts = append(s.msgs, m), append(s.dsts, dst)
	return nil
}

func TestAnnounce(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42}
	v4, v6 := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("fd00::5")
	fs, ns := &frameSink{}, &naSink{}
	a := &Announcer{HardwareAddr: mac, ARP: fs, NDP: ns}
	if err := a.Announce(context.Background(), []netip.Addr{v4, v6}, 3, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if len(fs.frames) != 6 || len(ns.msgs) != 3 {
		t.Fatalf("sent %d ARP frames and %d NAs, want 6 and 3", len(fs.frames), len(ns.msgs))
	}
	for i, fb := range fs.frames {
		var f ethernet.Frame
		if err := f.UnmarshalBinary(fb); err != nil {
			t.Fatal(err)
		}
		if f.EtherType != ethernet.EtherTypeARP || f.Destination.String() != "ff:ff:ff:ff:ff:ff" || f.Source.String() != mac.String() {
			t.Errorf("frame %d header: %+v", i, f)
		}
		var p arp.Packet
		if err := p.UnmarshalBinary(f.Payload); err != nil {
			t.Fatal(err)
		}
		wantOp := arp.OperationRequest
		if i%2 == 1 {
			wantOp = arp.OperationReply
		}
		if p.Operation != wantOp || p.SenderIP != v4 || p.TargetIP != v4 || p.SenderHardwareAddr.String() != mac.String() {
			t.Errorf("frame %d: %+v, want gratuitous %v for %s", i, p, wantOp, v4)
		}
	}
	na, ok := ns.msgs[0].(*ndp.NeighborAdvertisement)
	if !ok || !na.Override || na.Solicited || na.TargetAddress != v6 || ns.dsts[0] != allNodes {
		t.Fatalf("NA = %+v to %v", ns.msgs[0], ns.dsts[0])
	}
	lla, ok := na.Options[0].(*ndp.LinkLayerAddress)
	if !ok || lla.Direction != ndp.Target || lla.Addr.String() != mac.String() {
		t.Errorf("NA option = %+v", na.Options[0])
	}
	// The NA must survive a round trip through the wire format.
	b, err := ndp.MarshalMessage(na)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ndp.ParseMessage(b); err != nil {
		t.Fatal(err)
	}
}

func TestAnnounceStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fs := &frameSink{}
	a := &Announcer{HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, ARP: fs}
	if err := a.Announce(ctx, []netip.Addr{netip.MustParseAddr("10.0.0.5")}, 5, time.Hour); err == nil {
		t.Fatal("no error after cancel")
	}
	if len(fs.frames) != 2 {
		t.Errorf("sent %d frames, want one round (2)", len(fs.frames))
	}
}

func TestAnnounceWithoutSocket(t *testing.T) {
	a := &Announcer{HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}}
	if err := a.Announce(context.Background(), []netip.Addr{netip.MustParseAddr("fd00::1")}, 1, 0); err == nil {
		t.Error("no error without an NDP socket")
	}
}

// TestGratuitousARPRefusesBadInput checks that a bad MAC or a non-IPv4
// address is an error, not a panic.
func TestGratuitousARPRefusesBadInput(t *testing.T) {
	good := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42}
	for _, tc := range []struct {
		name string
		mac  net.HardwareAddr
		ip   netip.Addr
	}{
		{"short MAC", net.HardwareAddr{1, 2, 3}, netip.MustParseAddr("10.0.0.5")},
		{"nil MAC", nil, netip.MustParseAddr("10.0.0.5")},
		{"IPv6", good, netip.MustParseAddr("fd00::5")},
		{"zero address", good, netip.Addr{}},
		{"IPv4-mapped IPv6", good, netip.MustParseAddr("::ffff:10.0.0.5")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames, err := GratuitousARP(tc.mac, tc.ip)
			if err == nil {
				t.Fatalf("got %d frames, want an error", len(frames))
			}
		})
	}
	if frames, err := GratuitousARP(good, netip.MustParseAddr("10.0.0.5")); err != nil || len(frames) != 2 {
		t.Fatalf("good input: %d frames, %v", len(frames), err)
	}
}

// TestAnnounceBadMAC checks that an Announcer with a bad MAC fails the
// round with an error.
func TestAnnounceBadMAC(t *testing.T) {
	a := &Announcer{HardwareAddr: net.HardwareAddr{1}, ARP: &frameSink{}}
	if err := a.Announce(context.Background(), []netip.Addr{netip.MustParseAddr("10.0.0.5")}, 1, time.Millisecond); err == nil {
		t.Fatal("bad MAC accepted")
	}
}
