// Package vip checks LVS direct-routing real servers the way forwarded
// traffic reaches them: a TCP SYN in an Ethernet frame for the real server's
// MAC whose IP destination is the virtual IP (VIP). A real server that lost
// the VIP from its loopback stays silent, although its own address still
// answers every ordinary check.
//
// Probe resolves the real servers' MACs with one ARP round (package
// probe/neigh), sends all SYNs over one AF_PACKET socket whose BPF filter
// lets only the replies through, retransmits with backoff inside the
// deadline, accepts only a matching SYN-ACK and then resets (or closes) the
// half-open connection so the real server keeps nothing. Requests and SYNs
// go out in paced batches, and replies are read while they do, so one call
// checks ten thousand real servers. Connect is the
// plain TCP check a balancer without the VIP can do, and Paths carries
// whole connections through the VIP. Check is the one entry point over
// all three: it returns every real server's finished Result, and with a
// ConnCheck (such as an HTTP request) its verdict.
package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"

	"github.com/ocfkit/ocfkit/internal/backoff"
	"github.com/ocfkit/ocfkit/probe/neigh"
)

// Status is the outcome of probing one real server.
type Status int

const (
	// NoARP: the real server's MAC could not be resolved.
	NoARP Status = iota
	// NoAnswer: silence until the deadline; the VIP is probably missing
	// from the real server's loopback.
	NoAnswer
	// Refused: the real server answered with a RST; nothing listens on the
	// port.
	Refused
	// Up: the real server answered with a matching SYN-ACK.
	Up
)

