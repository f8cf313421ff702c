package dnsfailover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/ocfkit/ocfkit/internal/ddns"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// fakePrimary is an in-process DNS server for edge cases of the engine
// (the lab tests use real BIND): one RRset per name, UPDATE with
// value-dependent and nxrrset prerequisites, unsigned.
type fakePrimary struct {
	// notAuth answers without the AA bit (a secondary or a resolver).
	notAuth bool
	// afterQuery, when set, runs (once) after a query is answered: another
	// writer changing the zone between our read and our update.
	afterQuery func(sets map[string][]netip.Addr)
	mu         sync.Mutex
	sets       map[string][]netip.Addr
	addr       string
}

func newFakePrimary(t *testing.T, sets map[string][]string) *fakePrimary {
	t.Helper()
	p := &fakePrimary{sets: map[string][]netip.Addr{}}
	for n, l := range sets {
		for _, a := range l {
			p.sets[n] = append(p.sets[n], netip.MustParseAddr(a))
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	srv := &dns.Server{Listener: ln, Handler: p, MsgAcceptFunc: func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return p
}

func (p *fakePrimary) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = !p.notAuth
	if r.Opcode == dns.OpcodeQuery {
		for _, a := range p.sets[r.Question[0].Name] {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: a.AsSlice()})
		}
		w.WriteMsg(m)
		if p.afterQuery != nil {
			p.afterQuery(p.sets)
			p.afterQuery = nil
		}
		return
	}
	var want []netip.Addr
	name := ""
	for _, rr := range r.Answer {
		name = rr.Header().Name
		if a, ok := rr.(*dns.A); ok && rr.Header().Class == dns.ClassINET {
			want = append(want, netip.AddrFrom4([4]byte(a.A.To4())))
		}
	}
	if name != "" && !equal(want, p.sets[name]) {
		m.Rcode = dns.RcodeNXRrset
		w.WriteMsg(m)
		return
	}
	for _, rr := range r.Ns {
		a := rr.(*dns.A)
		n, addr := rr.Header().Name, netip.AddrFrom4([4]byte(a.A.To4()))
		if rr.Header().Class == dns.ClassNONE {
			var keep []netip.Addr
			for _, b := range p.sets[n] {
				if b != addr {
					keep = append(keep, b)
				}
			}
			p.sets[n] = keep
		} else if !has(p.sets[n], addr) {
			p.sets[n] = append(p.sets[n], addr)
		}
	}
	w.WriteMsg(m)
}

func (p *fakePrimary) get(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := append([]netip.Addr(nil), p.sets[name]...)
	ddns.Sort(l)
	var s []string
	for _, a := range l {
		s = append(s, a.String())
	}
	return strings.Join(s, " ")
}

// testEngine builds an engine over primaries whose probe answers from
// healthy.
func testEngine(t *testing.T, extra string, healthy map[string]bool, primaries ...string) (*Engine, *bytes.Buffer) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "primaries = [%q", primaries[0])
	for _, p := range primaries[1:] {
		fmt.Fprintf(&b, ", %q", p)
	}
	fmt.Fprintf(&b, "]\nzone = \"z.test\"\nfall = 1\nrise = 1\ntimeout = \"300ms\"\n%s\n[[record]]\nname = \"www.z.test\"\ncheck = { type = \"send-expect\", port = \"80\" }\n", extra)
	for _, a := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"} {
		fmt.Fprintf(&b, "[[record.member]]\naddress = %q\n", a)
	}
	cfg, err := ParseConfig("t.toml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	e := newEngine(cfg, nil, newState(), &logger{stderr: &log})
	var mu sync.Mutex
	e.probe = func(_ context.Context, m *Member) error {
		mu.Lock()
		defer mu.Unlock()
		if healthy[m.Addr.String()] {
			return nil
		}
		return errors.New("down")
	}
	return e, &log
}

var all4 = map[string][]string{"www.z.test.": {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}}

