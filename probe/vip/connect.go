package vip

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Connect is the check of a balancer that does not hold the VIP (a backup):
// a plain TCP connect to each real server's own address and port, all at
// once, bounded by ctx. It cannot see a VIP missing from a real server's
// loopback. Healthy connections are reset at once, or closed normally with
// closeConn. Results come in the order of targets; MAC and SYNs stay empty.
func Connect(ctx context.Context, targets []Target, port uint16, closeConn bool) []Result {
	out := make([]Result, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = connectOne(ctx, t.Addr, port, closeConn)
		}()
	}
	wg.Wait()
	return out
}

func connectOne(ctx context.Context, addr netip.Addr, port uint16, closeConn bool) Result {
	r := Result{Target: addr, Status: NoAnswer}
	start := time.Now()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(addr.String(), strconv.Itoa(int(port))))
	r.RTT = time.Since(start)
	switch {
	case err == nil:
		r.Status = Up
		if tc, ok := c.(*net.TCPConn); ok {
			if la, ok := tc.LocalAddr().(*net.TCPAddr); ok {
				r.SourcePort = uint16(la.Port)
			}
			if !closeConn {
				_ = tc.SetLinger(0) // close with a RST, like the raw probe
			}
		}
		r.Closed = closeConn
		_ = c.Close()
	default:
		r.Status = ConnectStatus(err)
	}
	return r
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
