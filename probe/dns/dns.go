// Package dns probes a DNS server natively (miekg/dns): one query over UDP
// or TCP, optionally with EDNS, checked for an expected rcode and,
// optionally, an expected answer. It knows nothing of the program that
// uses it: the result names the stage that failed.
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// Stage names the step of a probe that failed.
type Stage string

// Stages of a probe, in order.
const (
	StageConfig   Stage = "config"   // the probe's own configuration is wrong
	StageExchange Stage = "exchange" // no answer: refused, timed out, not DNS
	StageRcode    Stage = "rcode"    // an answer with another rcode than expected
	StageAnswer   Stage = "answer"   // the rcode was right, the answer section was not
)

// Error is a failed probe: the stage and why.
type Error struct {
	Stage Stage
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("dns %s: %v", e.Stage, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// ErrNoAnswer is wrapped by an answer-stage error when the answer section
// holds no record of the queried type.
var ErrNoAnswer = errors.New("no answer record")

// Config is one query and what its answer must be.
type Config struct {
	// Server is the address of the server, with or without a port (53).
	Server string
	// Name is the name queried; "." when empty.
	Name string
	// Type is the query type (mdns.TypeA...); A when zero.
	Type uint16
	// TCP sends the query over TCP instead of UDP.
	TCP bool
	// EDNS adds an OPT record with this UDP size; 0: no EDNS.
	EDNS uint16
	// Recursive sets RD (recursion desired).
	Recursive bool
	// ExpectRcode is the rcode the answer must have (NOERROR = 0).
	ExpectRcode int
	// ExpectAnswer requires at least one record of the queried type in the
	// answer section (for NOERROR).
	ExpectAnswer bool
	// ExpectValue, if not empty, must be the text (A/AAAA address, CNAME,
	// TXT...) of one of those records.
	ExpectValue string
}

// Result is what the probe saw.
type Result struct {
	Rcode   int
	Answers int
	RTT     time.Duration
}

// Probe sends the query and checks its answer; ctx bounds it.
func Probe(ctx context.Context, cfg Config) (Result, error) {
	server, err := ServerAddr(cfg.Server)
	if err != nil {
		return Result{}, &Error{StageConfig, err}
	}
	m := Query(cfg)
	c := &mdns.Client{Net: "udp"}
	if cfg.TCP {
		c.Net = "tcp"
	}
	if dl, ok := ctx.Deadline(); ok {
		c.Timeout = time.Until(dl)
	}
	start := time.Now()
	in, _, err := c.ExchangeContext(ctx, m, server)
	res := Result{RTT: time.Since(start)}
	if err != nil {
		return res, &Error{StageExchange, err}
	}
	if in.Id != m.Id || !in.Response {
		return res, &Error{StageExchange, fmt.Errorf("not an answer to the query")}
	}
	res.Rcode, res.Answers = in.Rcode, len(in.Answer)
	return res, Check(cfg, in)
}

// Query builds the query message of cfg.
func Query(cfg Config) *mdns.Msg {
	m := new(mdns.Msg)
	t := cfg.Type
	if t == 0 {
		t = mdns.TypeA
	}
	m.SetQuestion(mdns.Fqdn(name(cfg.Name)), t)
	m.RecursionDesired = cfg.Recursive
	if cfg.EDNS > 0 {
		m.SetEdns0(cfg.EDNS, false)
	}
	return m
}

func name(n string) string {
	if n == "" {
		return "."
	}
	return n
}

// Check decides whether the answer in meets cfg's expectations.
func Check(cfg Config, in *mdns.Msg) error {
	if in.Rcode != cfg.ExpectRcode {
		return &Error{StageRcode, fmt.Errorf("rcode %s, want %s", rcodeName(in.Rcode), rcodeName(cfg.ExpectRcode))}
	}
	if !cfg.ExpectAnswer && cfg.ExpectValue == "" {
		return nil
	}
	t := cfg.Type
	if t == 0 {
		t = mdns.TypeA
	}
	found := 0
	for _, rr := range in.Answer {
		if rr.Header().Rrtype != t {
			continue
		}
		found++
		if cfg.ExpectValue == "" || value(rr) == cfg.ExpectValue {
			return nil
		}
	}
	if found == 0 {
		return &Error{StageAnswer, fmt.Errorf("%w of type %s for %s", ErrNoAnswer, mdns.TypeToString[t], name(cfg.Name))}
	}
	return &Error{StageAnswer, fmt.Errorf("no %s record for %s is %q", mdns.TypeToString[t], name(cfg.Name), cfg.ExpectValue)}
}

// value is the text of a record's data, without its header.
func value(rr mdns.RR) string {
	switch r := rr.(type) {
	case *mdns.A:
		return r.A.String()
	case *mdns.AAAA:
		return r.AAAA.String()
	case *mdns.CNAME:
		return r.Target
	case *mdns.TXT:
		return strings.Join(r.Txt, "")
	}
	s := rr.String()
	h := rr.Header().String()
	return strings.TrimSpace(strings.TrimPrefix(s, h))
}

func rcodeName(rc int) string {
	if s, ok := mdns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

// ParseRcode reads an rcode name (NOERROR, SERVFAIL...) or number.
func ParseRcode(s string) (int, error) {
	if rc, ok := mdns.StringToRcode[strings.ToUpper(s)]; ok {
		return rc, nil
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && n >= 0 && n <= 4095 && fmt.Sprint(n) == s {
		return n, nil
	}
	return 0, fmt.Errorf("unknown rcode %q", s)
}

// ParseType reads a query type name (A, AAAA, SOA...).
func ParseType(s string) (uint16, error) {
	if t, ok := mdns.StringToType[strings.ToUpper(s)]; ok && t != mdns.TypeNone {
		return t, nil
	}
	return 0, fmt.Errorf("unknown query type %q", s)
}

// ServerAddr checks a server address and adds port 53 to a bare one.
func ServerAddr(s string) (string, error) {
	if s == "" {
		return "", errors.New("no server")
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), nil
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s, nil
	}
	return "", fmt.Errorf("server %q: not an address or address:port", s)
}
