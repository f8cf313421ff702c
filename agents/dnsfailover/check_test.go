package dnsfailover

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func member(t *testing.T, addr string, k *Check) *Member {
	t.Helper()
	ap := netip.MustParseAddrPort(addr)
	k.PortNum = int(ap.Port())
	if err := k.validate(); err != nil {
		t.Fatal(err)
	}
	return &Member{Addr: ap.Addr(), Check: k}
}

func probeOnce(m *Member) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return probe(ctx, m)
}

// TestCheckTypes runs each check type against a local server: HTTP and
// HTTPS with status and body fragment, TLS send/expect, DNS.
func TestCheckTypes(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			w.Write([]byte("httpd is working\n"))
			return
		}
		http.NotFound(w, r)
	})
	plain := httptest.NewServer(h)
	defer plain.Close()
	secure := httptest.NewTLSServer(h)
	defer secure.Close()
	hp := strings.TrimPrefix(plain.URL, "http://")
	sp := strings.TrimPrefix(secure.URL, "https://")
	port := func(s string) string { _, p, _ := net.SplitHostPort(s); return p }

	for _, c := range []struct {
		name string
		m    *Member
		ok   bool
	}{
		{"http", member(t, hp, &Check{Type: "http", Port: port(hp), Path: "/robots.txt", Expect: "httpd is working"}), true},
		{"http wrong body", member(t, hp, &Check{Type: "http", Port: port(hp), Path: "/robots.txt", Expect: "nope"}), false},
		{"http 404", member(t, hp, &Check{Type: "http", Port: port(hp), Path: "/missing"}), false},
		{"http 404 expected", member(t, hp, &Check{Type: "http", Port: port(hp), Path: "/missing", Status: 404}), true},
		{"https", member(t, sp, &Check{Type: "https", Port: port(sp), Path: "/robots.txt", Expect: "working", Insecure: true}), true},
		{"https unverified certificate", member(t, sp, &Check{Type: "https", Port: port(sp), Path: "/robots.txt"}), false},
		{"tls send-expect", member(t, sp, &Check{Type: "tls", Port: port(sp), Send: "GET /robots.txt HTTP/1.0", Expect: "httpd is working", Insecure: true}), true},
		{"send-expect", member(t, hp, &Check{Type: "send-expect", Port: port(hp), Send: "GET /robots.txt HTTP/1.0", Expect: "httpd is working"}), true},
	} {
		if err := probeOnce(c.m); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
	}

	// DNS over UDP.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if r.Question[0].Name == "www.z.test." {
			rr, _ := dns.NewRR("www.z.test. 60 IN A 192.0.2.1")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	defer srv.Shutdown()
	dp := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
	for _, c := range []struct {
		k  *Check
		ok bool
	}{
		{&Check{Type: "dns", Port: dp, Query: "www.z.test"}, true},
		{&Check{Type: "dns", Port: dp, Query: "www.z.test", Expect: "192.0.2.1"}, true},
		{&Check{Type: "dns", Port: dp, Query: "www.z.test", Expect: "192.0.2.9"}, false},
		{&Check{Type: "dns", Port: dp, Query: "nx.z.test"}, false},
	} {
		if err := probeOnce(member(t, "127.0.0.1:"+dp, c.k)); (err == nil) != c.ok {
			t.Errorf("dns %+v: %v, want ok=%v", c.k, err, c.ok)
		}
	}
}
