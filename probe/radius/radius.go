// Package radius probes a RADIUS server (RFC 2865, RFC 2866): a
// Status-Server (RFC 5997) carrying a Message-Authenticator, answered with
// Access-Accept on the authentication or status port or with
// Accounting-Response on the accounting port; or an Access-Request for a
// test user whose reply code (and, optionally, Reply-Message) is checked.
//
// Every reply must carry a valid Response Authenticator (and, when present,
// Message-Authenticator) for the shared secret: a server that answers with
// a wrong secret fails at StageAuthenticator instead of passing. The
// secret is read from a file by ReadSecret and never printed.
package radius

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/ocfkit/ocfkit/internal/backoff"
	"github.com/ocfkit/ocfkit/internal/ctxerr"
	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// Stage names the step of a probe that failed.
type Stage string

// The stages of a probe, in order.
const (
	StageConfig        Stage = "config"        // the probe's own settings
	StageSend          Stage = "send"          // the request could not be sent
	StageReply         Stage = "reply"         // no reply in time (or ICMP: nothing listening)
	StageAuthenticator Stage = "authenticator" // a reply that the secret does not authenticate
	StageCode          Stage = "code"          // an authentic reply of another code than expected
	StageAttribute     Stage = "attribute"     // the expected Reply-Message is missing or differs
)

// Error is a failed probe: the stage, the server and why.
type Error struct {
	Stage  Stage
	Server string
	Err    error
}

// Error returns e.g. "radius reply from 127.0.0.1:18121: <cause>".
func (e *Error) Error() string {
	return fmt.Sprintf("radius %s from %s: %v", e.Stage, e.Server, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Kind is the request a probe sends.
type Kind string

// The requests.
const (
	StatusServer  Kind = "status" // Status-Server (RFC 5997)
	AccessRequest Kind = "access" // Access-Request for User with Password
)

// Config is one probe.
type Config struct {
	// Server is HOST:PORT of the server (UDP).
	Server string
	// Secret is the shared secret (see ReadSecret). It is never printed.
	Secret []byte
	// Kind is the request; empty means StatusServer.
	Kind Kind
	// Accounting, for a Status-Server to the accounting port, expects
	// Accounting-Response instead of Access-Accept.
	Accounting bool
	// User and Password are the test user of an AccessRequest.
	User, Password string
	// Expect is the expected reply code; 0 means Access-Accept (or
	// Accounting-Response with Accounting).
	Expect radius.Code
	// ReplyMessage, when not empty, must be contained in a Reply-Message
	// of the reply.
	ReplyMessage string
	// Retry is the first wait before sending the request again (doubling
	// after each repeat); 0 means one second. The same request (same
	// identifier and authenticator) is repeated, as RFC 5080 asks.
	Retry time.Duration
}

// Result is what a probe saw.
type Result struct {
	Code  radius.Code   // the reply's code, 0 without a reply
	Sent  int           // how many times the request was sent
	RTT   time.Duration // from the first send to the authentic reply
	Reply []string      // the Reply-Message values of the reply
}

// MaxSecretFile bounds the secret file.
const MaxSecretFile = 4096

// ReadSecret reads a shared secret from path: a regular file only root and
// uid may write (internal/filesafe), at most MaxSecretFile bytes; one
// trailing newline is dropped. The secret is not in the error.
func ReadSecret(path string, uid int) ([]byte, error) {
	b, err := filesafe.ReadFile(path, uid, MaxSecretFile)
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	if len(b) == 0 {
		return nil, fmt.Errorf("secret file %s: empty", path)
	}
	return b, nil
}

// Validate checks the settings.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Server); err != nil {
		return fmt.Errorf("server %q: want HOST:PORT", c.Server)
	}
	if len(c.Secret) == 0 {
		return errors.New("no shared secret")
	}
	switch c.Kind {
	case "", StatusServer:
		if c.User != "" || c.Password != "" {
			return errors.New("user and password apply to an Access-Request only")
		}
	case AccessRequest:
		if c.User == "" {
			return errors.New("an Access-Request needs a user")
		}
		if c.Accounting {
			return errors.New("accounting applies to a Status-Server only")
		}
		if len(c.Password) > 128 {
			return errors.New("password longer than 128 bytes")
		}
	default:
		return fmt.Errorf("kind %q: want %s or %s", c.Kind, StatusServer, AccessRequest)
	}
	return nil
}

