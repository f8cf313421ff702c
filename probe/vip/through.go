package vip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/ocfkit/ocfkit/probe/neigh"
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

// nicID is the only NIC of a Paths stack.
const nicID = 1

// minRTO is the stack's smallest retransmission timeout: real servers are
// on the same segment, so the 200 ms of RFC 6298 would waste most of a
// check's time on a lost segment.
const minRTO = 30 * time.Millisecond

// Paths carries ordinary TCP connections through the VIP path: a
// userspace TCP/IP stack (gVisor's netstack) whose packets travel over one
// AF_PACKET socket in Ethernet frames for one real server's MAC, with the
// VIP as IP destination. Each connection's source is the interface's
// address with a port reserved from the kernel; the frame's destination
// MAC is the real server's the connection was dialled for (a static
// neighbour entry per connection). The socket's BPF filter lets only ARP
// or neighbour answers and segments from VIP:port to the source address
// reach user space.
//
// Netstack's first SYN retransmission comes after a fixed second, too long
// for a check, so the bridge repeats a connection's SYN frame (same
// sequence number) on the probe's schedule until the real server answers:
// a lost SYN costs tens of milliseconds, not a second. (A lost SYN-ACK
// costs more: Linux resends it for a repeated SYN at most every
// net.ipv4.tcp_invalid_ratelimit, 500 ms by default.)
type Paths struct {
	cfg   Config
	conn  net.PacketConn
	st    *stack.Stack
	ep    *channel.Endpoint
	proto tcpip.NetworkProtocolNumber
	start time.Time

	mu       sync.Mutex
	servers  map[netip.Addr]*server
	byPort   map[uint16]*pathConn
	arp      round
	wake     chan struct{}
	releases []func()
	conns    []*pathConn

	guard *kernelGuard

	cancel      context.CancelFunc
	wg          sync.WaitGroup // outbound and timers
	inboundDone chan struct{}
}

// server is one real server's neighbour state.
type server struct {
	mac     net.HardwareAddr
	resolve time.Duration
	ready   chan struct{} // closed once mac is known
}

// pathConn is one connection's frame-level state.
type pathConn struct {
	port    uint16
	mac     net.HardwareAddr
	ep      tcpip.Endpoint
	syn     []byte    // the SYN frame while unanswered
	synNext time.Time // next repetition
	synWait time.Duration
	syns    int
	// peerAck is the acknowledgement number of the real server's last
	// segment (acked: there was one), the sequence number of an exact RST.
	peerAck uint32
	acked   bool
}

// OpenPaths opens the socket and the stack for connections to
// cfg.VIP:cfg.Port through the given real servers, and starts resolving
// the MACs not given. ctx bounds the resolution only; Close releases
// everything. It needs CAP_NET_RAW.
func OpenPaths(ctx context.Context, cfg Config, targets []Target) (*Paths, error) {
	if err := cfg.prepare(targets); err != nil {
		return nil, err
	}
	for _, t := range targets {
		if t.Addr.Is4() != cfg.VIP.Is4() {
			return nil, fmt.Errorf("real server %v and VIP %v differ in address family", t.Addr, cfg.VIP)
		}
	}
	conn, err := cfg.listen()
	if err != nil {
		return nil, err
	}
	var guard *kernelGuard
	if cfg.GuardKernel {
		if guard, err = newKernelGuard(cfg.VIP, cfg.Source, cfg.Port); err != nil {
			conn.Close()
			return nil, err
		}
	}
	p, err := newPaths(cfg, conn, targets)
	if err != nil {
		conn.Close()
		if guard != nil {
			_ = guard.close()
		}
		return nil, err
	}
	p.guard = guard
	return p, nil
}

// readBuffer is the packet socket's receive buffer. A real server's
// segments arrive as GSO frames of up to 64 KiB (on veth and with GRO), and
// the default buffer (about 200 KiB) overflows while the stack catches up:
// the kernel drops frames, and the real server's retransmission costs
// 200 ms or more. A probe of thousands of real servers gets thousands of
// answers at once.
const readBuffer = 8 << 20

// setReadBuffer enlarges the socket's receive buffer, beyond rmem_max when
// the process may (CAP_NET_ADMIN); the default stays when neither works.
func setReadBuffer(conn *packet.Conn, size int) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
		}
	})
}

