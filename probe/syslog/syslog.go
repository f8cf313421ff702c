// Package syslog probes a syslog daemon end to end: it sends a message
// carrying a fresh unique token to the daemon (UDP or TCP; RFC 5424 or RFC
// 3164 framing; on TCP, RFC 6587 octet counting or a trailing LF) and waits
// for the token to come back, either on a relay port the daemon forwards
// to (the classic s_probe → d_probe set-up, which the probe listens on
// for the duration of one probe) or in a named log file.
//
// Each probe has its own token, so a message the daemon relays late (one
// sent while it was stopped) never passes a later probe.
package syslog

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/ocfkit/ocfkit/internal/ctxerr"
)

// Stage names the step of a probe that failed.
type Stage string

// The stages of a probe, in order.
const (
	StageConfig  Stage = "config"  // the probe's own settings
	StageListen  Stage = "listen"  // the relay port could not be bound
	StageFile    Stage = "file"    // the log file could not be opened or read
	StageSend    Stage = "send"    // the message could not be sent to the daemon
	StageReceive Stage = "receive" // the token did not come back in time
)

// Error is a failed probe: the stage, the daemon and why.
type Error struct {
	Stage  Stage
	Server string
	Err    error
}

// Error returns e.g. "syslog receive via 127.0.0.1:5514: <cause>".
func (e *Error) Error() string {
	return fmt.Sprintf("syslog %s via %s: %v", e.Stage, e.Server, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Format is the message format sent.
type Format string

// The formats.
const (
	RFC5424 Format = "rfc5424"
	RFC3164 Format = "rfc3164"
)

// Config is one probe.
type Config struct {
	// Server is HOST:PORT of the daemon's source.
	Server string
	// Network is "udp" (default) or "tcp".
	Network string
	// Format is RFC5424 (default) or RFC3164.
	Format Format
	// OctetCounting frames a TCP message as "LEN SP MSG" (RFC 6587 3.4.1)
	// instead of ending it with LF.
	OctetCounting bool

	// Relay is HOST:PORT the probe listens on for the daemon's copy; the
	// daemon forwards there with RelayNetwork ("udp", default, or "tcp").
	Relay        string
	RelayNetwork string
	// File, instead of Relay, is a log file the daemon writes: the token
	// must appear in what is appended to it after the probe starts.
	File string
	// MaxFileRead bounds what one probe reads of File; 0 means 1 MiB.
	MaxFileRead int64

	// Hostname and AppName go into the message header; defaults "localhost"
	// and "ocfkit-probe".
	Hostname, AppName string
}

// Result is what a probe saw.
type Result struct {
	Token    string        // the token sent
	Took     time.Duration // from sending to seeing the token
	Received []byte        // the message seen (relay) or the line (file)
}

// DefaultMaxFileRead is MaxFileRead's default.
const DefaultMaxFileRead = 1 << 20

// MaxMessage bounds one received message.
const MaxMessage = 64 << 10

// filePoll is how often File is looked at.
const filePoll = 20 * time.Millisecond

// Validate checks the settings.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Server); err != nil {
		return fmt.Errorf("server %q: want HOST:PORT", c.Server)
	}
	switch c.Network {
	case "", "udp", "tcp":
	default:
		return fmt.Errorf("network %q: want udp or tcp", c.Network)
	}
	switch c.Format {
	case "", RFC5424, RFC3164:
	default:
		return fmt.Errorf("format %q: want %s or %s", c.Format, RFC5424, RFC3164)
	}
	if c.OctetCounting && c.Network != "tcp" {
		return errors.New("octet counting applies to TCP only")
	}
	switch {
	case (c.Relay == "") == (c.File == ""):
		return errors.New("want a relay address or a file, not both or neither")
	case c.Relay != "":
		if _, _, err := net.SplitHostPort(c.Relay); err != nil {
			return fmt.Errorf("relay %q: want HOST:PORT", c.Relay)
		}
		switch c.RelayNetwork {
		case "", "udp", "tcp":
		default:
			return fmt.Errorf("relay network %q: want udp or tcp", c.RelayNetwork)
		}
	}
	for _, s := range []string{c.Hostname, c.AppName} {
		for _, r := range s {
			if r <= ' ' || r > '~' {
				return fmt.Errorf("header field %q: want printable ASCII without spaces", s)
			}
		}
	}
	return nil
}