// expect is the expected reply code.
func (c *Config) expect() radius.Code {
	switch {
	case c.Expect != 0:
		return c.Expect
	case c.Accounting:
		return radius.CodeAccountingResponse
	}
	return radius.CodeAccessAccept
}

// Probe sends the request and checks the reply, bounded by ctx (which
// should have a deadline: without one, a silent server is waited for
// until ctx is cancelled).
func Probe(ctx context.Context, cfg Config) (Result, error) {
	fail := func(s Stage, err error) error { return &Error{Stage: s, Server: cfg.Server, Err: err} }
	if err := cfg.Validate(); err != nil {
		return Result{}, fail(StageConfig, err)
	}
	req, err := cfg.request()
	if err != nil {
		return Result{}, fail(StageConfig, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", cfg.Server)
	if err != nil {
		return Result{}, fail(StageSend, ctxerr.Cause(ctx, err))
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var res Result
	start := time.Now()
	reply, stage, err := exchange(ctx, conn, req, cfg.Secret, cfg.retry(), &res)
	res.RTT = time.Since(start)
	if err != nil {
		return res, fail(stage, err)
	}
	res.Code = reply.Code
	for _, a := range reply.Attributes {
		if a.Type == rfc2865.ReplyMessage_Type {
			res.Reply = append(res.Reply, string(a.Attribute))
		}
	}
	if reply.Code != cfg.expect() {
		return res, fail(StageCode, fmt.Errorf("reply %v, want %v%s", reply.Code, cfg.expect(), replyNote(res.Reply)))
	}
	if cfg.ReplyMessage != "" && !containsAny(res.Reply, cfg.ReplyMessage) {
		return res, fail(StageAttribute, fmt.Errorf("Reply-Message %q, want one containing %q", res.Reply, cfg.ReplyMessage))
	}
	return res, nil
}

func (c *Config) retry() time.Duration {
	if c.Retry > 0 {
		return c.Retry
	}
	return time.Second
}

// request builds the encoded request, with its Message-Authenticator.
func (c *Config) request() ([]byte, error) {
	code := radius.CodeStatusServer
	if c.Kind == AccessRequest {
		code = radius.CodeAccessRequest
	}
	p := radius.New(code, c.Secret)
	if code == radius.CodeAccessRequest {
		if err := rfc2865.UserName_SetString(p, c.User); err != nil {
			return nil, err
		}
		if err := rfc2865.UserPassword_SetString(p, c.Password); err != nil {
			return nil, err
		}
		if err := rfc2865.NASIdentifier_SetString(p, "ocfkit-probe"); err != nil {
			return nil, err
		}
	}
	if err := rfc2869.MessageAuthenticator_Set(p, make([]byte, md5.Size)); err != nil {
		return nil, err
	}
	b, err := p.Encode()
	if err != nil {
		return nil, err
	}
	signMessageAuthenticator(b, b[4:20], c.Secret)
	return b, nil
}

// exchange sends req until an authentic reply to it comes or ctx ends.
// Replies to other requests (another identifier) are skipped; a reply to
// this one that the secret does not authenticate is remembered, and is the
// failure if nothing authentic follows.
func exchange(ctx context.Context, conn net.Conn, req, secret []byte, first time.Duration, res *Result) (*radius.Packet, Stage, error) {
	if _, err := conn.Write(req); err != nil {
		return nil, StageSend, ctxerr.Cause(ctx, err)
	}
	res.Sent = 1
	done := make(chan struct{})
	resent := make(chan int, 1)
	go resendLoop(conn, req, backoff.New(first, 8*first), done, resent)
	defer func() {
		close(done)
		res.Sent += <-resent
	}()

	var forged error
	buf := make([]byte, radius.MaxPacketLength)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if forged != nil {
				return nil, StageAuthenticator, forged
			}
			return nil, StageReply, ctxerr.Cause(ctx, fmt.Errorf("no reply: %w", err))
		}
		p, err := CheckReply(buf[:n], req, secret)
		switch {
		case errors.Is(err, errOtherRequest):
			continue
		case err != nil:
			forged = err
			continue
		}
		return p, "", nil
	}
}

var errOtherRequest = errors.New("reply to another request")

// resendLoop sends req again on schedule until done is closed, then
// reports how many times it did.
func resendLoop(conn net.Conn, req []byte, schedule backoff.Doubling, done <-chan struct{}, resent chan<- int) {
	n := 0
	for {
		t := time.NewTimer(schedule.Next())
		select {
		case <-done:
			t.Stop()
			resent <- n
			return
		case <-t.C:
			if _, err := conn.Write(req); err == nil {
				n++
			}
		}
	}
}

// CheckReply parses b, a reply to req, and checks its Response
// Authenticator and, when present, its Message-Authenticator with secret.
// A reply to another request (another identifier) is an error that wraps
// no authenticator failure.
func CheckReply(b, req, secret []byte) (*radius.Packet, error) {
	if len(req) < 20 {
		return nil, errors.New("request shorter than 20 bytes")
	}
	p, err := radius.Parse(b, secret)
	if err != nil {
		return nil, fmt.Errorf("malformed reply: %w", err)
	}
	if p.Identifier != req[1] {
		return nil, errOtherRequest
	}
	length := int(b[2])<<8 | int(b[3])
	b = b[:length]
	if !radius.IsAuthenticResponse(b, req, secret) {
		return nil, fmt.Errorf("%v with a wrong Response Authenticator (wrong shared secret?)", p.Code)
	}
	if err := checkMessageAuthenticator(b, req[4:20], secret); err != nil {
		return nil, fmt.Errorf("%v: %w", p.Code, err)
	}
	return p, nil
}

// signMessageAuthenticator fills the Message-Authenticator of the encoded
// packet b (whose value must be zero) with HMAC-MD5 over the packet, with
// authenticator in the header (RFC 3579 3.2).
func signMessageAuthenticator(b, authenticator, secret []byte) {
	off := findAttr(b, byte(rfc2869.MessageAuthenticator_Type))
	if off < 0 {
		return
	}
	m := macOver(b, off, authenticator, secret)
	copy(b[off+2:off+2+md5.Size], m)
}

// checkMessageAuthenticator checks a reply's Message-Authenticator, if it
// has one.
func checkMessageAuthenticator(b, reqAuth, secret []byte) error {
	off := findAttr(b, byte(rfc2869.MessageAuthenticator_Type))
	if off < 0 {
		return nil
	}
	got := append([]byte(nil), b[off+2:off+2+md5.Size]...)
	if !hmac.Equal(got, macOver(b, off, reqAuth, secret)) {
		return errors.New("wrong Message-Authenticator (wrong shared secret?)")
	}
	return nil
}

// macOver is the HMAC-MD5 of packet b with the Message-Authenticator at off
// zeroed and authenticator in the header.
func macOver(b []byte, off int, authenticator, secret []byte) []byte {
	c := append([]byte(nil), b...)
	copy(c[4:20], authenticator)
	for i := off + 2; i < off+2+md5.Size && i < len(c); i++ {
		c[i] = 0
	}
	h := hmac.New(md5.New, secret)
	h.Write(c)
	return h.Sum(nil)
}

// findAttr returns the offset of the first attribute t in the encoded
// packet b (well formed: radius.Parse accepted it), or -1.
func findAttr(b []byte, t byte) int {
	for off := 20; off+2 <= len(b); {
		l := int(b[off+1])
		if l < 2 || off+l > len(b) {
			return -1
		}
		if b[off] == t {
			if l != 2+md5.Size {
				return -1
			}
			return off
		}
		off += l
	}
	return -1
}

func containsAny(l []string, s string) bool {
	for _, x := range l {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

func replyNote(msgs []string) string {
	if len(msgs) == 0 {
		return ""
	}
	return fmt.Sprintf(" (Reply-Message %q)", msgs)
}
