// Package proxy probes an HTTP proxy (squid and the like) end to end: an
// absolute-form GET through it, or a CONNECT tunnel with a GET inside
// (plain, or HTTPS to an https:// target), to a target whose status and
// body fragment are expected. It tells a proxy
// that is down (no connection, or no HTTP answer in time) from one whose
// upstream is down (the proxy itself answered 502, 503 or 504).
//
// The response is read by probe/l7 (net/http's wire code, with its size
// caps); the CONNECT reply by ReadConnectReply.
package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ocfkit/ocfkit/internal/ctxerr"
	"github.com/ocfkit/ocfkit/probe/l7"
)

// Stage names the step of a probe that failed.
type Stage string

// The stages of a probe, in order.
const (
	StageConfig   Stage = "config"   // the probe's own settings
	StageConnect  Stage = "connect"  // no TCP connection to the proxy: proxy down
	StageProxy    Stage = "proxy"    // no valid HTTP answer from the proxy in time: proxy down (or hung)
	StageTunnel   Stage = "tunnel"   // CONNECT refused with a status other than 502/503/504
	StageUpstream Stage = "upstream" // the proxy answered 502, 503 or 504: upstream down
	StageTarget   Stage = "target"   // no valid HTTP answer through the tunnel in time
	StageTLS      Stage = "tls"      // the TLS handshake with an https:// target through the tunnel failed
	StageStatus   Stage = "status"   // the target's status differs
	StageBody     Stage = "body"     // the body lacks the expected fragment (or is over the cap)
)

// Error is a failed probe: the stage, the proxy and why.
type Error struct {
	Stage Stage
	Proxy string
	// Status is the HTTP status seen, if any; SquidError the
	// X-Squid-Error header of a proxy's own error page.
	Status     int
	SquidError string
	Err        error
}

