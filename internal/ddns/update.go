package ddns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Change is one update of one RRset (a name and a type) on one zone:
// Expect is the RRset the caller read (the prerequisite: the update
// applies only if the server still holds exactly that set), Delete and Add
// the addresses to take out and put in.
type Change struct {
	Zone   string // fully qualified
	Name   string // fully qualified
	Type   uint16 // dns.TypeA or dns.TypeAAAA
	TTL    uint32
	Expect []netip.Addr
	Delete []netip.Addr
	Add    []netip.Addr
}

// Empty reports whether the change changes nothing.
func (c *Change) Empty() bool { return len(c.Delete) == 0 && len(c.Add) == 0 }

// ErrBadSig is wrapped by the error of an update the server refused for
// its signature (TSIG BADSIG, BADKEY or BADTIME).
var ErrBadSig = errors.New("TSIG refused")

// ErrPrereq is wrapped when the server's RRset differed from Expect.
var ErrPrereq = errors.New("prerequisite failed: the RRset changed meanwhile")

// RcodeError is an update the server answered with another rcode than
// NOERROR.
type RcodeError struct {
	Rcode     int
	TSIGError uint16
}

func (e *RcodeError) Error() string {
	s := "server answered " + dns.RcodeToString[e.Rcode]
	if e.TSIGError != 0 {
		s += " (TSIG " + dns.RcodeToString[int(e.TSIGError)] + ")"
	}
	return s
}

// Is maps TSIG failures to ErrBadSig and prerequisite failures to
// ErrPrereq.
func (e *RcodeError) Is(target error) bool {
	switch target {
	case ErrBadSig:
		return e.TSIGError == dns.RcodeBadSig || e.TSIGError == dns.RcodeBadKey || e.TSIGError == dns.RcodeBadTime
	case ErrPrereq:
		return e.Rcode == dns.RcodeNXRrset || e.Rcode == dns.RcodeYXRrset
	}
	return false
}

// Client sends updates and queries to one server over TCP.
type Client struct {
	Key     *Key // nil: unsigned
	Timeout time.Duration
	// Fudge is the TSIG time fudge (300 s when zero).
	Fudge uint16
}

// Msg builds the UPDATE message of c, unsigned.
func Msg(c *Change) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(c.Zone)
	if len(c.Expect) == 0 {
		m.RRsetNotUsed([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: c.Name, Rrtype: c.Type, Class: dns.ClassINET}}})
	} else {
		m.Used(rrs(c.Name, c.Type, 0, c.Expect))
	}
	if len(c.Delete) > 0 {
		m.Remove(rrs(c.Name, c.Type, 0, c.Delete))
	}
	if len(c.Add) > 0 {
		m.Insert(rrs(c.Name, c.Type, c.TTL, c.Add))
	}
	return m
}

func rrs(name string, t uint16, ttl uint32, addrs []netip.Addr) []dns.RR {
	out := make([]dns.RR, 0, len(addrs))
	for _, a := range addrs {
		hdr := dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
		if t == dns.TypeAAAA {
			out = append(out, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		} else {
			out = append(out, &dns.A{Hdr: hdr, A: a.AsSlice()})
		}
	}
	return out
}

func (cl *Client) dnsClient() *dns.Client {
	c := &dns.Client{Net: "tcp", Timeout: cl.Timeout}
	if cl.Key != nil {
		c.TsigSecret = map[string]string{cl.Key.Name: cl.Key.Secret}
	}
	return c
}

// Update sends c to server (host:port), signed with a fresh TSIG (time
// now) when the client has a key.
func (cl *Client) Update(ctx context.Context, server string, c *Change) error {
	m := Msg(c)
	if cl.Key != nil {
		fudge := cl.Fudge
		if fudge == 0 {
			fudge = 300
		}
		m.SetTsig(cl.Key.Name, cl.Key.Algorithm, fudge, time.Now().Unix())
	}
	r, _, err := cl.dnsClient().ExchangeContext(ctx, m, server)
	if r != nil && r.Rcode != dns.RcodeSuccess {
		e := &RcodeError{Rcode: r.Rcode}
		if t := r.IsTsig(); t != nil {
			e.TSIGError = t.Error
		}
		return e
	}
	if err != nil {
		if errors.Is(err, dns.ErrSig) || errors.Is(err, dns.ErrAuth) {
			return fmt.Errorf("%w: reply signature: %v", ErrBadSig, err)
		}
		return fmt.Errorf("update to %s: %w", server, err)
	}
	return nil
}

// Query reads the addresses of name's RRset of type t from server over
// TCP. A name or type that does not exist is an empty set.
func (cl *Client) Query(ctx context.Context, server, name string, t uint16) ([]netip.Addr, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, t)
	m.RecursionDesired = false
	c := &dns.Client{Net: "tcp", Timeout: cl.Timeout}
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return nil, fmt.Errorf("query %s %s at %s: %w", name, dns.TypeToString[t], server, err)
	}
	if r.Rcode == dns.RcodeNameError {
		return nil, nil
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("query %s %s at %s: %w", name, dns.TypeToString[t], server, &RcodeError{Rcode: r.Rcode})
	}
	if !r.Authoritative {
		return nil, fmt.Errorf("query %s at %s: answer not authoritative (is it a primary for the zone?)", name, server)
	}
	var out []netip.Addr
	for _, rr := range r.Answer {
		if !strings.EqualFold(rr.Header().Name, name) {
			continue
		}
		switch rr := rr.(type) {
		case *dns.A:
			if t == dns.TypeA {
				if a, ok := netip.AddrFromSlice(rr.A.To4()); ok {
					out = append(out, a)
				}
			}
		case *dns.AAAA:
			if t == dns.TypeAAAA {
				if a, ok := netip.AddrFromSlice(rr.AAAA.To16()); ok {
					out = append(out, a)
				}
			}
		}
	}
	Sort(out)
	return out, nil
}

// Sort sorts addresses in place and drops duplicates' order dependence.
func Sort(a []netip.Addr) { sort.Slice(a, func(i, j int) bool { return a[i].Less(a[j]) }) }

// Script renders c as an nsupdate script for server (host:port), with the
// key file given to nsupdate -k.
func Script(server string, c *Change) string {
	var b strings.Builder
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		host, port = server, "53"
	}
	fmt.Fprintf(&b, "server %s %s\nzone %s\n", host, port, c.Zone)
	tname := dns.TypeToString[c.Type]
	if len(c.Expect) == 0 {
		fmt.Fprintf(&b, "prereq nxrrset %s %s\n", c.Name, tname)
	}
	for _, a := range c.Expect {
		fmt.Fprintf(&b, "prereq yxrrset %s IN %s %s\n", c.Name, tname, a)
	}
	for _, a := range c.Delete {
		fmt.Fprintf(&b, "update delete %s IN %s %s\n", c.Name, tname, a)
	}
	for _, a := range c.Add {
		fmt.Fprintf(&b, "update add %s %d IN %s %s\n", c.Name, c.TTL, tname, a)
	}
	b.WriteString("send\n")
	return b.String()
}
