package vip

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/packet"

	"github.com/ocfkit/ocfkit/internal/backoff"
)

// run is Probe on the given socket, resolver and port reserver, so tests can
// drive it without root.
func run(ctx context.Context, cfg Config, conn net.PacketConn, res resolver, reserve portReserver, targets []Target) ([]Result, error) {
	cfg.defaults()
	s := &session{cfg: cfg, conn: conn, start: time.Now(),
		byPort: make(map[uint16]*state, len(targets)), byAddr: map[netip.Addr][]*state{}}
	defer s.release()
	if err := s.prepare(reserve, targets); err != nil {
		return nil, err
	}
	// Replies are read from the start, on their own goroutine, while
	// requests go out: thousands of answers arriving during a burst of
	// requests must not overflow the socket's queue.
	frames, readErr, stopReading := readFrames(conn)
	defer stopReading()
	// ARP runs in the same loop as the probes: each real server is probed
	// as soon as its MAC is known. Requests and SYNs go out in paced
	// batches (tick).
	if len(s.unresolved) > 0 {
		if res == nil {
			return nil, errors.New("probe: targets without MAC and no ARP resolver")
		}
		s.arp = res.NewRound(s.unresolved)
	}
	now := time.Now()
	for _, st := range s.states {
		if st.MAC != nil {
			s.begin(st, st.MAC, now)
		}
	}
	s.open = len(s.states)
	if err := s.tick(now); err != nil {
		return nil, err
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, open := s.nextEvent()
		if !open {
			return results(s.states), nil
		}
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), 0))
		}
		var err error
		select {
		case <-ctx.Done():
			s.finish()
			return results(s.states), nil
		case err = <-readErr:
			err = fmt.Errorf("reading replies: %w", err)
		case f := <-frames:
			err = s.receiveBatch(f, frames)
		case <-timer.C:
			err = s.tick(time.Now())
		}
		if err != nil {
			return nil, err
		}
	}
}

// frameBatch is the most frames handled before the loop looks at its
// timers again.
const frameBatch = 256

// receiveBatch handles f and the frames already queued behind it, up to
// frameBatch.
func (s *session) receiveBatch(f []byte, frames <-chan []byte) error {
	for range frameBatch {
		if err := s.receive(f); err != nil {
			return err
		}
		select {
		case f = <-frames:
		default:
			return nil
		}
	}
	return nil
}

// session is one Probe call: the targets' states and the ARP round.
type session struct {
	cfg        Config
	conn       net.PacketConn
	start      time.Time
	states     []*state
	byPort     map[uint16]*state
	byAddr     map[netip.Addr][]*state // targets waiting for ARP
	unresolved []netip.Addr
	arp        round
	// synsAfter is when SYNs may go out again after a full batch.
	synsAfter time.Time
	// open counts the targets not done. ready holds the targets whose
	// MAC came in and whose first SYN is still to go, in that order.
	// scanAt is the earliest retransmission or close timeout (or earlier),
	// when tick next scans every target; next is the earliest event. So
	// neither a frame nor a first SYN costs a scan of every target.
	open   int
	ready  []*state
	scanAt time.Time
	next   time.Time
	// slowest is the longest answer time seen in this call: under load
	// (thousands of targets) answers queue, and a retransmission before
	// then only adds to the queue.
	slowest time.Duration
	// retryFrom is the index in states where the next scan's
	// retransmissions begin.
	retryFrom int
}

