package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// Errors of Paths.Dial, matching the probe's statuses (see StatusOf).
var (
	ErrNoARP    = errors.New("the real server's MAC could not be resolved")
	ErrNoAnswer = errors.New("no answer through the VIP")
	ErrRefused  = errors.New("connection refused through the VIP")
)

// StatusOf returns the Status a Dial error stands for: NoARP, Refused, or
// NoAnswer for anything else; Up for nil.
func StatusOf(err error) Status {
	switch {
	case err == nil:
		return Up
	case errors.Is(err, ErrNoARP):
		return NoARP
	case errors.Is(err, ErrRefused):
		return Refused
	}
	return NoAnswer
}

// result is the finished Result of a Dial of rs that gave a and err.
func (p *Paths) result(rs netip.Addr, a Attempt, err error) Result {
	r := Result{Target: rs, Status: StatusOf(err), SourcePort: a.Port, RTT: a.Connect, SYNs: a.SYNs}
	r.MAC, r.Resolve = p.Resolved(rs)
	if r.Status == NoARP {
		r.MAC = nil // resolved only after Dial gave up
	}
	return r
}

// Attempt describes a Dial: the reserved source port, how long the
// handshake took (or was waited for) and the SYN frames sent.
type Attempt struct {
	Port    uint16
	Connect time.Duration
	SYNs    int
}

// Dial connects to VIP:port through real server rs, waiting for its MAC
// while ctx allows. Errors wrap ErrNoARP, ErrRefused or ErrNoAnswer. The
// connection is a net.Conn with an Abort method, which resets it.
func (p *Paths) Dial(ctx context.Context, rs netip.Addr) (net.Conn, Attempt, error) {
	var a Attempt
	p.mu.Lock()
	s := p.servers[rs]
	p.mu.Unlock()
	if s == nil {
		return nil, a, fmt.Errorf("real server %v was not given to OpenPaths", rs)
	}
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil, a, fmt.Errorf("%v: %w", rs, ErrNoARP)
	}
	start := time.Now()
	c, err := p.dial(ctx, rs, s.mac, &a)
	a.Connect = time.Since(start)
	return c, a, err
}

// dial is gVisor's gonet.DialTCPWithBind (pkg/tcpip/adapters/gonet), copied
// and changed rather than called, for three reasons: the bridge must know
// the connection's port and endpoint before the SYN leaves (to frame it for
// the real server, repeat it, watch the endpoint's state at Close and abort
// it with an exact RST), which gonet's TCPConn does not expose; a refusal
// must stay a typed error (gonet turns netstack's errors into strings); and
// a dial the deadline cuts aborts the endpoint (a RST, nothing left
// half-open), where gonet only closes it.
func (p *Paths) dial(ctx context.Context, rs netip.Addr, mac net.HardwareAddr, a *Attempt) (_ net.Conn, err error) {
	port, release, err := p.reserve(p.cfg.Source)
	if err != nil {
		return nil, fmt.Errorf("reserving a source port: %w", err)
	}
	a.Port = port
	if p.guard != nil {
		if err := p.guard.add(port); err != nil {
			release()
			return nil, err
		}
	}
	var wq waiter.Queue
	ep, terr := p.st.NewEndpoint(tcp.ProtocolNumber, p.proto, &wq)
	if terr != nil {
		release()
		return nil, fmt.Errorf("creating a TCP endpoint: %s", terr)
	}
	pc := &pathConn{port: port, mac: mac, ep: ep}
	defer func() {
		p.mu.Lock()
		a.SYNs = pc.syns
		if err != nil {
			pc.syn = nil // no more repetitions for a failed dial
		}
		p.mu.Unlock()
	}()
	p.mu.Lock()
	p.byPort[port] = pc
	p.releases = append(p.releases, release)
	p.conns = append(p.conns, pc)
	p.mu.Unlock()

	entry, notify := waiter.NewChannelEntry(waiter.WritableEvents)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)
	local := tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFromSlice(p.cfg.Source.AsSlice()), Port: port}
	if terr := ep.Bind(local); terr != nil {
		ep.Close()
		return nil, fmt.Errorf("binding %v:%d in the stack: %s", p.cfg.Source, port, terr)
	}
	remote := tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFromSlice(p.cfg.VIP.AsSlice()), Port: p.cfg.Port}
	terr = ep.Connect(remote)
	if _, ok := terr.(*tcpip.ErrConnectStarted); ok {
		select {
		case <-ctx.Done():
			ep.Abort()
			return nil, fmt.Errorf("%v via %v: %w", p.cfg.VIP, rs, ErrNoAnswer)
		case <-notify:
		}
		terr = ep.LastError()
	}
	switch terr.(type) {
	case nil:
	case *tcpip.ErrConnectionRefused:
		ep.Close()
		return nil, fmt.Errorf("%v via %v: %w", p.cfg.VIP, rs, ErrRefused)
	default:
		ep.Close()
		return nil, fmt.Errorf("%v via %v: %s: %w", p.cfg.VIP, rs, terr, ErrNoAnswer)
	}
	abort := func() {
		ep.Abort()
		p.reset(pc)
	}
	return &pathTCPConn{TCPConn: gonet.NewTCPConn(&wq, ep), abort: abort}, nil
}

// pathTCPConn is a connection through the VIP that can also be aborted:
// a RST at once, and what is unread dropped (l7.Aborter). (A function, not
// the Paths: a type behind an interface keeps all its exported methods in
// the binary, and those of the types it points to.)
type pathTCPConn struct {
	*gonet.TCPConn
	abort func()
}

// Abort resets the connection.
func (c *pathTCPConn) Abort() { c.abort() }
