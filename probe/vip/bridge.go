package vip

import (
	"context"
	"encoding/binary"
	"net"
	"time"

	"github.com/mdlayher/packet"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/ocfkit/ocfkit/internal/backoff"
)

// The frame bridge between the socket and the stack of a Paths: inbound
// frames into the stack, the stack's packets out in frames for each
// connection's real server, and the timers that repeat ARP requests and
// unanswered SYNs.

// inbound reads frames from the socket: neighbour answers go to the ARP
// round, TCP segments of a known connection from its real server's MAC
// into the stack.
func (p *Paths) inbound() {
	defer close(p.inboundDone)
	buf := make([]byte, 65536+14)
	for {
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		f := buf[:n]
		if isNeighbour(f) {
			p.takeNeighbour(f)
			continue
		}
		proto, port, ok := tcpDestPort(f)
		if !ok || proto != p.proto {
			continue
		}
		p.mu.Lock()
		pc := p.byPort[port]
		if pc == nil || string(f[6:12]) != string(pc.mac) {
			p.mu.Unlock()
			continue
		}
		pc.syn = nil // answered: no more SYN repetitions
		if _, _, t, ok := parseTCP(proto, f[14:]); ok && t.Flags().Contains(header.TCPFlagAck) {
			pc.peerAck, pc.acked = t.AckNumber(), true
		}
		p.mu.Unlock()
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(f[14:])})
		p.ep.InjectInbound(proto, pkt)
		pkt.DecRef()
	}
}

// takeNeighbour hands an ARP reply or neighbour advertisement to the round.
func (p *Paths) takeNeighbour(f []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.arp == nil {
		return
	}
	a, ok := p.arp.Take(f)
	if !ok {
		return
	}
	if s := p.servers[a.IP]; s != nil && s.mac == nil {
		s.mac, s.resolve = a.MAC, a.After
		close(s.ready)
	}
}

// tcpDestPort returns the network protocol and TCP destination port of an
// Ethernet frame carrying IPv4 or IPv6 (no extension headers) and TCP.
func tcpDestPort(f []byte) (tcpip.NetworkProtocolNumber, uint16, bool) {
	if len(f) < 14 {
		return 0, 0, false
	}
	proto := tcpip.NetworkProtocolNumber(binary.BigEndian.Uint16(f[12:14]))
	_, _, t, ok := parseTCP(proto, f[14:])
	if !ok {
		return 0, 0, false
	}
	return proto, t.DestinationPort(), true
}

// outbound frames the stack's packets: only TCP to the VIP from a known
// port leaves, in a frame for that connection's real server. Anything else
// the stack sends (IPv6 router solicitations, MLD reports) is dropped.
func (p *Paths) outbound(ctx context.Context) {
	defer p.wg.Done()
	for {
		pkt := p.ep.ReadContext(ctx)
		if pkt == nil {
			return
		}
		v := pkt.ToView()
		b := v.AsSlice()
		p.send(b)
		v.Release()
		pkt.DecRef()
	}
}

// send frames one IP packet from the stack.
func (p *Paths) send(b []byte) {
	sport, syn, ok := p.outgoing(b)
	if !ok {
		return
	}
	p.mu.Lock()
	pc := p.byPort[sport]
	if pc == nil {
		p.mu.Unlock()
		return
	}
	ethType := []byte{0x08, 0x00}
	if p.cfg.VIP.Is6() {
		ethType = []byte{0x86, 0xdd}
	}
	frame := make([]byte, 0, 14+len(b))
	frame = append(append(append(append(frame, pc.mac...), p.cfg.Interface.HardwareAddr...), ethType...), b...)
	if syn {
		pc.syn, pc.syns = frame, pc.syns+1
		pc.synBackoff = backoff.New(p.cfg.FirstRetransmit, p.cfg.MaxRetransmit)
		pc.synNext = time.Now().Add(pc.synBackoff.Next())
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	mac := pc.mac
	p.mu.Unlock()
	_, _ = p.conn.WriteTo(frame, &packet.Addr{HardwareAddr: mac})
}

// outgoing checks that an IP packet from the stack is TCP from our source
// to the VIP:port and returns its source port and whether it is a SYN.
func (p *Paths) outgoing(b []byte) (sport uint16, syn, ok bool) {
	src, dst, t, ok := parseTCP(p.proto, b)
	if !ok || src != p.cfg.Source || dst != p.cfg.VIP || t.DestinationPort() != p.cfg.Port {
		return 0, false, false
	}
	flags := t.Flags()
	return t.SourcePort(), flags.Contains(header.TCPFlagSyn) && !flags.Contains(header.TCPFlagAck), true
}

// timers repeats ARP requests and unanswered SYN frames when due.
func (p *Paths) timers(ctx context.Context) {
	defer p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		next := p.due(now)
		if next.IsZero() {
			timer.Reset(time.Hour)
		} else {
			timer.Reset(max(time.Until(next), 0))
		}
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-timer.C:
		}
	}
}

// due sends what is due at now and returns when the next thing is.
func (p *Paths) due(now time.Time) time.Time {
	type out struct {
		frame []byte
		mac   net.HardwareAddr
	}
	var sends []out
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	p.mu.Lock()
	if p.arp != nil && !p.arp.Done() {
		if !now.Before(p.arp.Next()) {
			_ = p.arp.Send(now)
		}
		later(p.arp.Next())
	}
	for _, pc := range p.byPort {
		if pc.syn == nil {
			continue
		}
		if !now.Before(pc.synNext) {
			sends = append(sends, out{pc.syn, pc.mac})
			pc.syns++
			pc.synNext = now.Add(pc.synBackoff.Next())
		}
		later(pc.synNext)
	}
	p.mu.Unlock()
	for _, s := range sends {
		_, _ = p.conn.WriteTo(s.frame, &packet.Addr{HardwareAddr: s.mac})
	}
	return next
}

// reset sends pc's real server a RST whose sequence number is its last
// acknowledgement. The stack (as Linux) may send its own RST at the end of
// the send window, which the server only answers with a challenge ACK
// (RFC 5961), and keeps sending; the exact one ends the connection.
func (p *Paths) reset(pc *pathConn) {
	p.mu.Lock()
	seq, ok := pc.peerAck, pc.acked
	f := flow{localMAC: p.cfg.Interface.HardwareAddr, serverMAC: pc.mac, src: p.cfg.Source, vip: p.cfg.VIP,
		sport: pc.port, dport: p.cfg.Port}
	p.mu.Unlock()
	if !ok {
		return
	}
	if b, err := f.frame(seq, 0, tcpFlags{RST: true}, 0, 0); err == nil {
		_, _ = p.conn.WriteTo(b, &packet.Addr{HardwareAddr: f.serverMAC})
	}
}
