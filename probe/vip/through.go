package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/ocfkit/ocfkit/internal/backoff"
)

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
	cfg     Config
	conn    net.PacketConn
	reserve portReserver
	st      *stack.Stack
	ep      *channel.Endpoint
	proto   tcpip.NetworkProtocolNumber
	start   time.Time

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
	// synBackoff is the repetitions' schedule, restarted by each SYN
	// the stack sends.
	synBackoff backoff.Doubling
	syns       int
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
	res, err := cfg.resolver(conn, targets)
	if err != nil {
		conn.Close()
		return nil, err
	}
	var guard *kernelGuard
	if cfg.GuardKernel {
		if guard, err = newKernelGuard(cfg.VIP, cfg.Source, cfg.Port); err != nil {
			conn.Close()
			return nil, err
		}
	}
	p, err := newPaths(cfg, conn, res, reserveTCPPort, targets)
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

// newPaths builds the stack and starts the bridge on conn. res resolves
// the targets given without a MAC (nil when every target has one);
// reserve reserves each connection's source port.
func newPaths(cfg Config, conn net.PacketConn, res resolver, reserve portReserver, targets []Target) (*Paths, error) {
	p := &Paths{cfg: cfg, conn: conn, reserve: reserve, start: time.Now(), servers: map[netip.Addr]*server{},
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
	var err error
	if p.st, p.ep, p.proto, err = newStack(cfg.Interface.HardwareAddr, cfg.Interface.MTU, cfg.Source, cfg.VIP); err != nil {
		return nil, err
	}
	if len(unresolved) > 0 {
		if res == nil {
			p.st.Destroy()
			return nil, errors.New("real servers without a MAC, and no resolver")
		}
		p.arp = res.NewRound(unresolved)
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
