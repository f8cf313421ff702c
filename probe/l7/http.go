// Package l7 checks an HTTP or HTTPS service over a connection the caller
// dials (through an LVS VIP path, or plainly), and says which expectation
// failed with the value it saw: the status, a response header, the body
// (exact, MD5, regular expression, size cap) or the TLS handshake.
//
// One request per connection (keep-alive off), redirects not followed,
// HTTP/1.1 only. The response is read by net/http, so multi-segment,
// chunked and LF-only responses are all fine.
package l7

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ocfkit/ocfkit/internal/ctxerr"
)

// DefaultMaxBody is the body size cap without HTTP.MaxBody.
const DefaultMaxBody = 16 << 20

// Failure names what went wrong; empty means the check passed.
type Failure string

// Failures, as they appear in result lines.
const (
	OK         Failure = ""
	TLS        Failure = "tls"         // the handshake failed
	Protocol   Failure = "http"        // no valid HTTP response in time
	Status     Failure = "http-status" // another status than expected
	Header     Failure = "http-header" // an expected response header is missing or differs
	Body       Failure = "http-body"   // body differs, MD5 or regex mismatch, or too large
	maxHeaders         = 64 << 10
)

// HeaderWant is one expected response header; an empty Value only
// requires the header to be present.
type HeaderWant struct{ Name, Value string }

// HTTP is one request and what its response must be.
type HTTP struct {
	Method string // GET (default) or HEAD
	Host   string // Host header, and TLS server name (SNI)
	Path   string // request target, with leading slash
	Header http.Header
	// TLS, when not nil, makes it HTTPS; ServerName defaults to Host
	// (without a port).
	TLS *tls.Config

	Status     int // expected status; 0 means 200
	WantHeader []HeaderWant
	Body       *string // expected body, exactly
	MD5        string  // expected MD5 of the body, hex
	Regex      *regexp.Regexp
	MaxBody    int64 // body size cap; 0 means DefaultMaxBody
}

// Result is the outcome of one HTTP check.
type Result struct {
	Failure  Failure
	Observed string // what was seen when a check failed
	Err      error  // the underlying error of a failure
	Status   int
	Bytes    int64
	Took     time.Duration // from the connection to the end of the body
}

// String describes a failure in one phrase.
func (r Result) String() string {
	if r.Failure == OK {
		return fmt.Sprintf("status=%d bytes=%d", r.Status, r.Bytes)
	}
	if r.Observed != "" {
		return fmt.Sprintf("%s observed=%q", r.Failure, r.Observed)
	}
	return fmt.Sprintf("%s: %v", r.Failure, r.Err)
}

// Validate checks the request description.
func (h *HTTP) Validate() error {
	switch h.Method {
	case "", http.MethodGet, http.MethodHead:
	default:
		return fmt.Errorf("method %q: want GET or HEAD", h.Method)
	}
	if h.Host == "" || strings.ContainsAny(h.Host, " \r\n/") {
		return fmt.Errorf("host %q is not a Host header value", h.Host)
	}
	if !strings.HasPrefix(h.Path, "/") || strings.ContainsAny(h.Path, " \r\n") {
		return fmt.Errorf("path %q: want a request target with a leading slash", h.Path)
	}
	if h.MD5 != "" {
		if b, err := hex.DecodeString(h.MD5); err != nil || len(b) != md5.Size {
			return fmt.Errorf("MD5 %q is not 32 hex digits", h.MD5)
		}
	}
	if h.Status != 0 && (h.Status < 100 || h.Status > 999) {
		return fmt.Errorf("status %d is not an HTTP status code", h.Status)
	}
	return nil
}

// Describe tells the request and the expectations in one line.
func (h *HTTP) Describe() string {
	scheme := "http"
	if h.TLS != nil {
		scheme = "https"
	}
	parts := []string{fmt.Sprintf("%s %s://%s%s; expect status %d", h.method(), scheme, h.Host, h.Path, h.status())}
	for _, w := range h.WantHeader {
		parts = append(parts, fmt.Sprintf("header %s: %q", w.Name, w.Value))
	}
	if h.Body != nil {
		parts = append(parts, fmt.Sprintf("body %q", excerpt([]byte(*h.Body))))
	}
	if h.MD5 != "" {
		parts = append(parts, "body md5 "+h.MD5)
	}
	if h.Regex != nil {
		parts = append(parts, fmt.Sprintf("body matching %q", h.Regex))
	}
	return strings.Join(append(parts, fmt.Sprintf("body cap %d bytes", h.maxBody())), "; ")
}