// TestMaxRemovals: one removal per round at most, the others kept and
// said so.
func TestMaxRemovals(t *testing.T) {
	p := newFakePrimary(t, all4)
	e, log := testEngine(t, "max_removals = 1", map[string]bool{"10.0.0.1": true}, p.addr)
	for i, want := range []string{"10.0.0.1 10.0.0.3 10.0.0.4", "10.0.0.1 10.0.0.4", "10.0.0.1"} {
		if err := e.Round(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := p.get("www.z.test."); got != want {
			t.Fatalf("round %d: %s, want %s\n%s", i+1, got, want, log)
		}
	}
	if !strings.Contains(log.String(), "max_removals (1) reached") {
		t.Fatalf("no refusal logged:\n%s", log)
	}
}

// TestPrimariesDisagree: a primary that holds only failed members keeps
// min_records of them even when the others hold a healthy one.
func TestPrimariesDisagree(t *testing.T) {
	a := newFakePrimary(t, map[string][]string{"www.z.test.": {"10.0.0.1"}})
	b := newFakePrimary(t, map[string][]string{"www.z.test.": {"10.0.0.2"}})
	e, log := testEngine(t, "", map[string]bool{}, a.addr, b.addr)
	if err := e.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.get("www.z.test.") == "" || b.get("www.z.test.") == "" {
		t.Fatalf("a primary was emptied: %q %q\n%s", a.get("www.z.test."), b.get("www.z.test."), log)
	}
}

// TestUnmanagedRecordsStay: records of the name that are not members are
// never touched, and count towards min_records.
func TestUnmanagedRecordsStay(t *testing.T) {
	p := newFakePrimary(t, map[string][]string{"www.z.test.": {"10.0.0.1", "10.0.0.9"}})
	e, log := testEngine(t, "", map[string]bool{}, p.addr)
	if err := e.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.get("www.z.test."); got != "10.0.0.9" {
		t.Fatalf("got %s, want only the unmanaged 10.0.0.9\n%s", got, log)
	}
}

// TestHostilePrimaries: a primary answering garbage, one that never
// answers and one that is not authoritative are each reported, within the
// timeout, and change nothing; the good primary is still updated.
func TestHostilePrimaries(t *testing.T) {
	good := newFakePrimary(t, all4)
	garbage := listen(t, func(c net.Conn) { c.Write([]byte("\x00\x05hello, this is not DNS")) })
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	silent := listen(t, func(c net.Conn) { <-hold })
	huge := listen(t, func(c net.Conn) { c.Write([]byte{0xff, 0xff}); c.Write(bytes.Repeat([]byte{0xc0}, 65535)) })
	resolver := newFakePrimary(t, all4)
	resolver.notAuth = true
	e, log := testEngine(t, "", map[string]bool{"10.0.0.1": true, "10.0.0.2": true, "10.0.0.3": true}, good.addr, garbage, silent, huge, resolver.addr)
	start := time.Now()
	err := e.Round(context.Background())
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("round took %v with hostile primaries", took)
	}
	for _, p := range []string{garbage, silent, huge, resolver.addr} {
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("primary %s not reported: %v", p, err)
		}
	}
	if got := good.get("www.z.test."); got != "10.0.0.1 10.0.0.2 10.0.0.3" {
		t.Fatalf("good primary: %s\n%s", got, log)
	}
	if got := resolver.get("www.z.test."); got != "10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4" {
		t.Fatalf("a server that is not authoritative was updated: %s", got)
	}
}

func listen(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	return testenv.ServeLoopback(t, func(c net.Conn) { drain(c); fn(c) })
}

// drain reads the query's length and body so the peer's write succeeds.
func drain(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(time.Second))
	b := make([]byte, 512)
	c.Read(b)
}