// Probe sends one message and waits for its token, bounded by ctx (which
// should have a deadline).
func Probe(ctx context.Context, cfg Config) (Result, error) {
	fail := func(s Stage, err error) error { return &Error{Stage: s, Server: cfg.Server, Err: err} }
	if err := cfg.Validate(); err != nil {
		return Result{}, fail(StageConfig, err)
	}
	res := Result{Token: NewToken()}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wait func(ctx context.Context, token string) ([]byte, error)
	var waitStage Stage
	if cfg.Relay != "" {
		l, err := listen(ctx, cfg.relayNetwork(), cfg.Relay)
		if err != nil {
			return res, fail(StageListen, err)
		}
		defer l.Close()
		wait, waitStage = l.wait, StageReceive
	} else {
		f, err := openTail(cfg.File, cfg.maxFileRead())
		if err != nil {
			return res, fail(StageFile, err)
		}
		defer f.Close()
		wait, waitStage = f.wait, StageReceive
	}

	start := time.Now()
	if err := send(ctx, &cfg, Message(&cfg, res.Token, start)); err != nil {
		return res, fail(StageSend, err)
	}
	got, err := wait(ctx, res.Token)
	res.Took = time.Since(start)
	if err != nil {
		var fe *fileError
		if errors.As(err, &fe) {
			waitStage = StageFile
		}
		return res, fail(waitStage, err)
	}
	res.Received = got
	return res, nil
}

func (c *Config) relayNetwork() string {
	if c.RelayNetwork == "" {
		return "udp"
	}
	return c.RelayNetwork
}

func (c *Config) maxFileRead() int64 {
	if c.MaxFileRead > 0 {
		return c.MaxFileRead
	}
	return DefaultMaxFileRead
}

// NewToken returns a fresh token: "ocfkit-probe-" and 16 hex digits.
func NewToken() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "ocfkit-probe-" + hex.EncodeToString(b)
}

// Message is the message carrying token, in cfg's format, unframed. Its
// priority is user.notice (13).
func Message(cfg *Config, token string, now time.Time) []byte {
	host, app := cfg.Hostname, cfg.AppName
	if host == "" {
		host = "localhost"
	}
	if app == "" {
		app = "ocfkit-probe"
	}
	pid := strconv.Itoa(os.Getpid())
	if cfg.Format == RFC3164 {
		return fmt.Appendf(nil, "<13>%s %s %s[%s]: %s", now.Format(time.Stamp), host, app, pid, token)
	}
	return fmt.Appendf(nil, "<13>1 %s %s %s %s - - %s", now.UTC().Format("2006-01-02T15:04:05.000000Z"), host, app, pid, token)
}

