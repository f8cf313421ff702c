package dns

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// server answers on a loopback UDP and TCP port with handle.
func server(t *testing.T, handle mdns.HandlerFunc) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	u := &mdns.Server{PacketConn: pc, Handler: handle}
	tc := &mdns.Server{Listener: ln, Handler: handle}
	go u.ActivateAndServe()
	go tc.ActivateAndServe()
	t.Cleanup(func() { _ = u.Shutdown(); _ = tc.Shutdown() })
	return pc.LocalAddr().String()
}

func answerA(w mdns.ResponseWriter, r *mdns.Msg) {
	m := new(mdns.Msg)
	m.SetReply(r)
	rr, _ := mdns.NewRR(r.Question[0].Name + " 5 IN A 192.0.2.1")
	m.Answer = append(m.Answer, rr)
	if o := r.IsEdns0(); o != nil {
		m.SetEdns0(o.UDPSize(), false)
	}
	_ = w.WriteMsg(m)
}

func ctx(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

func stage(err error) Stage {
	var e *Error
	if errors.As(err, &e) {
		return e.Stage
	}
	return ""
}

// TestProbeHealthy: an answer with the expected record passes, over UDP
// and TCP, with EDNS, and with the expected value.
func TestProbeHealthy(t *testing.T) {
	addr := server(t, answerA)
	for _, cfg := range []Config{
		{Server: addr, Name: "svc.lab", ExpectAnswer: true},
		{Server: addr, Name: "svc.lab", ExpectAnswer: true, TCP: true},
		{Server: addr, Name: "svc.lab", ExpectAnswer: true, EDNS: 1232, ExpectValue: "192.0.2.1"},
	} {
		res, err := Probe(ctx(t, 2*time.Second), cfg)
		if err != nil || res.Answers != 1 {
			t.Errorf("%+v: %v %+v", cfg, err, res)
		}
	}
}

// TestProbeFailures names the stage of each failure: SERVFAIL (rcode), a
// NOERROR without an answer or with another value (answer), garbage
// bytes, silence and a closed port (exchange), a bad server (config).
func TestProbeFailures(t *testing.T) {
	servfail := server(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetRcode(r, mdns.RcodeServerFailure)
		_ = w.WriteMsg(m)
	})
	empty := server(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		_ = w.WriteMsg(m)
	})
	good := server(t, answerA)
	garbage, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer garbage.Close()
	go func() {
		b := make([]byte, 512)
		for {
			n, a, err := garbage.ReadFrom(b)
			if err != nil {
				return
			}
			_, _ = garbage.WriteTo(append([]byte{b[0], b[1]}, []byte("\x81\x80garbage that is not DNS")...), a)
			_ = n
		}
	}()
	silent, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer silent.Close()
	closed, _ := net.ListenPacket("udp", "127.0.0.1:0")
	closedAddr := closed.LocalAddr().String()
	closed.Close()
	for _, tc := range []struct {
		cfg  Config
		want Stage
	}{
		{Config{Server: servfail, Name: "svc.lab", ExpectAnswer: true}, StageRcode},
		{Config{Server: empty, Name: "svc.lab", ExpectAnswer: true}, StageAnswer},
		{Config{Server: good, Name: "svc.lab", ExpectValue: "192.0.2.9"}, StageAnswer},
		{Config{Server: garbage.LocalAddr().String(), Name: "svc.lab"}, StageExchange},
		{Config{Server: silent.LocalAddr().String(), Name: "svc.lab"}, StageExchange},
		{Config{Server: closedAddr, Name: "svc.lab"}, StageExchange},
		{Config{Server: "not an address", Name: "svc.lab"}, StageConfig},
	} {
		start := time.Now()
		_, err := Probe(ctx(t, 300*time.Millisecond), tc.cfg)
		if got := stage(err); got != tc.want {
			t.Errorf("%+v: stage %q (%v), want %q", tc.cfg, got, err, tc.want)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%+v: took %v, its context allowed 300ms", tc.cfg, took)
		}
	}
	// SERVFAIL expected (a probe of a broken zone) passes.
	if _, err := Probe(ctx(t, time.Second), Config{Server: servfail, Name: "x.lab", ExpectRcode: mdns.RcodeServerFailure}); err != nil {
		t.Errorf("expected SERVFAIL: %v", err)
	}
}

// TestParse covers the names of rcodes and types.
func TestParse(t *testing.T) {
	if rc, err := ParseRcode("servfail"); err != nil || rc != 2 {
		t.Errorf("servfail: %d %v", rc, err)
	}
	for _, bad := range []string{"", "NOPE", "-1", "4096", "02"} {
		if _, err := ParseRcode(bad); err == nil {
			t.Errorf("rcode %q accepted", bad)
		}
	}
	if ty, err := ParseType("aaaa"); err != nil || ty != mdns.TypeAAAA {
		t.Errorf("aaaa: %d %v", ty, err)
	}
	if _, err := ParseType("BOGUS"); err == nil {
		t.Error("type BOGUS accepted")
	}
	for in, want := range map[string]string{"127.0.0.1": "127.0.0.1:53", "::1": "[::1]:53", "[::1]": "[::1]:53", "127.0.0.1:5353": "127.0.0.1:5353"} {
		if got, err := ServerAddr(in); err != nil || got != want {
			t.Errorf("ServerAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// FuzzCheck feeds arbitrary bytes as an answer: unpacking and Check must
// never panic, and a message that passes has the expected record.
func FuzzCheck(f *testing.F) {
	q := Query(Config{Name: "svc.lab", Recursive: true})
	m := new(mdns.Msg)
	m.SetReply(q)
	rr, _ := mdns.NewRR("svc.lab. 5 IN A 192.0.2.1")
	m.Answer = append(m.Answer, rr)
	b, _ := m.Pack()
	f.Add(b)
	m.Rcode = mdns.RcodeServerFailure
	b, _ = m.Pack()
	f.Add(b)
	f.Add([]byte("\x00\x01\x81\x80garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := new(mdns.Msg)
		if err := in.Unpack(data); err != nil {
			return
		}
		cfg := Config{Name: "svc.lab", ExpectAnswer: true, ExpectValue: "192.0.2.1"}
		if err := Check(cfg, in); err == nil {
			found := false
			for _, rr := range in.Answer {
				if a, ok := rr.(*mdns.A); ok && a.A.String() == "192.0.2.1" {
					found = true
				}
			}
			if !found || in.Rcode != 0 {
				t.Fatalf("Check passed a message without the record: %v", in)
			}
		}
	})
}