// ParseHeader reads "Name: value".
func ParseHeader(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
		return "", "", fmt.Errorf("header %q: want \"Name: value\"", s)
	}
	return name, strings.TrimSpace(value), nil
}

// Check sends the request on conn, a fresh connection to the service, and
// checks the response, all within ctx. It closes conn.
//
// The request is written and the response read by net/http's wire code
// (Request.Write, ReadResponse), without its Transport: one connection,
// one request, so there is nothing to pool, redirect or upgrade.
func (h *HTTP) Check(ctx context.Context, conn net.Conn) Result {
	start := time.Now()
	r := h.check(ctx, conn)
	r.Took = time.Since(start)
	return r
}

func (h *HTTP) check(ctx context.Context, conn net.Conn) (r Result) {
	// A response read to its end (Connection: close) ends with a FIN; any
	// other end (a failure, a body over the cap, the deadline) aborts the
	// connection: nothing more is read, and the server gets a RST instead
	// of sending on.
	raw, whole := conn, false
	defer func() {
		if !whole {
			Abort(raw)
		}
		raw.Close()
	}()
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			return Result{Failure: Protocol, Err: fmt.Errorf("setting the deadline: %w", err)}
		}
	}
	// A cancelled context interrupts any read or write at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	req, err := h.request()
	if err != nil {
		return Result{Failure: Protocol, Err: fmt.Errorf("building the request: %w", err)}
	}
	if h.TLS != nil {
		cfg := h.TLS.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = serverName(h.Host)
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return Result{Failure: TLS, Err: err, Observed: err.Error()}
		}
		conn = tc
	}
	w := bufio.NewWriter(conn)
	if err := req.Write(w); err != nil {
		return Result{Failure: Protocol, Err: fmt.Errorf("sending the request: %w", ctxerr.Cause(ctx, err))}
	}
	if err := w.Flush(); err != nil {
		return Result{Failure: Protocol, Err: fmt.Errorf("sending the request: %w", ctxerr.Cause(ctx, err))}
	}
	head := &headLimit{r: conn, left: maxHeaders}
	br := bufio.NewReader(head)
	var resp *http.Response
	for resp == nil || informational(resp.StatusCode) {
		// 1xx answers (100 Continue, 103 Early Hints) have no body and
		// come before the real one.
		if resp, err = http.ReadResponse(br, req); err != nil {
			return Result{Failure: Protocol, Err: fmt.Errorf("reading the response: %w", ctxerr.Cause(ctx, err))}
		}
	}
	head.lifted = true
	// The body is never Closed: net/http's Close reads what is left, to
	// the end of whatever Content-Length the server claims.
	r = Result{Status: resp.StatusCode}
	body, err := io.ReadAll(io.LimitReader(resp.Body, h.maxBody()+1))
	r.Bytes = int64(len(body))
	if err != nil {
		r.Failure, r.Err = Protocol, fmt.Errorf("reading the body: %w", ctxerr.Cause(ctx, err))
		return r
	}
	whole = int64(len(body)) <= h.maxBody()
	h.judge(&r, resp, body)
	return r
}

// Aborter is a connection that can end with a RST at once, dropping what
// it has not read (the userspace stack's connections through a VIP).
type Aborter interface{ Abort() }

// Abort makes the next Close of conn end the connection with a RST and
// drop what is unread, where conn (or the connection under a TLS one) can:
// an Aborter, or a kernel TCP connection (linger 0).
func Abort(conn net.Conn) {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	switch c := conn.(type) {
	case Aborter:
		c.Abort()
	case *net.TCPConn:
		_ = c.SetLinger(0)
	}
}