// send delivers msg to the daemon, framed for cfg's transport.
func send(ctx context.Context, cfg *Config, msg []byte) error {
	network := cfg.Network
	if network == "" {
		network = "udp"
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, cfg.Server)
	if err != nil {
		return ctxerr.Cause(ctx, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if network == "tcp" {
		msg = Frame(msg, cfg.OctetCounting)
	}
	if _, err := conn.Write(msg); err != nil {
		return ctxerr.Cause(ctx, err)
	}
	return nil
}

// Frame frames msg for a TCP stream: "LEN SP MSG" with octet counting,
// else MSG and LF.
func Frame(msg []byte, octetCounting bool) []byte {
	if octetCounting {
		return append(fmt.Appendf(nil, "%d ", len(msg)), msg...)
	}
	return append(append([]byte(nil), msg...), '\n')
}

// listener receives the daemon's copies on the relay port.
type listener struct {
	pc     net.PacketConn
	ln     net.Listener
	found  chan []byte
	errs   chan error
	conns  sync.WaitGroup
	mu     sync.Mutex
	open   []net.Conn
	closed bool
}

// listen binds the relay port.
func listen(ctx context.Context, network, addr string) (*listener, error) {
	var lc net.ListenConfig
	l := &listener{found: make(chan []byte, 1), errs: make(chan error, 1)}
	var err error
	if network == "udp" {
		l.pc, err = lc.ListenPacket(ctx, "udp", addr)
	} else {
		l.ln, err = lc.Listen(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Close releases the port and every relay connection.
func (l *listener) Close() {
	if l.pc != nil {
		l.pc.Close()
	}
	if l.ln != nil {
		l.ln.Close()
	}
	l.mu.Lock()
	l.closed = true
	for _, c := range l.open {
		c.Close()
	}
	l.mu.Unlock()
	l.conns.Wait()
}

// wait returns the first message received that carries token.
func (l *listener) wait(ctx context.Context, token string) ([]byte, error) {
	if l.pc != nil {
		go l.readPackets([]byte(token))
	} else {
		go l.accept([]byte(token))
	}
	select {
	case m := <-l.found:
		return m, nil
	case err := <-l.errs:
		return nil, err
	case <-ctx.Done():
		return nil, fmt.Errorf("token not received: %w", ctx.Err())
	}
}

func (l *listener) readPackets(token []byte) {
	buf := make([]byte, MaxMessage)
	for {
		n, _, err := l.pc.ReadFrom(buf)
		if err != nil {
			l.report(nil, err)
			return
		}
		if m, ok := Carries(buf[:n], token); ok {
			l.report(m, nil)
			return
		}
	}
}

func (l *listener) accept(token []byte) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			l.report(nil, err)
			return
		}
		l.mu.Lock()
		if l.closed { // accepted just before Close
			l.mu.Unlock()
			c.Close()
			return
		}
		l.open = append(l.open, c)
		l.conns.Add(1)
		l.mu.Unlock()
		go func() {
			defer l.conns.Done()
			sc := bufio.NewScanner(c)
			sc.Buffer(make([]byte, 4096), MaxMessage+16)
			sc.Split(SplitFrames)
			for sc.Scan() {
				if m, ok := Carries(sc.Bytes(), token); ok {
					l.report(m, nil)
					return
				}
			}
		}()
	}
}

// report hands over the first outcome; later ones are dropped.
func (l *listener) report(m []byte, err error) {
	if err != nil {
		select {
		case l.errs <- err:
		default:
		}
		return
	}
	select {
	case l.found <- append([]byte(nil), m...):
	default:
	}
}

// Carries reports whether b, one received datagram or frame, holds a
// syslog message whose text contains token, and returns the message.
// A datagram may hold several messages back to back (rsyslog sends none
// with LF, others with); each is parsed.
func Carries(b, token []byte) ([]byte, bool) {
	for len(b) > 0 {
		end := bytes.IndexByte(b, '\n')
		line := b
		if end >= 0 {
			line, b = b[:end], b[end+1:]
		} else {
			b = nil
		}
		m, err := Parse(line)
		if err == nil && bytes.Contains(m.Text, token) {
			return line, true
		}
	}
	return nil, false
}

// fileError marks a failure to read the log file (as opposed to the token
// not appearing in it).
type fileError struct{ err error }

func (e *fileError) Error() string { return e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// tail reads what is appended to a log file, up to a total bound.
type tail struct {
	path  string
	f     *os.File
	off   int64
	left  int64
	carry []byte
}

// openTail opens path (a regular file, not followed through a final
// symlink) and starts at its current end.
func openTail(path string, limit int64) (*tail, error) {
	t := &tail{path: path, left: limit}
	if err := t.open(false); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *tail) open(fromStart bool) error {
	f, err := os.OpenFile(t.path, os.O_RDONLY|oNoFollow|oNonBlock, 0)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("%s: not a regular file", t.path)
	}
	if t.f != nil {
		t.f.Close()
	}
	t.f, t.off, t.carry = f, fi.Size(), nil
	if fromStart {
		t.off = 0
	}
	return nil
}

// Close closes the file.
func (t *tail) Close() { t.f.Close() }

// wait polls the file until token appears in what was appended.
func (t *tail) wait(ctx context.Context, token string) ([]byte, error) {
	tick := time.NewTicker(filePoll)
	defer tick.Stop()
	for {
		line, err := t.scan([]byte(token))
		if err != nil || line != nil {
			return line, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("token not in %s: %w", t.path, ctx.Err())
		case <-tick.C:
		}
	}
}

// scan reads what is new and returns the line holding token, if any. A
// file that shrank or was replaced (rotation) is read again from its start.
func (t *tail) scan(token []byte) ([]byte, error) {
	if fi, err := os.Stat(t.path); err == nil {
		cur, _ := t.f.Stat()
		if !os.SameFile(fi, cur) || fi.Size() < t.off {
			if err := t.open(true); err != nil {
				return nil, &fileError{err}
			}
		}
	}
	buf := make([]byte, 64<<10)
	for t.left > 0 {
		n, err := t.f.ReadAt(buf[:min(int64(len(buf)), t.left)], t.off)
		t.off += int64(n)
		t.left -= int64(n)
		data := append(t.carry, buf[:n]...)
		if i := bytes.Index(data, token); i >= 0 {
			return lineAround(data, i), nil
		}
		// Keep the unfinished last line (bounded) for a token split
		// across reads.
		if j := bytes.LastIndexByte(data, '\n'); j >= 0 {
			data = data[j+1:]
		}
		if len(data) > MaxMessage {
			data = data[len(data)-MaxMessage:]
		}
		t.carry = append([]byte(nil), data...)
		if err == io.EOF || n == 0 {
			return nil, nil
		}
		if err != nil {
			return nil, &fileError{err}
		}
	}
	return nil, &fileError{fmt.Errorf("read %d bytes of %s without the token", t.off, t.path)}
}

// lineAround returns the line of data holding index i.
func lineAround(data []byte, i int) []byte {
	start := bytes.LastIndexByte(data[:i], '\n') + 1
	end := bytes.IndexByte(data[i:], '\n')
	if end < 0 {
		return append([]byte(nil), data[start:]...)
	}
	return append([]byte(nil), data[start:i+end]...)
}