// String returns the name used in result lines: up, refused, no-answer,
// no-arp.
func (s Status) String() string {
	switch s {
	case Up:
		return "up"
	case Refused:
		return "refused"
	case NoAnswer:
		return "no-answer"
	case NoARP:
		return "no-arp"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Target is one real server: its own address, and optionally its MAC (then
// no ARP is done for it).
type Target struct {
	Addr netip.Addr
	MAC  net.HardwareAddr
}

// Result is the outcome of probing one real server, with timings.
type Result struct {
	Target     netip.Addr
	MAC        net.HardwareAddr // resolved or given; nil for NoARP
	Status     Status
	SourcePort uint16
	Resolve    time.Duration // until the ARP reply (zero with a static MAC)
	RTT        time.Duration // from the first SYN to the answer, or the time waited
	SYNs       int           // SYNs sent, retransmissions included
	Closed     bool          // with Config.Close: the server's FIN was acknowledged
	// Took is, for a Check with a ConnCheck, the time from the first
	// connection attempt until the last check of one ended.
	Took time.Duration
}

// Config describes what to probe.
type Config struct {
	Interface *net.Interface
	// Source is the address (of the VIP's family) the SYNs come from;
	// zero means SourceAddress's choice.
	Source netip.Addr
	VIP    netip.Addr
	Port   uint16
	// Close ends each healthy connection with ACK+FIN (waiting briefly for
	// the server's FIN) instead of a RST.
	Close bool
	// MSS is the MSS option of the SYN; zero means 1460.
	MSS uint16
	// GuardKernel (OpenPaths only) installs an nftables rule per
	// connection so this host's kernel does not answer the real servers'
	// segments with RSTs (see kernelGuard). It needs CAP_NET_ADMIN.
	GuardKernel bool
	// FirstRetransmit is the wait before the first retransmitted SYN (zero:
	// 50 ms); waits double up to MaxRetransmit (zero: 250 ms).
	FirstRetransmit, MaxRetransmit time.Duration
}

// maxCloseWait bounds the wait for the server's FIN with Config.Close.
const maxCloseWait = 200 * time.Millisecond

// ethPAll is ETH_P_ALL: the socket sees ARP, IPv4 and IPv6, sorted by its
// filter.
const ethPAll = 0x0003

// resolver starts ARP rounds on the probe's socket.
type resolver interface {
	NewRound(targets []netip.Addr) round
}

// round is one ARP resolution driven by the probe's loop (*neigh.Round).
type round interface {
	Done() bool
	Next() time.Time
	Send(now time.Time) error
	Take(frame []byte) (neigh.Answer, bool)
}

// arpResolver adapts *neigh.Client to resolver.
type arpResolver struct{ c *neigh.Client }

func (a arpResolver) NewRound(targets []netip.Addr) round { return a.c.NewRound(targets) }

// portReserver reserves a local TCP port for the duration of one probe.
type portReserver func(src netip.Addr) (port uint16, release func(), err error)

// Probe probes every target through cfg.VIP:cfg.Port on cfg.Interface and
// returns one result per target, in the order given. It returns when every
// target has an answer or ctx ends (it must carry a deadline). It needs
// CAP_NET_RAW.
func Probe(ctx context.Context, cfg Config, targets []Target) ([]Result, error) {
	if err := cfg.prepare(targets); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("probe: the context needs a deadline")
	}
	for _, t := range targets {
		if t.Addr.Is4() != cfg.VIP.Is4() {
			return nil, fmt.Errorf("probe: real server %v and VIP %v differ in address family", t.Addr, cfg.VIP)
		}
	}
	conn, err := cfg.listen()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	res, err := cfg.resolver(conn, targets)
	if err != nil {
		return nil, err
	}
	return run(ctx, cfg, conn, res, reserveTCPPort, targets)
}

// resolver returns the ARP (or neighbour discovery) resolver on conn when a
// target has no MAC, else nil.
func (cfg *Config) resolver(conn net.PacketConn, targets []Target) (resolver, error) {
	for _, t := range targets {
		if t.MAC == nil {
			c, err := neigh.New(conn, cfg.Interface.HardwareAddr, cfg.Source)
			if err != nil {
				return nil, err
			}
			return arpResolver{c}, nil
		}
	}
	return nil, nil
}

// listen opens the one socket of a probe, for ARP and TCP alike (closing
// an AF_PACKET socket waits for an RCU grace period, about 10 ms, so each
// socket saved counts), with the filter that lets only replies through.
func (cfg *Config) listen() (*packet.Conn, error) {
	raw, err := bpf.Assemble(replyFilter(cfg.Source, cfg.VIP, cfg.Port))
	if err != nil {
		return nil, fmt.Errorf("assembling the probe filter: %w", err)
	}
	conn, err := packet.Listen(cfg.Interface, packet.Raw, ethPAll, &packet.Config{Filter: raw})
	if err != nil {
		return nil, fmt.Errorf("opening a packet socket on %s: %w", cfg.Interface.Name, err)
	}
	setReadBuffer(conn, readBuffer)
	return conn, nil
}

// prepare checks cfg and fills in what it leaves to defaults: the MSS,
// the retransmission schedule and the source address (chosen towards the
// first real server).
func (cfg *Config) prepare(targets []Target) error {
	if err := cfg.check(); err != nil {
		return err
	}
	cfg.defaults()
	if !cfg.Source.IsValid() {
		var rs netip.Addr
		if len(targets) > 0 {
			rs = targets[0].Addr
		}
		src, err := SourceAddress(cfg.Interface, cfg.VIP, rs)
		if err != nil {
			return err
		}
		cfg.Source = src
	}
	return nil
}

// defaults sets the MSS (1460) and the retransmission schedule (50 ms,
// doubling up to 250 ms) where cfg leaves them zero.
func (cfg *Config) defaults() {
	if cfg.MSS == 0 {
		cfg.MSS = 1460
	}
	if cfg.FirstRetransmit <= 0 {
		cfg.FirstRetransmit = 50 * time.Millisecond
	}
	if cfg.MaxRetransmit <= 0 {
		cfg.MaxRetransmit = 250 * time.Millisecond
	}
}

func (cfg *Config) check() error {
	switch {
	case cfg.Interface == nil:
		return errors.New("probe: no interface")
	case len(cfg.Interface.HardwareAddr) != 6:
		return fmt.Errorf("probe: interface %s has no Ethernet address", cfg.Interface.Name)
	case !cfg.VIP.Is4() && !cfg.VIP.Is6():
		return fmt.Errorf("probe: VIP %v is not an IP address", cfg.VIP)
	case cfg.Port == 0:
		return errors.New("probe: port 0")
	case cfg.Source.IsValid() && cfg.Source.Is4() != cfg.VIP.Is4():
		return fmt.Errorf("probe: source %v and VIP %v differ in address family", cfg.Source, cfg.VIP)
	}
	return nil
}

// SourceAddress chooses the address a probe on ifi comes from: an address
// of ifi of the VIP's family other than the VIP, preferably one whose
// prefix holds rs, and for IPv6 a global one before a link-local one. A
// probe from the VIP itself would not be answered to this host.
func SourceAddress(ifi *net.Interface, vip, rs netip.Addr) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("listing the addresses of %s: %w", ifi.Name, err)
	}
	var first, linkLocal netip.Addr
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil || p.Addr().Is4() != vip.Is4() || p.Addr() == vip {
			continue
		}
		switch {
		case rs.IsValid() && p.Contains(rs) && !p.Addr().IsLinkLocalUnicast():
			return p.Addr(), nil
		case p.Addr().IsLinkLocalUnicast():
			if !linkLocal.IsValid() {
				linkLocal = p.Addr()
			}
		case !first.IsValid():
			first = p.Addr()
		}
	}
	switch {
	case first.IsValid():
		return first, nil
	case linkLocal.IsValid():
		return linkLocal, nil
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no address of the VIP's family other than the VIP %v", ifi.Name, vip)
}

// state is one target during a probe.
type state struct {
	Result
	flow       flow
	isn        uint32
	release    func()
	done       bool
	closing    bool             // FIN sent, waiting for the server's FIN
	closeUntil time.Time        // when to give up waiting and reset
	sentAt     time.Time        // first SYN
	nextTx     time.Time        // next SYN retransmission (zero: none planned)
	backoff    backoff.Doubling // the SYN's retransmission schedule
}

// readFrames reads frames from conn on its own goroutine until stop is
// called.
func readFrames(conn net.PacketConn) (frames <-chan []byte, errs <-chan error, stop func()) {
	fc, ec, quit := make(chan []byte, 4096), make(chan error, 1), make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		buf := make([]byte, 2048)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				select {
				case <-quit:
				default:
					ec <- err
				}
				return
			}
			select {
			case fc <- append([]byte(nil), buf[:n]...):
			case <-quit:
				return
			}
		}
	}()
	return fc, ec, func() {
		close(quit)
		_ = conn.SetReadDeadline(time.Now())
		<-finished
	}
}