// newPaths builds the stack on conn and starts the bridge.
func newPaths(cfg Config, conn net.PacketConn, targets []Target) (*Paths, error) {
	p := &Paths{cfg: cfg, conn: conn, start: time.Now(), servers: map[netip.Addr]*server{},
		byPort: map[uint16]*pathConn{}, wake: make(chan struct{}, 1)}
	var unresolved []netip.Addr
	for _, t := range targets {
		if p.servers[t.Addr] != nil {
			continue
		}
		s := &server{ready: make(chan struct{})}
		p.servers[t.Addr] = s
		if t.MAC != nil {
			s.mac = t.MAC
			close(s.ready)
		} else {
			unresolved = append(unresolved, t.Addr)
		}
	}
	mtu := uint32(cfg.Interface.MTU)
	if mtu == 0 || mtu > 65535 {
		mtu = 1500
	}
	p.st = stack.New(stack.Options{
		NetworkProtocols: []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocolWithOptions(ipv6.Options{
			DADConfigs: stack.DADConfigurations{DupAddrDetectTransmits: 0},
		})},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	p.ep = channel.New(512, mtu, tcpip.LinkAddress(cfg.Interface.HardwareAddr))
	// The interface checked the checksums of what it received (on veth the
	// sender's are not even filled in yet); netstack computes its own.
	p.ep.LinkEPCapabilities = stack.CapabilityRXChecksumOffload
	if err := p.st.CreateNIC(nicID, p.ep); err != nil {
		p.st.Destroy()
		return nil, fmt.Errorf("creating the stack's interface: %s", err)
	}
	p.proto = ipv4.ProtocolNumber
	subnet := header.IPv4EmptySubnet
	if cfg.VIP.Is6() {
		p.proto, subnet = ipv6.ProtocolNumber, header.IPv6EmptySubnet
	}
	pa := tcpip.ProtocolAddress{Protocol: p.proto, AddressWithPrefix: tcpip.AddrFromSlice(cfg.Source.AsSlice()).WithPrefix()}
	if err := p.st.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
		p.st.Destroy()
		return nil, fmt.Errorf("adding %v to the stack: %s", cfg.Source, err)
	}
	p.st.SetRouteTable([]tcpip.Route{{Destination: subnet, NIC: nicID}})
	rto := tcpip.TCPMinRTOOption(minRTO)
	sack := tcpip.TCPSACKEnabled(true)
	for _, opt := range []tcpip.SettableTransportProtocolOption{&rto, &sack} {
		if err := p.st.SetTransportProtocolOption(tcp.ProtocolNumber, opt); err != nil {
			p.st.Destroy()
			return nil, fmt.Errorf("setting %T: %s", opt, err)
		}
	}
	if len(unresolved) > 0 {
		c, err := neigh.New(conn, cfg.Interface.HardwareAddr, cfg.Source)
		if err != nil {
			p.st.Destroy()
			return nil, err
		}
		p.arp = c.NewRound(unresolved)
		if err := p.arp.Send(time.Now()); err != nil {
			p.st.Destroy()
			return nil, fmt.Errorf("resolving real servers: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	p.inboundDone = make(chan struct{})
	go p.inbound()
	go p.outbound(ctx)
	go p.timers(ctx)
	return p, nil
}

// Resolved returns the real server's MAC and how long resolving it took
// (zero for a MAC given to OpenPaths); while the MAC is not known, nil and
// the time since OpenPaths.
func (p *Paths) Resolved(rs netip.Addr) (net.HardwareAddr, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.servers[rs]
	switch {
	case s == nil:
		return nil, 0
	case s.mac == nil:
		return nil, time.Since(p.start)
	}
	return s.mac, s.resolve
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

func (p *Paths) dial(ctx context.Context, rs netip.Addr, mac net.HardwareAddr, a *Attempt) (_ net.Conn, err error) {
	port, release, err := reserveTCPPort(p.cfg.Source)
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
	pc := &pathConn{port: port, mac: mac, ep: ep, synWait: p.cfg.FirstRetransmit}
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

// Close ends the bridge: connections still closing get up to 200 ms to
// finish their FIN exchange, then the stack resets what is left, and the
// socket and the reserved ports are released.
func (p *Paths) Close() error {
	deadline := time.Now().Add(maxCloseWait)
	for time.Now().Before(deadline) && !p.settled() {
		time.Sleep(5 * time.Millisecond) // polls netstack's endpoint states
	}
	// Nothing more goes into the stack while it is torn down. A socket
	// that refuses the deadline is closed instead, which ends the read as
	// surely (the last RSTs are then lost); either way the wait is bounded.
	closed := false
	err := p.conn.SetReadDeadline(time.Now())
	if err != nil {
		err = fmt.Errorf("ending the bridge's reads: %w", err)
		_ = p.conn.Close()
		closed = true
	}
	select {
	case <-p.inboundDone:
	case <-time.After(inboundStopWait):
		if !closed {
			_ = p.conn.Close()
			closed = true
		}
	}
	p.st.Close() // aborts what is left: RSTs still go out
	p.st.Wait()
	for end := time.Now().Add(50 * time.Millisecond); p.ep.NumQueued() > 0 && time.Now().Before(end); {
		time.Sleep(time.Millisecond) // lets outbound send the last RSTs
	}
	p.cancel()
	p.ep.Close()
	p.wg.Wait()
	if !closed {
		if cerr := p.conn.Close(); err == nil {
			err = cerr
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.releases {
		r()
	}
	if p.guard != nil {
		if gerr := p.guard.close(); err == nil {
			err = gerr
		}
	}
	return err
}

// inboundStopWait bounds the wait for the bridge's reader to stop once
// told to.
const inboundStopWait = time.Second

// settled reports whether every connection is closed or in TIME-WAIT.
func (p *Paths) settled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		switch tcp.EndpointState(c.ep.State()) {
		case tcp.StateClose, tcp.StateError, tcp.StateTimeWait, tcp.StateInitial, tcp.StateBound:
		default:
			return false
		}
	}
	return true
}

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
		pc.synWait = p.cfg.FirstRetransmit
		pc.synNext = time.Now().Add(pc.synWait)
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
			pc.synWait = min(2*pc.synWait, p.cfg.MaxRetransmit)
			pc.synNext = now.Add(pc.synWait)
		}
		later(pc.synNext)
	}
	p.mu.Unlock()
	for _, s := range sends {
		_, _ = p.conn.WriteTo(s.frame, &packet.Addr{HardwareAddr: s.mac})
	}
	return next
}