// TestRestartBeforeRemoval: a member that fails gets its restart (an exec
// action here) and stays when it answers after it; within the backoff no
// second restart is tried and it is removed.
func TestRestartBeforeRemoval(t *testing.T) {
	p := newFakePrimary(t, all4)
	flag := t.TempDir() + "/healthy"
	var b strings.Builder
	fmt.Fprintf(&b, "primaries = [%q]\nzone = \"z.test\"\nfall = 1\nrise = 1\ntimeout = \"2s\"\n[[record]]\nname = \"www.z.test\"\n", p.addr)
	for _, a := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"} {
		fmt.Fprintf(&b, "[[record.member]]\naddress = %q\ncheck = { type = \"exec\", command = [\"/usr/bin/test\", \"-e\", %q] }\n", a, flag+"-"+a)
		fmt.Fprintf(&b, "restart = { type = \"exec\", command = [\"/usr/bin/touch\", %q], backoff = \"1h\" }\n", flag+"-"+a)
	}
	cfg, err := ParseConfig("t.toml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	e := newEngine(cfg, nil, newState(), &logger{stderr: &log})
	if err := e.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.get("www.z.test."); got != "10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4" || strings.Count(log.String(), "healthy again after a restart") != 4 {
		t.Fatalf("after restarts: %s\n%s", got, log.String())
	}
	// 10.0.0.2 fails again: its backoff forbids a second restart.
	if err := removeFile(flag + "-10.0.0.2"); err != nil {
		t.Fatal(err)
	}
	if err := e.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.get("www.z.test."); got != "10.0.0.1 10.0.0.3 10.0.0.4" {
		t.Fatalf("within the backoff: %s\n%s", got, log.String())
	}
}

// TestRaceWithAnotherWriter: the RRset changes between our read and our
// update; the update's prerequisite (the whole RRset as read) fails, so
// nothing is changed on a set we did not see, and the next round applies
// the change to the new set.
func TestRaceWithAnotherWriter(t *testing.T) {
	p := newFakePrimary(t, all4)
	p.afterQuery = func(sets map[string][]netip.Addr) {
		sets["www.z.test."] = append(sets["www.z.test."], netip.MustParseAddr("10.0.0.9"))
	}
	e, log := testEngine(t, "", map[string]bool{"10.0.0.1": true, "10.0.0.2": true, "10.0.0.3": true}, p.addr)
	err := e.Round(context.Background())
	if err == nil || !strings.Contains(err.Error(), "changed since it was read") {
		t.Fatalf("round: %v, want the prerequisite failure\n%s", err, log)
	}
	if got := p.get("www.z.test."); got != "10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.9" {
		t.Fatalf("changed a set it had not read: %s", got)
	}
	if err := e.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.get("www.z.test."); got != "10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.9" {
		t.Fatalf("next round: %s", got)
	}
}

// TestTransitioning: a member that failed without reaching fall, or
// answered without reaching rise, makes the next round come at
// fast_interval; settled members do not.
func TestTransitioning(t *testing.T) {
	p := newFakePrimary(t, all4)
	healthy := map[string]bool{"10.0.0.1": true, "10.0.0.2": true, "10.0.0.3": true, "10.0.0.4": true}
	e, _ := testEngine(t, "", healthy, p.addr)
	e.cfg.Fall, e.cfg.Rise = 2, 2
	if err := e.Round(context.Background()); err != nil || e.transitioning() {
		t.Fatalf("all healthy: %v, transitioning %v", err, e.transitioning())
	}
	healthy["10.0.0.4"] = false
	if err := e.Round(context.Background()); err != nil || !e.transitioning() {
		t.Fatalf("one failure of two: %v, transitioning %v", err, e.transitioning())
	}
	if err := e.Round(context.Background()); err != nil || e.transitioning() {
		t.Fatalf("down: %v, transitioning %v", err, e.transitioning())
	}
	healthy["10.0.0.4"] = true
	if err := e.Round(context.Background()); err != nil || !e.transitioning() {
		t.Fatalf("one success of two: %v, transitioning %v", err, e.transitioning())
	}
}

// TestColdStart: at start the primaries' set is the truth; a healthy
// member whose record is absent is added only after rise checks, and a
// present member that fails is removed only after fall checks: the first
// round changes nothing.
func TestColdStart(t *testing.T) {
	p := newFakePrimary(t, map[string][]string{"www.z.test.": {"10.0.0.1", "10.0.0.2", "10.0.0.3"}})
	e, log := testEngine(t, "", map[string]bool{"10.0.0.1": true, "10.0.0.2": true, "10.0.0.4": true}, p.addr)
	e.cfg.Fall, e.cfg.Rise = 2, 2
	if err := e.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.get("www.z.test."); got != "10.0.0.1 10.0.0.2 10.0.0.3" {
		t.Fatalf("first round changed the set: %s\n%s", got, log)
	}
	if err := e.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.get("www.z.test."); got != "10.0.0.1 10.0.0.2 10.0.0.4" {
		t.Fatalf("second round: %s\n%s", got, log)
	}
}
