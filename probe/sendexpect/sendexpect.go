// Package sendexpect is the classic send/expect check over TCP or TLS: it
// connects, optionally sends a request line (CRLF added), and reads until
// the reply contains an expected fragment, the peer closes, a size cap is
// reached or the context ends. `GET /robots.txt HTTP/1.0` expecting
// "httpd is working", `QUIT` expecting "220" (the SMTP banner, which comes
// before the reply to QUIT) and POP3's "+OK" are the classic uses.
package sendexpect

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"time"
)

// DefaultMaxRead bounds the bytes read while looking for the fragment.
const DefaultMaxRead = 64 << 10

// Failure names what went wrong.
type Failure string

// Failures.
const (
	OK       Failure = ""
	Connect  Failure = "connect"  // the connection failed
	TLS      Failure = "tls"      // the handshake failed
	Send     Failure = "send"     // writing the request failed
	Mismatch Failure = "mismatch" // the reply ended without the fragment
	Timeout  Failure = "timeout"  // no fragment before the deadline
)

// Check is one send/expect exchange.
type Check struct {
	// Send is written first, followed by CRLF unless it already ends with
	// a newline; an HTTP request line (`GET /robots.txt HTTP/1.0`) gets a
	// second CRLF that ends its (empty) header. Empty sends nothing (a
	// banner check).
	Send string
	// Expect must occur in the reply; empty accepts any connection that
	// could be made (and written to).
	Expect string
	// TLS, when not nil, wraps the connection.
	TLS *tls.Config
	// MaxRead caps the bytes read (DefaultMaxRead when 0).
	MaxRead int
}

// Result is the outcome of one check.
type Result struct {
	Failure  Failure
	Err      error
	Observed string // the start of the reply when the fragment was missing
	Took     time.Duration
}

func (r Result) String() string {
	switch {
	case r.Failure == OK:
		return "ok"
	case r.Observed != "":
		return fmt.Sprintf("%s: reply %q", r.Failure, r.Observed)
	default:
		return fmt.Sprintf("%s: %v", r.Failure, r.Err)
	}
}

// Dial connects to addr (host:port) over TCP and runs the check, all
// within ctx.
func (c *Check) Dial(ctx context.Context, addr string) Result {
	start := time.Now()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Result{Failure: Connect, Err: err, Took: time.Since(start)}
	}
	r := c.Run(ctx, conn)
	r.Took = time.Since(start)
	return r
}

// Run runs the check on conn, a fresh connection, and closes it.
func (c *Check) Run(ctx context.Context, conn net.Conn) Result {
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if c.TLS != nil {
		tc := tls.Client(conn, c.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			return Result{Failure: TLS, Err: err}
		}
		conn = tc
	}
	if c.Send != "" {
		msg := c.Send
		if !strings.HasSuffix(msg, "\n") {
			msg += "\r\n"
			if httpLine.MatchString(c.Send) {
				msg += "\r\n"
			}
		}
		if _, err := io.WriteString(conn, msg); err != nil {
			return Result{Failure: Send, Err: err}
		}
	}
	if c.Expect == "" {
		return Result{}
	}
	return c.read(ctx, conn)
}

func (c *Check) read(ctx context.Context, conn net.Conn) Result {
	limit := c.MaxRead
	if limit <= 0 {
		limit = DefaultMaxRead
	}
	want := []byte(c.Expect)
	// One buffer, grown as the reply comes: most replies are a line, and a
	// thousand checks at once should not hold a page each.
	buf := make([]byte, 0, min(512, limit))
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, min(cap(buf), limit-len(buf)))...)[:len(buf)]
		}
		n, err := conn.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if bytes.Contains(buf, want) {
			return Result{}
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, ctxDeadline) || isTimeout(err) {
				return Result{Failure: Timeout, Err: err, Observed: excerpt(buf)}
			}
			return Result{Failure: Mismatch, Err: err, Observed: excerpt(buf)}
		}
	}
	return Result{Failure: Mismatch, Err: fmt.Errorf("no %q in the first %d bytes", c.Expect, limit), Observed: excerpt(buf)}
}

// httpLine matches an HTTP/1.x request line.
var httpLine = regexp.MustCompile(`^[A-Z]+ \S+ HTTP/1\.[01]$`)

var ctxDeadline = context.DeadlineExceeded

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func excerpt(b []byte) string {
	const n = 80
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
