package vip

import (
	"context"
	"net"
	"time"

	"github.com/ocfkit/ocfkit/internal/fanout"
)

// Via is how a check reaches the real servers.
type Via int

const (
	// ThroughVIP sends frames for each real server's MAC with the VIP as
	// IP destination, as the balancer holding the VIP forwards traffic.
	ThroughVIP Via = iota
	// Direct connects to each real server's own address, as a balancer
	// that does not hold the VIP can. It cannot see a VIP missing from a
	// real server's loopback.
	Direct
)

// ConnCheck checks one established connection (and closes it) and returns
// its verdict; again asks for one more try on a new connection, for a
// connection that itself broke.
type ConnCheck[R any] func(ctx context.Context, conn net.Conn) (verdict R, again bool)

// maxAttempts bounds the connections a ConnCheck of one real server may
// open through the VIP, where the userspace stack's connection can break
// on a lossy path while the next one passes. A Direct check (the kernel's
// connection) opens one.
const maxAttempts = 3

// Check is the one entry point of a check of real servers through cfg.VIP
// (or, Direct, their own addresses) and cfg.Port, bounded by ctx (which
// must carry a deadline). It returns one Result per target, in the order
// given, finished for either way: with Direct, MAC and SYNs stay empty.
//
// Without check (nil) it only connects: the SYN probe through the VIP, or
// a plain connect, each healthy connection reset at once (closed with
// cfg.Close). With check, every connected target's connection goes to
// check (through the VIP up to maxAttempts connections while check asks
// for another), and the verdicts come back in the order of targets (the zero R
// for a target never connected); Result.Took then covers every attempt.
func Check[R any](ctx context.Context, cfg Config, via Via, targets []Target, check ConnCheck[R]) ([]Result, []R, error) {
	switch {
	case via == Direct && check == nil:
		return Connect(ctx, targets, cfg.Port, cfg.Close), nil, nil
	case check == nil:
		res, err := Probe(ctx, cfg, targets)
		return res, nil, err
	case via == Direct:
		res, verdicts := checkEach(ctx, targets, check, 1, func(ctx context.Context, t Target) (net.Conn, Result) {
			return dialDirect(ctx, t.Addr, cfg.Port)
		})
		return res, verdicts, nil
	}
	paths, err := OpenPaths(ctx, cfg, targets)
	if err != nil {
		return nil, nil, err
	}
	defer paths.Close()
	res, verdicts := checkEach(ctx, targets, check, maxAttempts, func(ctx context.Context, t Target) (net.Conn, Result) {
		conn, a, err := paths.Dial(ctx, t.Addr)
		return conn, paths.result(t.Addr, a, err)
	})
	return res, verdicts, nil
}

// dialFunc connects to one target and returns the connection (nil when
// it failed) and the connection's result.
type dialFunc func(ctx context.Context, t Target) (net.Conn, Result)

// checkEach dials every target at once and hands each connection to
// check, again on a new connection while check asks for it, at most
// attempts times and while time is left.
func checkEach[R any](ctx context.Context, targets []Target, check ConnCheck[R], attempts int, dial dialFunc) ([]Result, []R) {
	results, verdicts := make([]Result, len(targets)), make([]R, len(targets))
	fanout.Each(len(targets), 0, func(i int) {
		start := time.Now()
		for attempt := 1; ; attempt++ {
			conn, r := dial(ctx, targets[i])
			var zero R
			results[i], verdicts[i] = r, zero
			if conn == nil {
				return
			}
			var again bool
			verdicts[i], again = check(ctx, conn)
			results[i].Took = time.Since(start) // every attempt's time
			if !again || !retry(ctx, attempt, attempts) {
				return
			}
		}
	})
	return results, verdicts
}

// retry reports whether a check may try again after attempt of attempts:
// only while ctx lasts. The connection's deadline may pass a moment before
// ctx says so; the stage it cut is the answer.
func retry(ctx context.Context, attempt, attempts int) bool {
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		return false
	}
	return attempt < attempts && ctx.Err() == nil
}
