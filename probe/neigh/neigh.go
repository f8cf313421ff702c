// Package neigh finds the hardware addresses of neighbours, IPv4 with ARP
// (RFC 826) and IPv6 with neighbour discovery (RFC 4861), resolving many
// addresses in one round with retries inside a deadline, and lists every
// host that answers for one address (to find hosts that claim an address
// they should not).
//
// It reads and writes whole Ethernet frames through a net.PacketConn, so
// tests can stand in for the network without root; Listen opens the real
// AF_PACKET socket with a BPF filter that lets only ARP replies and
// neighbour advertisements through.
package neigh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"

	"github.com/ocfkit/ocfkit/internal/backoff"
)

// etherTypeARP is the EtherType of ARP frames.
const etherTypeARP = 0x0806

// Answer is one ARP reply: who answered for IP, and how long after the first
// request was sent.
type Answer struct {
	IP    netip.Addr
	MAC   net.HardwareAddr
	After time.Duration
}

// Client sends ARP requests and reads replies on one interface.
type Client struct {
	conn net.PacketConn
	mac  net.HardwareAddr
	src  netip.Addr

	// FirstRetry is the wait before the first repeated request; later
	// waits double up to MaxRetry. Zero values mean 50 ms and 400 ms.
	FirstRetry, MaxRetry time.Duration
}

// replyFilter accepts ARP replies and IPv6 neighbour advertisements (not
// behind extension headers) and nothing else.
var replyFilter = []bpf.Instruction{
	bpf.LoadAbsolute{Off: 12, Size: 2},                                                          // 0 EtherType
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: etherTypeARP, SkipFalse: 2},                            // 1
	bpf.LoadAbsolute{Off: 20, Size: 2},                                                          // 2 ARP operation
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(arp.OperationReply), SkipTrue: 5, SkipFalse: 6}, // 3
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: etherTypeIPv6, SkipTrue: 5},                         // 4
	bpf.LoadAbsolute{Off: 20, Size: 1},                                                          // 5 next header
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 58, SkipTrue: 3},                                    // 6 ICMPv6
	bpf.LoadAbsolute{Off: 54, Size: 1},                                                          // 7 ICMPv6 type
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 136, SkipTrue: 1},                                   // 8 neighbour advertisement
	bpf.RetConstant{Val: 0xffff},                                                                // 9 accept
	bpf.RetConstant{Val: 0},                                                                     // 10 drop
}

// ReplyFilter returns the BPF program Listen attaches to its socket.
func ReplyFilter() []bpf.Instruction { return replyFilter }

// Listen opens an AF_PACKET socket on ifi that receives only ARP replies
// and neighbour advertisements. It needs CAP_NET_RAW.
func Listen(ifi *net.Interface) (*packet.Conn, error) {
	raw, err := bpf.Assemble(replyFilter)
	if err != nil {
		return nil, fmt.Errorf("assembling the ARP filter: %w", err)
	}
	const ethPAll = 0x0003 // ARP and IPv6
	c, err := packet.Listen(ifi, packet.Raw, ethPAll, &packet.Config{Filter: raw})
	if err != nil {
		return nil, fmt.Errorf("opening an ARP socket on %s: %w", ifi.Name, err)
	}
	return c, nil
}

// New returns a Client that sends requests from hardware address mac and
// address src through conn: ARP for an IPv4 src, neighbour solicitations
// for an IPv6 one (which must be usable on the link). The Client resolves
// addresses of src's family and does not close conn.
func New(conn net.PacketConn, mac net.HardwareAddr, src netip.Addr) (*Client, error) {
	if !src.Is4() && !src.Is6() {
		return nil, fmt.Errorf("neighbour source %v is not an IP address", src)
	}
	if len(mac) != 6 {
		return nil, fmt.Errorf("neighbour source MAC %v is not an Ethernet address", mac)
	}
	return &Client{conn: conn, mac: mac, src: src.Unmap()}, nil
}

