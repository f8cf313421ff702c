package socks5

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/ocfkit/ocfkit/internal/backoff"
	"github.com/ocfkit/ocfkit/internal/ctxerr"
)

// Retransmission of RoundTrip's datagram: the first wait, and the longest.
const (
	firstRetransmit = 200 * time.Millisecond
	maxRetransmit   = 1600 * time.Millisecond
)

// UDPAssociation is a UDP relay set up by UDP ASSOCIATE. It lives as long as
// its TCP control connection. RoundTrip calls must not overlap.
type UDPAssociation struct {
	client *Client
	ctrl   net.Conn       // the TCP control connection
	conn   *net.UDPConn   // the local UDP socket, announced to the proxy
	relay  netip.AddrPort // where datagrams go, and the only source accepted

	mu       sync.Mutex    // orders read deadlines set by RoundTrip and by interrupt
	ctrlDone chan struct{} // closed when the control connection ends
	ctrlErr  error         // why it ended; set before ctrlDone is closed
}

// UDPAssociate performs Handshake and UDP ASSOCIATE and returns the
// association. It first binds a UDP socket on the local address of the
// control connection and announces that address and port in the request:
// Dante takes the request's DST as the client's UDP source and drops
// datagrams from elsewhere.
func (c *Client) UDPAssociate(ctx context.Context) (*UDPAssociation, error) {
	ctrl, err := c.Handshake(ctx)
	if err != nil {
		return nil, err
	}
	a, err := c.associate(ctx, ctrl)
	if err != nil {
		ctrl.Close()
		return nil, err
	}
	go a.watchControl()
	return a, nil
}

// associate binds the local UDP socket and sends UDP ASSOCIATE on ctrl.
func (c *Client) associate(ctx context.Context, ctrl net.Conn) (*UDPAssociation, error) {
	local := addrPort(ctrl.LocalAddr())
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local.Addr(), 0)))
	if err != nil {
		return nil, c.fail(StageUDPAssociate, err)
	}
	src := addrPort(conn.LocalAddr())
	release := bound(ctx, ctrl)
	bnd, err := c.request(ctx, ctrl, StageUDPAssociate, cmdUDPAssociate, addr{IP: src.Addr(), Port: src.Port()})
	var relay netip.AddrPort
	if err == nil {
		if relay, err = c.relayAddr(ctx, ctrl, bnd); err != nil {
			err = c.fail(StageUDPAssociate, err)
		}
	}
	release()
	if err != nil {
		conn.Close()
		return nil, err
	}
	// The association outlives this call: only its setup was bounded.
	ctrl.SetDeadline(time.Time{})
	return &UDPAssociation{client: c, ctrl: ctrl, conn: conn, relay: relay, ctrlDone: make(chan struct{})}, nil
}

// relayAddr turns the reply's BND.ADDR:BND.PORT into the relay's address. An
// unspecified address (0.0.0.0 or ::) means the proxy's own address.
func (c *Client) relayAddr(ctx context.Context, ctrl net.Conn, bnd addr) (netip.AddrPort, error) {
	proxy := addrPort(ctrl.RemoteAddr()).Addr()
	ip := bnd.IP.Unmap()
	if bnd.Name != "" {
		resolver := c.dialer().Resolver
		if resolver == nil {
			resolver = net.DefaultResolver
		}
		ips, err := resolver.LookupNetIP(ctx, "ip", bnd.Name)
		if err == nil && len(ips) == 0 {
			err = errors.New("no address")
		}
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("resolving the relay's name %q: %w", bnd.Name, err)
		}
		ip = ips[0].Unmap()
		for _, candidate := range ips {
			if candidate.Unmap().Is4() == proxy.Is4() {
				ip = candidate.Unmap()
				break
			}
		}
	}
	if ip.IsUnspecified() {
		ip = proxy
	}
	if bnd.Port == 0 {
		return netip.AddrPort{}, errors.New("the relay's port is 0")
	}
	return netip.AddrPortFrom(ip, bnd.Port), nil
}

// Relay returns the relay's address: BND.ADDR:BND.PORT of the reply, with the
// proxy's address in place of an unspecified BND.ADDR.
func (a *UDPAssociation) Relay() net.Addr { return net.UDPAddrFromAddrPort(a.relay) }

