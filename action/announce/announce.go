// Package announce tells a link that addresses moved to this node:
// gratuitous ARP (a request and a reply form, as keepalived and MetalLB send)
// for IPv4 and unsolicited neighbour advertisements with the override flag
// for IPv6, repeated a number of times at an interval.
//
// The sockets are seams: an Announcer writes ARP frames to any
// net.PacketConn-like writer and NDP messages to any NAWriter, so tests can
// check the frames without root.
package announce

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/ipv6"
)

// FrameWriter sends one Ethernet frame to a hardware address
// (a *packet.Conn, or a fake in tests).
type FrameWriter interface {
	WriteTo(b []byte, addr net.Addr) (int, error)
}

// NAWriter sends one NDP message (an *ndp.Conn, or a fake in tests).
type NAWriter interface {
	WriteTo(m ndp.Message, cm *ipv6.ControlMessage, dst netip.Addr) error
}

// Announcer sends announcements from one interface.
type Announcer struct {
	// HardwareAddr is the interface's MAC: the new owner of the addresses.
	HardwareAddr net.HardwareAddr
	// ARP carries IPv4 announcements; nil if there are none to send.
	ARP FrameWriter
	// NDP carries IPv6 announcements; nil if there are none to send.
	NDP NAWriter
	// Guard, when set, sends each round: it returns an error without
	// calling send when the round must not go out (a newer event was
	// recorded, so the address may already be gone), and announcing stops
	// with that error.
	Guard func(send func() error) error
}

// allNodes is ff02::1, where unsolicited advertisements go (RFC 4861 7.2.6).
var allNodes = netip.MustParseAddr("ff02::1")

// Announce sends count rounds, interval apart, each holding a gratuitous ARP
// request and reply per IPv4 address and an unsolicited advertisement per
// IPv6 address. It stops early when ctx ends (the first round goes out
// regardless: Guard is what refuses it), or when Guard refuses a round.
func (a *Announcer) Announce(ctx context.Context, ips []netip.Addr, count int, interval time.Duration) error {
	for round := 0; round < count; round++ {
		if round > 0 {
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		send := func() error {
			for _, ip := range ips {
				if err := a.once(ip); err != nil {
					return fmt.Errorf("announcing %s (round %d of %d): %w", ip, round+1, count, err)
				}
			}
			return nil
		}
		if a.Guard != nil {
			if err := a.Guard(send); err != nil {
				return err
			}
		} else if err := send(); err != nil {
			return err
		}
	}
	return nil
}

func (a *Announcer) once(ip netip.Addr) error {
	ip = ip.Unmap()
	if ip.Is4() {
		if a.ARP == nil {
			return errors.New("no ARP socket")
		}
		frames, err := GratuitousARP(a.HardwareAddr, ip)
		if err != nil {
			return err
		}
		for _, f := range frames {
			if _, err := a.ARP.WriteTo(f, &packet.Addr{HardwareAddr: ethernet.Broadcast}); err != nil {
				return err
			}
		}
		return nil
	}
	if a.NDP == nil {
		return errors.New("no NDP socket")
	}
	return a.NDP.WriteTo(UnsolicitedNA(a.HardwareAddr, ip), nil, allNodes)
}

// GratuitousARP returns two broadcast Ethernet frames announcing that ip is
// at mac: an ARP request and an ARP reply, both with sender and target IP
// set to ip. A MAC that is not 6 bytes or an address that is not IPv4 is
// an error.
func GratuitousARP(mac net.HardwareAddr, ip netip.Addr) ([][]byte, error) {
	var frames [][]byte
	for _, op := range []struct {
		op       arp.Operation
		targetHW net.HardwareAddr
	}{
		{arp.OperationRequest, net.HardwareAddr{0, 0, 0, 0, 0, 0}},
		{arp.OperationReply, ethernet.Broadcast},
	} {
		fb, err := arpFrame(op.op, mac, ip, op.targetHW)
		if err != nil {
			return nil, fmt.Errorf("gratuitous ARP for %s at %s: %w", ip, mac, err)
		}
		frames = append(frames, fb)
	}
	return frames, nil
}

// arpFrame builds one broadcast Ethernet frame holding an ARP packet whose
// sender and target IP are both ip.
func arpFrame(op arp.Operation, mac net.HardwareAddr, ip netip.Addr, targetHW net.HardwareAddr) ([]byte, error) {
	if !ip.Is4() {
		return nil, errors.New("not an IPv4 address")
	}
	p, err := arp.NewPacket(op, mac, ip, targetHW, ip)
	if err != nil {
		return nil, err
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: mac, EtherType: ethernet.EtherTypeARP, Payload: pb}
	return f.MarshalBinary()
}

// UnsolicitedNA returns the neighbour advertisement that announces ip at
// mac, overriding existing cache entries.
func UnsolicitedNA(mac net.HardwareAddr, ip netip.Addr) *ndp.NeighborAdvertisement {
	return &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: ip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{
			Direction: ndp.Target,
			Addr:      mac,
		}},
	}
}