// request asks once for target's hardware address.
func (c *Client) request(target netip.Addr) error {
	if target.Is4() != c.src.Is4() {
		return fmt.Errorf("cannot resolve %v from %v: the address families differ", target, c.src)
	}
	if target.Is6() {
		return c.solicit(target)
	}
	return c.arpRequest(target)
}

// arpRequest broadcasts one who-has for target.
func (c *Client) arpRequest(target netip.Addr) error {
	p, err := arp.NewPacket(arp.OperationRequest, c.mac, c.src, ethernet.Broadcast, target)
	if err != nil {
		return fmt.Errorf("building an ARP request for %v: %w", target, err)
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encoding an ARP request for %v: %w", target, err)
	}
	f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: c.mac, EtherType: ethernet.EtherTypeARP, Payload: pb}
	fb, err := f.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encoding an ARP frame for %v: %w", target, err)
	}
	if _, err := c.conn.WriteTo(fb, &packet.Addr{HardwareAddr: ethernet.Broadcast}); err != nil {
		return fmt.Errorf("sending an ARP request for %v: %w", target, err)
	}
	return nil
}

// ParseReply returns who answered in an ARP reply or an IPv6 neighbour
// advertisement carried in an Ethernet frame, and false for anything else
// (requests, other protocols, garbage).
func ParseReply(frame []byte) (netip.Addr, net.HardwareAddr, bool) {
	if len(frame) >= 14 && frame[12] == etherTypeIPv6>>8 && frame[13] == etherTypeIPv6&0xff {
		return parseAdvertisement(frame)
	}
	var f ethernet.Frame
	if err := f.UnmarshalBinary(frame); err != nil || f.EtherType != ethernet.EtherTypeARP {
		return netip.Addr{}, nil, false
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil || p.Operation != arp.OperationReply {
		return netip.Addr{}, nil, false
	}
	if !p.SenderIP.Is4() || len(p.SenderHardwareAddr) != 6 {
		return netip.Addr{}, nil, false
	}
	return p.SenderIP, p.SenderHardwareAddr, true
}

// forUs reports whether an ARP reply answers this Client: sent to its
// hardware and protocol address. Replies for others (gratuitous ones, or
// a forged broadcast) are not answers to its requests. Neighbour
// advertisements pass: their target is the address asked for.
func (c *Client) forUs(frame []byte) bool {
	if len(frame) < 42 || frame[12] != etherTypeARP>>8 || frame[13] != etherTypeARP&0xff {
		return true
	}
	src := c.src.As4()
	return string(frame[32:38]) == string(c.mac) && string(frame[38:42]) == string(src[:])
}

// Round is one resolution of several addresses driven by the caller's own
// loop, for callers that read ARP replies from a socket they share with
// other traffic: Send when Next is due, and hand every frame to Take.
//
// Each address has its own retry schedule (the Client's FirstRetry,
// doubling up to MaxRetry), and one Send asks for at most SendBatch
// addresses, the rest after SendPace: thousands of requests at once would
// overflow the queues of the hosts that receive the broadcasts, and
// replies would be lost. A Send cut short by the batch limit leaves off
// where the next one goes on, round robin: starting from the first
// address each time, the early addresses' retries (due again before the
// last addresses were ever asked, when many do not answer or the host is
// busy) would fill every batch and the last addresses would wait for ever.
type Round struct {
	c       *Client
	asks    []*ask              // in the order given
	pending map[netip.Addr]*ask // not answered yet
	keep    bool                // ask until the end, even once answered (WhoHas)
	start   time.Time
	next    time.Time
	// from is the index in asks where the next Send begins.
	from int
	// first and max are the retry schedule: the first wait and the
	// ceiling of the doubling ones after it.
	first, max time.Duration
	// slowest is the longest time from a request to its answer so far: a
	// first retry comes no sooner than twice that, since under load
	// answers queue and early retries only lengthen the queue.
	slowest time.Duration
}

// ask is one address of a round and its retry schedule.
type ask struct {
	ip      netip.Addr
	due     time.Time // zero: now
	sent    time.Time // the last request
	backoff backoff.Doubling
}

// SendBatch is the most requests one Send makes, and SendPace the wait
// before the next batch when more are due.
const (
	SendBatch = 128
	SendPace  = time.Millisecond
)

// NewRound starts a round for targets; nothing is sent until Send.
func (c *Client) NewRound(targets []netip.Addr) *Round {
	r := &Round{c: c, pending: make(map[netip.Addr]*ask, len(targets)), start: time.Now(),
		first: c.FirstRetry, max: c.MaxRetry}
	if r.first <= 0 {
		r.first = 50 * time.Millisecond
	}
	if r.max <= 0 {
		r.max = 400 * time.Millisecond
	}
	for _, t := range targets {
		if r.pending[t] == nil {
			a := &ask{ip: t}
			r.pending[t] = a
			r.asks = append(r.asks, a)
		}
	}
	return r
}

// Done reports whether every target has answered.
func (r *Round) Done() bool { return len(r.pending) == 0 }

// Next is when Send should run again (zero: now).
func (r *Round) Next() time.Time { return r.next }

// Send asks again for the unanswered addresses whose retry is due, at most
// SendBatch of them from where the last full batch left off, and sets Next.
func (r *Round) Send(now time.Time) error {
	var next time.Time
	sent := 0
	for k := range len(r.asks) {
		i := (r.from + k) % len(r.asks)
		a := r.asks[i]
		if r.pending[a.ip] != a {
			continue // answered
		}
		if !now.Before(a.due) {
			if sent == SendBatch {
				r.from, r.next = i, now.Add(SendPace)
				return nil
			}
			if err := r.c.request(a.ip); err != nil {
				return err
			}
			sent++
			if a.sent.IsZero() {
				a.backoff = backoff.New(max(r.first, min(2*r.slowest, r.max)), r.max)
			}
			a.sent, a.due = now, now.Add(a.backoff.Next())
		}
		if next.IsZero() || a.due.Before(next) {
			next = a.due
		}
	}
	r.next = next
	return nil
}

// Take returns the answer a frame carries for a pending address, and false
// for anything else (other frames, duplicates, addresses not asked for).
func (r *Round) Take(frame []byte) (Answer, bool) {
	ip, mac, ok := ParseReply(frame)
	a := r.pending[ip]
	if !ok || a == nil || !r.c.forUs(frame) {
		return Answer{}, false
	}
	if !a.sent.IsZero() {
		r.slowest = max(r.slowest, time.Since(a.sent))
	}
	if !r.keep {
		delete(r.pending, ip)
	}
	return Answer{IP: ip, MAC: mac, After: time.Since(r.start)}, true
}

// exchange runs a round on the Client's own socket, handing every answer to
// got, until the round is done or ctx ends.
func (c *Client) exchange(ctx context.Context, r *Round, got func(Answer)) error {
	deadline, hasDeadline := ctx.Deadline()
	buf := make([]byte, 1500)
	for !r.Done() {
		if ctx.Err() != nil {
			return nil
		}
		if now := time.Now(); !now.Before(r.Next()) {
			if err := r.Send(now); err != nil {
				return err
			}
		}
		readUntil := r.Next()
		if hasDeadline && deadline.Before(readUntil) {
			readUntil = deadline
		}
		if err := c.conn.SetReadDeadline(readUntil); err != nil {
			return fmt.Errorf("setting the ARP read deadline: %w", err)
		}
		n, _, err := c.conn.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("reading ARP replies or neighbour advertisements: %w", err)
		}
		if a, ok := r.Take(buf[:n]); ok {
			got(a)
		}
	}
	return nil
}

// WhoHas asks who has target until ctx ends (it must have a deadline) and
// returns every distinct hardware address that answered, in the order of
// their first answers.
func (c *Client) WhoHas(ctx context.Context, target netip.Addr) ([]Answer, error) {
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("WhoHas needs a context with a deadline")
	}
	var answers []Answer
	seen := map[string]bool{}
	r := c.NewRound([]netip.Addr{target})
	r.keep = true // ask until the deadline
	err := c.exchange(ctx, r, func(a Answer) {
		if !seen[a.MAC.String()] {
			seen[a.MAC.String()] = true
			answers = append(answers, a)
		}
	})
	return answers, err
}