// Error returns e.g. "proxy upstream via 127.0.0.1:3128: <cause>".
func (e *Error) Error() string {
	return fmt.Sprintf("proxy %s via %s: %v", e.Stage, e.Proxy, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ProxyDown reports whether the failure is the proxy's own (no connection,
// no answer), as opposed to its upstream or the target's answer.
func (e *Error) ProxyDown() bool { return e.Stage == StageConnect || e.Stage == StageProxy }

// Mode is how the request goes through the proxy.
type Mode string

// The modes.
const (
	Get     Mode = "get"     // absolute-form GET (RFC 9112 3.2.2)
	Connect Mode = "connect" // CONNECT host:port, then GET inside the tunnel
)

// Config is one probe.
type Config struct {
	// Proxy is HOST:PORT of the proxy.
	Proxy string
	// Mode is Get (default) or Connect.
	Mode Mode
	// Target is an http:// URL, or with Connect also https://; with
	// Connect, its host:port (port 80 or 443 by default) is the tunnel's
	// end, and an https:// target is checked over TLS inside the tunnel.
	Target string
	// TLS configures the TLS client of an https:// target (trusted roots,
	// server name); nil means the system's roots and the target's host.
	TLS *tls.Config
	// Status is the expected status of the target; 0 means 200.
	Status int
	// Body, when not empty, must appear in the body.
	Body string
	// MaxBody caps the body read; 0 means 1 MiB.
	MaxBody int64
}

// Result is what a probe saw.
type Result struct {
	Status  int           // the final status
	Bytes   int64         // body bytes read
	Connect time.Duration // TCP connection to the proxy
	Total   time.Duration
}

// DefaultMaxBody is MaxBody's default.
const DefaultMaxBody = 1 << 20

// maxConnectHead caps the CONNECT reply's head.
const maxConnectHead = 16 << 10

// Validate checks the settings.
func (c *Config) Validate() error {
	_, err := c.target()
	return err
}

// target parses Target.
func (c *Config) target() (*url.URL, error) {
	if _, _, err := net.SplitHostPort(c.Proxy); err != nil {
		return nil, fmt.Errorf("proxy %q: want HOST:PORT", c.Proxy)
	}
	switch c.Mode {
	case "", Get, Connect:
	default:
		return nil, fmt.Errorf("mode %q: want %s or %s", c.Mode, Get, Connect)
	}
	u, err := url.Parse(c.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" || strings.ContainsAny(c.Target, " \r\n") {
		return nil, fmt.Errorf("target %q: want an http:// or https:// URL without user or fragment", c.Target)
	}
	if u.Scheme == "https" && c.Mode != Connect {
		return nil, fmt.Errorf("target %q: https goes through the proxy with CONNECT only", c.Target)
	}
	if c.Status != 0 && (c.Status < 100 || c.Status > 999) {
		return nil, fmt.Errorf("status %d is not an HTTP status code", c.Status)
	}
	return u, nil
}

// Probe runs one probe bounded by ctx (which should have a deadline: a
// hung proxy still completes TCP handshakes).
func Probe(ctx context.Context, cfg Config) (Result, error) {
	var res Result
	fail := func(s Stage, status int, squid string, err error) error {
		return &Error{Stage: s, Proxy: cfg.Proxy, Status: status, SquidError: squid, Err: err}
	}
	u, err := cfg.target()
	if err != nil {
		return res, fail(StageConfig, 0, "", err)
	}
	start := time.Now()
	defer func() { res.Total = time.Since(start) }()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Proxy)
	res.Connect = time.Since(start)
	if err != nil {
		return res, fail(StageConnect, 0, "", ctxerr.Cause(ctx, err))
	}
	hostport := u.Host
	if u.Port() == "" {
		hostport = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	check := &l7.HTTP{Host: u.Host, Path: u.RequestURI(), Status: cfg.Status, MaxBody: cfg.maxBody(),
		Header: http.Header{"User-Agent": {"ocfkit-probe"}}}
	if u.Scheme == "https" {
		check.TLS = cfg.TLS
		if check.TLS == nil {
			check.TLS = &tls.Config{}
		}
	}
	if cfg.Body != "" {
		check.Regex = regexp.MustCompile(regexp.QuoteMeta(cfg.Body))
	}
	if cfg.Mode == Connect {
		tunnel, err := openTunnel(ctx, conn, hostport)
		if err != nil {
			return res, err.(*Error).with(cfg.Proxy)
		}
		conn = tunnel
	} else {
		check.Path = u.String() // absolute form
	}
	r := check.Check(ctx, conn)
	res.Status, res.Bytes = r.Status, r.Bytes
	switch r.Failure {
	case l7.OK:
		return res, nil
	case l7.TLS:
		return res, fail(StageTLS, 0, "", r.Err)
	case l7.Protocol:
		if r.Status == 0 && cfg.Mode == Connect {
			return res, fail(StageTarget, 0, "", fmt.Errorf("no HTTP answer through the tunnel: %w", r.Err))
		}
		if r.Status == 0 {
			return res, fail(StageProxy, 0, "", fmt.Errorf("no HTTP answer: %w", r.Err))
		}
		return res, fail(StageBody, r.Status, "", r.Err)
	case l7.Status:
		if cfg.Mode != Connect && upstreamDown(r.Status) {
			return res, fail(StageUpstream, r.Status, "", fmt.Errorf("the proxy answered %d: upstream down", r.Status))
		}
		return res, fail(StageStatus, r.Status, "", r.Err)
	default:
		return res, fail(StageBody, r.Status, "", fmt.Errorf("%w (%s)", r.Err, r.String()))
	}
}

func (c *Config) maxBody() int64 {
	if c.MaxBody > 0 {
		return c.MaxBody
	}
	return DefaultMaxBody
}

// upstreamDown is a status a proxy answers for an upstream it cannot use.
func upstreamDown(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

func (e *Error) with(proxy string) *Error { e.Proxy = proxy; return e }

// openTunnel sends CONNECT hostport on conn and reads the reply; on 2xx it
// returns a connection to the target (conn, with any bytes already read
// after the reply's head). On failure it closes conn.
func openTunnel(ctx context.Context, conn net.Conn, hostport string) (net.Conn, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req := fmt.Sprintf("CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ocfkit-probe\r\n\r\n", hostport, hostport)
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, &Error{Stage: StageProxy, Err: fmt.Errorf("sending CONNECT: %w", ctxerr.Cause(ctx, err))}
	}
	br := bufio.NewReaderSize(conn, 4096)
	status, squid, err := ReadConnectReply(br)
	if err != nil {
		conn.Close()
		return nil, &Error{Stage: StageProxy, Err: fmt.Errorf("reading the CONNECT reply: %w", ctxerr.Cause(ctx, err))}
	}
	if status < 200 || status > 299 {
		conn.Close()
		stage := StageTunnel
		if upstreamDown(status) {
			stage = StageUpstream
		}
		return nil, &Error{Stage: stage, Status: status, SquidError: squid, Err: fmt.Errorf("CONNECT %s answered %d%s", hostport, status, squidNote(squid))}
	}
	_ = conn.SetDeadline(time.Time{})
	return &bufferedConn{Conn: conn, r: br}, nil
}

func squidNote(s string) string {
	if s == "" {
		return ""
	}
	return " (X-Squid-Error: " + s + ")"
}

// bufferedConn reads what the reply's reader holds before the connection.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// ReadConnectReply reads the head of a reply to CONNECT from r, at most
// 16 KiB, and returns its status and X-Squid-Error header. A reply whose
// status is not 2xx may have a body, which is not read.
func ReadConnectReply(r *bufio.Reader) (status int, squidError string, err error) {
	left := maxConnectHead
	line, err := readLine(r, &left)
	if err != nil {
		return 0, "", err
	}
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") || len(proto) != 8 {
		return 0, "", fmt.Errorf("status line %q: want HTTP/1.x", excerpt(line))
	}
	code, _, _ := strings.Cut(rest, " ")
	if len(code) != 3 || code[0] < '1' || code[0] > '9' || !digits(code) {
		return 0, "", fmt.Errorf("status line %q: no three-digit status", excerpt(line))
	}
	status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	for {
		line, err := readLine(r, &left)
		if err != nil {
			return 0, "", err
		}
		if line == "" {
			return status, squidError, nil
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return 0, "", fmt.Errorf("header line %q: no colon", excerpt(line))
		}
		if strings.EqualFold(strings.TrimSpace(name), "X-Squid-Error") {
			squidError = strings.TrimSpace(value)
		}
	}
}

// readLine reads one CRLF- or LF-ended line, counting its bytes against
// *left.
func readLine(r *bufio.Reader, left *int) (string, error) {
	var b []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		if *left--; *left < 0 {
			return "", fmt.Errorf("reply head over %d bytes", maxConnectHead)
		}
		if c == '\n' {
			return strings.TrimSuffix(string(b), "\r"), nil
		}
		b = append(b, c)
	}
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func excerpt(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