// schedule brings the next scan and event forward to t.
func (s *session) schedule(t time.Time) {
	s.scanAt = earliest(s.scanAt, t)
	s.next = earliest(s.next, t)
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// earliest returns the earlier of a and b, where zero means none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// synBatch is the most SYNs one tick sends, and synPace the wait before
// the next batch when more are due (see neigh.SendBatch).
const (
	synBatch = 128
	synPace  = time.Millisecond
)

// prepare reserves a source port and draws an ISN for every target.
func (s *session) prepare(reserve portReserver, targets []Target) error {
	for _, t := range targets {
		port, release, err := reserve(s.cfg.Source)
		if err != nil {
			return fmt.Errorf("reserving a source port: %w", err)
		}
		st := &state{
			Result:  Result{Target: t.Addr, SourcePort: port},
			release: release,
			isn:     rand.Uint32(),
			flow: flow{localMAC: s.cfg.Interface.HardwareAddr, src: s.cfg.Source, vip: s.cfg.VIP,
				sport: port, dport: s.cfg.Port},
		}
		s.states = append(s.states, st)
		s.byPort[port] = st
		if t.MAC != nil {
			st.MAC = t.MAC
			continue
		}
		if len(s.byAddr[t.Addr]) == 0 {
			s.unresolved = append(s.unresolved, t.Addr)
		}
		s.byAddr[t.Addr] = append(s.byAddr[t.Addr], st)
	}
	return nil
}

// release gives the reserved ports back.
func (s *session) release() {
	for _, st := range s.states {
		if st.release != nil {
			st.release()
		}
	}
}

// send writes one segment of st's flow.
func (s *session) send(st *state, seq, ack uint32, fl tcpFlags) error {
	b, err := st.flow.frame(seq, ack, fl, s.cfg.MSS, uint16(rand.Uint32()))
	if err != nil {
		return err
	}
	if _, err := s.conn.WriteTo(b, &packet.Addr{HardwareAddr: st.flow.serverMAC}); err != nil {
		return fmt.Errorf("sending to %v via %v: %w", s.cfg.VIP, st.Target, err)
	}
	return nil
}

// sendSYN sends (or resends) st's SYN and plans the next retransmission.
func (s *session) sendSYN(st *state, now time.Time) error {
	if st.SYNs == 0 {
		st.sentAt = now
		first := max(s.cfg.FirstRetransmit, min(2*s.slowest, s.cfg.MaxRetransmit))
		st.backoff = backoff.New(first, s.cfg.MaxRetransmit)
	}
	st.SYNs++
	st.nextTx = now.Add(st.backoff.Next())
	return s.send(st, st.isn, 0, tcpFlags{SYN: true})
}

// begin queues st's first SYN once its MAC is known; tick sends it.
func (s *session) begin(st *state, mac net.HardwareAddr, now time.Time) {
	st.MAC, st.flow.serverMAC = mac, mac
	s.ready = append(s.ready, st)
	s.next = earliest(s.next, later(now, s.synsAfter))
}

// arpPending reports whether ARP still waits for answers.
func (s *session) arpPending() bool { return s.arp != nil && !s.arp.Done() }

// nextEvent returns when the next retransmission, close timeout or ARP
// retry is due, and whether any target is still open.
func (s *session) nextEvent() (next time.Time, open bool) {
	if s.open == 0 {
		return time.Time{}, false
	}
	next = s.next
	if s.arpPending() && (next.IsZero() || s.arp.Next().Before(next)) {
		next = s.arp.Next()
	}
	return next, true
}

// due is when st needs tick next (zero: never).
func (s *session) due(st *state) time.Time {
	switch {
	case st.done:
		return time.Time{}
	case st.closing:
		return st.closeUntil
	case !st.nextTx.IsZero() && st.nextTx.Before(s.synsAfter):
		return s.synsAfter
	}
	return st.nextTx
}

// receive handles one frame that passed the socket's filter.
func (s *session) receive(f []byte) error {
	if s.arp != nil && isNeighbour(f) {
		a, ok := s.arp.Take(f)
		if !ok {
			return nil
		}
		now := time.Now()
		for _, st := range s.byAddr[a.IP] {
			st.Resolve = a.After
			s.begin(st, a.MAC, now)
		}
		return nil
	}
	seg, ok := parseSegment(f)
	if !ok {
		return nil
	}
	st := s.byPort[seg.dport]
	if st == nil || st.flow.serverMAC == nil || !st.flow.matches(seg) {
		return nil
	}
	wasDone, was := st.done, st.Status
	err := st.handle(seg, time.Now(), s.cfg, s.send)
	if st.done && !wasDone {
		s.open--
	}
	if st.Status != was {
		s.slowest = max(s.slowest, st.RTT)
	}
	s.schedule(s.due(st))
	return err
}

// tick runs what is due: ARP requests; first SYNs, then retransmitted
// ones (together at most synBatch, then more after synPace); and resets of
// connections whose server did not close in time.
func (s *session) tick(now time.Time) error {
	if s.arpPending() && !now.Before(s.arp.Next()) {
		if err := s.arp.Send(now); err != nil {
			return fmt.Errorf("resolving real servers: %w", err)
		}
	}
	syns := 0
	for len(s.ready) > 0 && !now.Before(s.synsAfter) {
		if syns == synBatch {
			s.synsAfter = now.Add(synPace)
			break
		}
		st := s.ready[0]
		s.ready = s.ready[1:]
		if st.done || st.SYNs > 0 {
			continue
		}
		syns++
		if err := s.sendSYN(st, now); err != nil {
			return err
		}
		s.scanAt = earliest(s.scanAt, st.nextTx)
	}
	if !s.scanAt.IsZero() && !now.Before(s.scanAt) {
		if err := s.scan(now, syns); err != nil {
			return err
		}
	}
	s.next = s.scanAt
	if len(s.ready) > 0 {
		s.next = earliest(s.next, later(now, s.synsAfter))
	}
	return nil
}

// scan goes through every target: resets connections whose server did not
// close in time, retransmits due SYNs (syns were sent already in this
// tick), counts the open targets and finds the next scan. Retransmissions
// begin where the last full batch left off (retryFrom), round robin, so
// the first targets' retries do not take every batch from the last ones'.
func (s *session) scan(now time.Time, syns int) error {
	full := false
	for k := range len(s.states) {
		i := (s.retryFrom + k) % len(s.states)
		st := s.states[i]
		switch {
		case st.done:
		case st.closing && !now.Before(st.closeUntil):
			st.done = true
			if err := s.send(st, st.isn+2, 0, tcpFlags{RST: true}); err != nil {
				return err
			}
		case !st.closing && !st.nextTx.IsZero() && !now.Before(st.nextTx) && !now.Before(s.synsAfter):
			if syns == synBatch {
				if !full {
					full, s.retryFrom = true, i
				}
				s.synsAfter = now.Add(synPace)
				continue
			}
			syns++
			if err := s.sendSYN(st, now); err != nil {
				return err
			}
		}
	}
	s.open, s.scanAt = 0, time.Time{}
	for _, st := range s.states {
		if !st.done {
			s.open++
			s.scanAt = earliest(s.scanAt, s.due(st))
		}
	}
	return nil
}

// finish settles every open target when the deadline passes: no-arp or
// no-answer, and closing connections get a RST.
func (s *session) finish() {
	now := time.Now()
	for _, st := range s.states {
		if st.done {
			continue
		}
		st.done = true
		switch {
		case st.closing:
			_ = s.send(st, st.isn+2, 0, tcpFlags{RST: true})
		case st.MAC == nil:
			st.Status, st.RTT, st.Resolve = NoARP, 0, now.Sub(s.start)
		case st.Status != Up:
			st.Status, st.RTT = NoAnswer, now.Sub(st.sentAt)
		}
	}
}

// isNeighbour reports whether an Ethernet frame carries ARP or ICMPv6
// (neighbour discovery), not TCP.
func isNeighbour(f []byte) bool {
	switch {
	case len(f) >= 14 && f[12] == 0x08 && f[13] == 0x06:
		return true
	case len(f) >= 21 && f[12] == 0x86 && f[13] == 0xdd && f[20] == 58:
		return true
	}
	return false
}

// matches reports whether seg belongs to the flow: from the real server's
// MAC, VIP:port to our address and port.
func (f *flow) matches(seg segment) bool {
	return seg.src == f.vip && seg.dst == f.src && seg.sport == f.dport && seg.dport == f.sport &&
		string(seg.srcMAC) == string(f.serverMAC)
}

// handle takes one segment of st's flow.
func (st *state) handle(seg segment, now time.Time, cfg Config, send func(*state, uint32, uint32, tcpFlags) error) error {
	switch {
	case seg.flags.SYN && seg.flags.ACK:
		if seg.ack != st.isn+1 {
			return nil // not an answer to our SYN
		}
		if st.Status != Up {
			st.Status, st.RTT, st.nextTx = Up, now.Sub(st.sentAt), time.Time{}
		}
		if !cfg.Close {
			st.done = true
			// RST with seq = their ack ends the half-open connection; again
			// for every duplicate SYN-ACK.
			return send(st, st.isn+1, 0, tcpFlags{RST: true})
		}
		if !st.closing {
			st.closing, st.closeUntil = true, now.Add(min(maxCloseWait, max(4*st.RTT, 20*time.Millisecond)))
		}
		return send(st, st.isn+1, seg.seq+1, tcpFlags{ACK: true, FIN: true})
	case seg.flags.RST:
		if st.Status == Up || st.done {
			st.done = true // the server gave up the connection itself
			return nil
		}
		// A RST answering our SYN acknowledges it (RFC 9293 3.10.7.3);
		// one without ACK is dropped.
		if !seg.flags.ACK || seg.ack != st.isn+1 {
			return nil
		}
		st.Status, st.RTT, st.done = Refused, now.Sub(st.sentAt), true
	case seg.flags.FIN && st.closing:
		st.done, st.Closed = true, true
		return send(st, st.isn+2, seg.seq+uint32(seg.payload)+1, tcpFlags{ACK: true})
	}
	return nil
}

func results(states []*state) []Result {
	out := make([]Result, len(states))
	for i, st := range states {
		out[i] = st.Result
	}
	return out
}