// informational is a 1xx status other than 101 Switching Protocols (which
// ends HTTP on the connection, so it is the answer).
func informational(status int) bool {
	return status >= 100 && status < 200 && status != http.StatusSwitchingProtocols
}

// request is the request line and head to send.
func (h *HTTP) request() (*http.Request, error) {
	scheme := "http"
	if h.TLS != nil {
		scheme = "https"
	}
	req, err := http.NewRequest(h.method(), scheme+"://"+h.Host+"/", nil)
	if err != nil {
		return nil, err
	}
	req.URL = &url.URL{Scheme: scheme, Host: h.Host, Opaque: h.Path}
	req.Host = h.Host
	req.Close = true // keep-alive off: "Connection: close"
	req.Header.Set("User-Agent", "ocf-vipcheck")
	for name, values := range h.Header {
		if strings.EqualFold(name, "Host") && len(values) > 0 {
			req.Host = values[0]
			continue
		}
		req.Header[http.CanonicalHeaderKey(name)] = values
	}
	return req, nil
}

// headLimit caps what the response head may take: a server that sends
// headers without end fails instead of filling memory. Lifted once the
// head is read; the body has its own cap.
type headLimit struct {
	r      io.Reader
	left   int
	lifted bool
}

var errHeadTooLarge = fmt.Errorf("response head larger than %d bytes", maxHeaders)

func (l *headLimit) Read(p []byte) (int, error) {
	if l.lifted {
		return l.r.Read(p)
	}
	if l.left <= 0 {
		return 0, errHeadTooLarge
	}
	if len(p) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= n
	return n, err
}

// judge compares a response with the expectations, in the order status,
// headers, body.
func (h *HTTP) judge(r *Result, resp *http.Response, body []byte) {
	want := h.status()
	fail := func(f Failure, observed string, format string, a ...any) {
		r.Failure, r.Observed, r.Err = f, observed, fmt.Errorf(format, a...)
	}
	if resp.StatusCode != want {
		fail(Status, strconv.Itoa(resp.StatusCode), "status %d, want %d", resp.StatusCode, want)
		return
	}
	for _, w := range h.WantHeader {
		got, ok := resp.Header[http.CanonicalHeaderKey(w.Name)]
		switch {
		case !ok:
			fail(Header, "", "no %s header", w.Name)
			r.Observed = "(no " + w.Name + ")"
			return
		case w.Value != "" && !contains(got, w.Value):
			fail(Header, w.Name+": "+strings.Join(got, ", "), "%s: %q, want %q", w.Name, got, w.Value)
			return
		}
	}
	if int64(len(body)) > h.maxBody() {
		fail(Body, fmt.Sprintf("more than %d bytes", h.maxBody()), "body larger than the cap of %d bytes", h.maxBody())
		return
	}
	if h.Body != nil && string(body) != *h.Body {
		fail(Body, excerpt(body), "body differs")
		return
	}
	if h.MD5 != "" {
		sum := md5.Sum(body)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, h.MD5) {
			fail(Body, "md5="+got, "body MD5 %s, want %s", got, h.MD5)
			return
		}
	}
	if h.Regex != nil && !h.Regex.Match(body) {
		fail(Body, excerpt(body), "body does not match %q", h.Regex)
	}
}

// method is the request method: Method, or GET.
func (h *HTTP) method() string {
	if h.Method != "" {
		return h.Method
	}
	return http.MethodGet
}

// status is the expected status: Status, or 200.
func (h *HTTP) status() int {
	if h.Status != 0 {
		return h.Status
	}
	return http.StatusOK
}

// maxBody is the body size cap: MaxBody, or DefaultMaxBody.
func (h *HTTP) maxBody() int64 {
	if h.MaxBody > 0 {
		return h.MaxBody
	}
	return DefaultMaxBody
}

func contains(values []string, v string) bool {
	for _, x := range values {
		if strings.TrimSpace(x) == v {
			return true
		}
	}
	return false
}

// excerpt returns the start of a body for a result line.
func excerpt(b []byte) string {
	const n = 64
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// serverName is host without a port, for SNI.
func serverName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.Trim(host, "[]")
}