// RoundTrip sends payload to target ("host:port") through the relay and
// waits for a datagram from target whose data contains expect (or, when
// expect is empty, equals payload). It sends the datagram again after 0.2 s,
// 0.4 s, ... (at most 1.6 s apart) until ctx ends, since UDP may be lost.
// Datagrams that do not come from the relay, are fragments, come from
// another source than target, or do not match are ignored. Failures are
// *Error with StageUDPRoundTrip.
func (a *UDPAssociation) RoundTrip(ctx context.Context, target string, payload, expect []byte) error {
	start := time.Now()
	fail := func(err error) error { return a.client.fail(StageUDPRoundTrip, err) }
	dst, err := parseHostPort(target)
	if err != nil {
		return fail(err)
	}
	datagram := append(appendUDPHeader(nil, dst), payload...)
	match := func(data []byte) bool { return bytes.Equal(data, payload) }
	if len(expect) > 0 {
		match = func(data []byte) bool { return bytes.Contains(data, expect) }
	}

	stop := context.AfterFunc(ctx, a.interrupt)
	defer stop()
	deadline, hasDeadline := ctx.Deadline()
	buf := make([]byte, 64<<10)
	var sent, ignored int
	schedule, resend := backoff.New(firstRetransmit, maxRetransmit), time.Now()
	noReply := func(err error) error {
		return fail(fmt.Errorf("no reply from %s through relay %v (%d datagrams sent, %d ignored): %w",
			target, a.relay, sent, ignored, err))
	}
	for {
		if err := a.usable(ctx); err != nil {
			return noReply(err)
		}
		if sent == 0 || !time.Now().Before(resend) {
			if _, err := a.conn.WriteToUDPAddrPort(datagram, a.relay); err != nil {
				return fail(ctxerr.Cause(ctx, fmt.Errorf("sending to relay %v: %w", a.relay, err)))
			}
			sent++
			resend = time.Now().Add(schedule.Next())
		}
		readUntil := resend
		if hasDeadline && deadline.Before(readUntil) {
			readUntil = deadline
		}
		if err := a.setReadDeadline(ctx, readUntil); err != nil {
			return noReply(err)
		}
		n, from, err := a.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue // time to resend, or to give up: see above
			}
			return fail(fmt.Errorf("receiving from relay %v: %w", a.relay, err))
		}
		if !replyFrom(a.relay, dst, from, buf[:n], match) {
			ignored++
			continue
		}
		a.client.trace(StageUDPRoundTrip, start)
		return nil
	}
}

// replyFrom reports whether a datagram received from `from` is target's
// answer: it must come from the relay, be whole (FRAG 0), carry target as its
// source (only the port when target is a domain name, which the proxy
// resolves) and hold data that matches.
func replyFrom(relay netip.AddrPort, target addr, from netip.AddrPort, datagram []byte, match func([]byte) bool) bool {
	if from.Addr().Unmap() != relay.Addr() || from.Port() != relay.Port() {
		return false
	}
	hdr, data, err := parseUDPHeader(datagram)
	if err != nil || hdr.Frag != 0 || hdr.Addr.Port != target.Port {
		return false
	}
	if target.IP.IsValid() && hdr.Addr.IP.Unmap() != target.IP {
		return false
	}
	return match(data)
}

// setReadDeadline sets the UDP socket's read deadline unless the association
// is no longer usable for ctx.
func (a *UDPAssociation) setReadDeadline(ctx context.Context, t time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.usable(ctx); err != nil {
		return err
	}
	return a.conn.SetReadDeadline(t)
}

// usable returns why RoundTrip must stop: ctx ended, its deadline passed or
// the control connection is gone.
func (a *UDPAssociation) usable(ctx context.Context) error {
	select {
	case <-a.ctrlDone:
		return fmt.Errorf("control connection ended: %w", a.ctrlErr)
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// interrupt makes a pending read on the UDP socket return at once.
func (a *UDPAssociation) interrupt() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.conn.SetReadDeadline(longAgo)
}

// watchControl waits for the control connection to end (the proxy sends
// nothing on it) and then stops any RoundTrip.
func (a *UDPAssociation) watchControl() {
	_, err := io.Copy(io.Discard, a.ctrl)
	if err == nil {
		err = io.EOF
	}
	a.mu.Lock()
	a.ctrlErr = err
	close(a.ctrlDone)
	a.mu.Unlock()
	a.interrupt()
}

// Close ends the association: it closes the control connection and the UDP
// socket.
func (a *UDPAssociation) Close() error {
	return errors.Join(a.ctrl.Close(), a.conn.Close())
}

// addrPort returns the address of a TCP or UDP endpoint, IPv4 unmapped.
func addrPort(na net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch na := na.(type) {
	case *net.TCPAddr:
		ap = na.AddrPort()
	case *net.UDPAddr:
		ap = na.AddrPort()
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
