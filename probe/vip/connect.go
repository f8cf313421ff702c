package vip

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/ocfkit/ocfkit/internal/fanout"
)

// Connect is the check of a balancer that does not hold the VIP (a backup):
// a plain TCP connect to each real server's own address and port, all at
// once, bounded by ctx. It cannot see a VIP missing from a real server's
// loopback. Healthy connections are reset at once, or closed normally with
// closeConn. Results come in the order of targets; MAC and SYNs stay empty.
func Connect(ctx context.Context, targets []Target, port uint16, closeConn bool) []Result {
	out := make([]Result, len(targets))
	fanout.Each(len(targets), 0, func(i int) {
		out[i] = connectOne(ctx, targets[i].Addr, port, closeConn)
	})
	return out
}

func connectOne(ctx context.Context, addr netip.Addr, port uint16, closeConn bool) Result {
	c, r := dialDirect(ctx, addr, port)
	if c == nil {
		return r
	}
	if tc, ok := c.(*net.TCPConn); ok && !closeConn {
		_ = tc.SetLinger(0) // close with a RST, like the raw probe
	}
	r.Closed = closeConn
	_ = c.Close()
	return r
}

// dialDirect connects to addr:port and returns the connection (nil when
// it failed) and its result.
func dialDirect(ctx context.Context, addr netip.Addr, port uint16) (net.Conn, Result) {
	r := Result{Target: addr, Status: NoAnswer}
	start := time.Now()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(addr.String(), strconv.Itoa(int(port))))
	r.RTT = time.Since(start)
	r.Status = ConnectStatus(err)
	if err != nil {
		return nil, r
	}
	if la, ok := c.LocalAddr().(*net.TCPAddr); ok {
		r.SourcePort = uint16(la.Port)
	}
	return c, r
}

// ConnectStatus returns the Status a plain TCP connect's error stands for:
// Up for nil, Refused for ECONNREFUSED, NoAnswer for anything else.
func ConnectStatus(err error) Status {
	switch {
	case err == nil:
		return Up
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	}
	return NoAnswer
}
