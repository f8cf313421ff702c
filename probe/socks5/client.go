// Package socks5 is a SOCKS5 client (RFC 1928, with RFC 1929 username and
// password) built for health checks: every step honours a context, reports
// how long it took, and fails with an *Error naming the step and the proxy.
//
// Greet checks that a proxy negotiates; Dial and Exchange check that it
// relays TCP data to a target; UDPAssociate and RoundTrip check that it
// relays UDP datagrams.
//
// Each call sets its connection's deadline to ctx's and makes pending I/O fail
// at once when ctx is cancelled; such failures satisfy
// errors.Is(err, context.DeadlineExceeded) or errors.Is(err,
// context.Canceled). A refusal by the server is a *ReplyError, and the
// sentinels ErrNoAcceptableMethod and ErrAuthRejected mark failed
// negotiation.
package socks5

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/ocfkit/ocfkit/internal/ctxerr"
)

// Stage names the step of a SOCKS exchange that failed.
type Stage string

// The stages of an exchange, in the order they happen.
const (
	StageConnect      Stage = "connect"
	StageGreeting     Stage = "greeting"
	StageAuth         Stage = "auth"
	StageRequest      Stage = "request"
	StageRelayData    Stage = "relay-data"
	StageUDPAssociate Stage = "udp-associate"
	StageUDPRoundTrip Stage = "udp-roundtrip"
)

// Error is a failure at one stage against one proxy address; Unwrap gives
// the cause.
type Error struct {
	Stage Stage
	Proxy string
	Err   error
}

// Error returns e.g. "greeting with 10.0.0.1:1080: <cause>".
func (e *Error) Error() string { return fmt.Sprintf("%s with %s: %v", e.Stage, e.Proxy, e.Err) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// maxExchangeRead caps how much Exchange reads while looking for its reply.
const maxExchangeRead = 64 << 10

// Client talks to one SOCKS5 proxy. Its methods may be called concurrently.
type Client struct {
	Proxy string // host:port of the proxy

	// Username and Password, when Username is set, make the client offer
	// method 02 (RFC 1929) as well as 00; otherwise it offers only 00.
	Username string
	Password string

	Dialer *net.Dialer // optional; nil means a zero net.Dialer

	// Trace, if set, is called after each stage completes successfully with
	// the time that stage took.
	Trace func(stage Stage, took time.Duration)
}

// Handshake connects to the proxy, negotiates the method and authenticates.
// The caller owns the returned connection and must close it; its deadline is
// ctx's deadline.
func (c *Client) Handshake(ctx context.Context) (net.Conn, error) {
	methods := []byte{methodNone}
	var auth []byte
	if c.Username != "" {
		var err error
		if auth, err = appendAuth(nil, c.Username, c.Password); err != nil {
			return nil, c.fail(StageAuth, err)
		}
		methods = append(methods, methodUserPass)
	}

	start := time.Now()
	conn, err := c.dialer().DialContext(ctx, "tcp", c.Proxy)
	if err != nil {
		return nil, c.fail(StageConnect, ctxerr.Cause(ctx, err))
	}
	c.trace(StageConnect, start)

	release := bound(ctx, conn)
	defer release()
	if err := c.negotiate(ctx, conn, methods, auth); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// negotiate sends the greeting and, when the server picks method 02, the
// username and password.
func (c *Client) negotiate(ctx context.Context, conn net.Conn, methods, auth []byte) error {
	start := time.Now()
	var answer [2]byte
	if err := roundTrip(conn, appendGreeting(nil, methods), answer[:]); err != nil {
		return c.fail(StageGreeting, ctxerr.Cause(ctx, err))
	}
	method, err := parseMethodReply(answer, methods)
	if err != nil {
		return c.fail(StageGreeting, err)
	}
	c.trace(StageGreeting, start)
	if method != methodUserPass {
		return nil
	}

	start = time.Now()
	if err := roundTrip(conn, auth, answer[:]); err != nil {
		return c.fail(StageAuth, ctxerr.Cause(ctx, err))
	}
	if err := parseAuthReply(answer); err != nil {
		return c.fail(StageAuth, err)
	}
	c.trace(StageAuth, start)
	return nil
}

// Greet is Handshake followed by Close: it checks that the proxy negotiates.
func (c *Client) Greet(ctx context.Context) error {
	conn, err := c.Handshake(ctx)
	if err != nil {
		return err
	}
	conn.Close()
	return nil
}

// Dial performs Handshake and a CONNECT to target ("host:port": an IPv4 or
// IPv6 literal, or a domain name that the proxy resolves) and returns a
// connection relaying to target. Its deadline is ctx's deadline.
func (c *Client) Dial(ctx context.Context, target string) (net.Conn, error) {
	dst, err := parseHostPort(target)
	if err != nil {
		return nil, c.fail(StageRequest, err)
	}
	conn, err := c.Handshake(ctx)
	if err != nil {
		return nil, err
	}
	release := bound(ctx, conn)
	defer release()
	if _, err := c.request(ctx, conn, StageRequest, cmdConnect, dst); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// request sends a request and reads the reply, returning BND.ADDR:BND.PORT.
func (c *Client) request(ctx context.Context, conn net.Conn, stage Stage, cmd command, dst addr) (addr, error) {
	start := time.Now()
	if _, err := conn.Write(appendRequest(nil, cmd, dst)); err != nil {
		return addr{}, c.fail(stage, ctxerr.Cause(ctx, err))
	}
	rep, err := readReply(conn)
	if err != nil {
		return addr{}, c.fail(stage, ctxerr.Cause(ctx, err))
	}
	if rep.Code != 0 {
		return addr{}, c.fail(stage, &ReplyError{Code: rep.Code})
	}
	c.trace(stage, start)
	return rep.Bound, nil
}

// Exchange writes send on conn and reads until the bytes read contain expect
// (or, when expect is empty, until send has come back in full), the
// connection ends, or ctx ends. It reads at most 64 KiB. With send and
// expect both empty it does nothing. Failures are *Error with
// StageRelayData.
func (c *Client) Exchange(ctx context.Context, conn net.Conn, send, expect []byte) error {
	start := time.Now()
	release := bound(ctx, conn)
	defer release()

	want, what := expect, "expected data"
	if len(want) == 0 {
		want, what = send, "echo of the data sent"
	}
	if len(send) > 0 {
		if _, err := conn.Write(send); err != nil {
			return c.fail(StageRelayData, ctxerr.Cause(ctx, fmt.Errorf("sending %d bytes: %w", len(send), err)))
		}
	}
	var got []byte
	chunk := make([]byte, 4096)
	for !bytes.Contains(got, want) {
		if len(got) >= maxExchangeRead {
			return c.fail(StageRelayData, fmt.Errorf("read %d bytes without the %s", len(got), what))
		}
		n, err := conn.Read(chunk[:min(len(chunk), maxExchangeRead-len(got))])
		got = append(got, chunk[:n]...)
		if err != nil && !bytes.Contains(got, want) {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("connection closed after %d bytes without the %s", len(got), what)
			} else {
				err = fmt.Errorf("got %d bytes without the %s: %w", len(got), what, err)
			}
			return c.fail(StageRelayData, ctxerr.Cause(ctx, err))
		}
	}
	c.trace(StageRelayData, start)
	return nil
}

func (c *Client) dialer() *net.Dialer {
	if c.Dialer != nil {
		return c.Dialer
	}
	return &net.Dialer{}
}

func (c *Client) fail(stage Stage, err error) error {
	return &Error{Stage: stage, Proxy: c.Proxy, Err: err}
}

func (c *Client) trace(stage Stage, since time.Time) {
	if c.Trace != nil {
		c.Trace(stage, time.Since(since))
	}
}

// roundTrip writes msg and reads len(answer) bytes.
func roundTrip(conn net.Conn, msg, answer []byte) error {
	if _, err := conn.Write(msg); err != nil {
		return err
	}
	if n, err := io.ReadFull(conn, answer); err != nil {
		return fmt.Errorf("reading answer (%d of %d bytes): %w", n, len(answer), err)
	}
	return nil
}

// longAgo is a deadline in the past: it makes pending and later I/O fail.
var longAgo = time.Unix(1, 0)

// bound sets conn's deadline to ctx's (none if ctx has none) and makes I/O
// on conn fail as soon as ctx is cancelled. The returned function ends the
// latter; the deadline stays.
func bound(ctx context.Context, conn net.Conn) (release func()) {
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(longAgo) })
	return func() { stop() }
}
