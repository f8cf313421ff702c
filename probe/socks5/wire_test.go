package socks5

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func TestParseHostPort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want addr
		err  bool
	}{
		{in: "127.0.0.1:1080", want: addr{IP: netip.MustParseAddr("127.0.0.1"), Port: 1080}},
		{in: "[::1]:7", want: addr{IP: netip.MustParseAddr("::1"), Port: 7}},
		{in: "[::ffff:10.1.2.3]:0", want: addr{IP: netip.MustParseAddr("10.1.2.3")}},
		{in: "example.org:65535", want: addr{Name: "example.org", Port: 65535}},
		{in: "xn--nxasmq6b.example:443", want: addr{Name: "xn--nxasmq6b.example", Port: 443}},
		{in: "example.org", err: true},
		{in: "example.org:-1", err: true},
		{in: "example.org:65536", err: true},
		{in: ":80", err: true},
		{in: "[fe80::1%lo]:80", err: true},
	} {
		got, err := parseHostPort(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseHostPort(%q) = %+v, %v; want %+v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestAppendAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
	}{
		{"10.1.2.3:80", []byte{1, 10, 1, 2, 3, 0, 80}},
		{"[::1]:443", []byte{4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0xbb}},
		{"a.b:258", []byte{3, 3, 'a', '.', 'b', 1, 2}},
	} {
		a, err := parseHostPort(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		got := appendAddr(nil, a)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%s: %x, want %x", tc.in, got, tc.want)
		}
		back, n, err := parseAddr(got)
		if err != nil || n != len(got) || back != a || back.String() != tc.in {
			t.Errorf("%s: parsed back %v (%d bytes, %v)", tc.in, back, n, err)
		}
	}
}

func TestAuthMessages(t *testing.T) {
	got, err := appendAuth(nil, "alice", "secret")
	if want := []byte("\x01\x05alice\x06secret"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("appendAuth = %q, %v; want %q", got, err, want)
	}
	if _, err := appendAuth(nil, string(make([]byte, 256)), "x"); err == nil {
		t.Error("a 256-byte username was accepted")
	}
	for _, tc := range []struct {
		in   [2]byte
		want error
	}{{[2]byte{1, 0}, nil}, {[2]byte{5, 0}, nil}, {[2]byte{1, 1}, ErrAuthRejected}} {
		if err := parseAuthReply(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("parseAuthReply(%x) = %v, want %v", tc.in, err, tc.want)
		}
	}
	if err := parseAuthReply([2]byte{2, 0}); err == nil {
		t.Error("version 2 was accepted")
	}
}

func TestUDPHeader(t *testing.T) {
	for _, target := range []string{"192.0.2.1:53", "[2001:db8::1]:53", "dns.example:53"} {
		a, err := parseHostPort(target)
		if err != nil {
			t.Fatal(err)
		}
		datagram := append(appendUDPHeader(nil, a), "query"...)
		hdr, data, err := parseUDPHeader(datagram)
		if err != nil || hdr.Frag != 0 || hdr.Addr != a || string(data) != "query" {
			t.Errorf("%s: parsed %+v %q %v", target, hdr, data, err)
		}
	}
	for _, bad := range [][]byte{nil, {0, 0, 0}, {0, 0, 0, 1, 1, 2, 3, 4, 0}, {0, 0, 0, 9, 0, 0}} {
		if _, _, err := parseUDPHeader(bad); err == nil {
			t.Errorf("parseUDPHeader(%x) succeeded", bad)
		}
	}
}

// Seeds shared by the fuzzers; more are in testdata/fuzz.
var addrSeeds = [][]byte{
	{1, 127, 0, 0, 1, 0x04, 0x38},
	{4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80},
	append(append([]byte{3, 11}, "example.org"...), 0, 25),
	{3, 0, 0, 80},
	{3, 255},
	{2},
	{},
}

func FuzzParseAddr(f *testing.F) {
	for _, s := range addrSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, n, err := parseAddr(b)
		if err != nil {
			return
		}
		if n > len(b) {
			t.Fatalf("length %d beyond the %d bytes given", n, len(b))
		}
		if re := appendAddr(nil, a); !bytes.Equal(re, b[:n]) {
			t.Fatalf("%x parsed as %v, encoded back as %x", b[:n], a, re)
		}
		if !a.IP.IsValid() {
			return // a name may hold any bytes, so host:port need not parse
		}
		if back, err := parseHostPort(a.String()); err != nil || back != (addr{IP: a.IP.Unmap(), Port: a.Port}) {
			t.Fatalf("%v parsed back as %v (%v)", a, back, err)
		}
	})
}

func FuzzParseReply(f *testing.F) {
	for _, s := range addrSeeds {
		f.Add(append([]byte{5, 0, 0}, s...))
	}
	f.Add([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0, 'd', 'a', 't', 'a'})
	f.Add([]byte{5, 2})
	f.Add([]byte{4, 0x5a, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, n, err := parseReply(b)
		// readReply reads the same bytes from a stream, and no further.
		r := bytes.NewReader(b)
		srep, serr := readReply(r)
		if err != nil {
			if serr == nil && srep.Code == 0 {
				t.Fatalf("readReply accepted %x that parseReply refused: %v", b, err)
			}
			return
		}
		if serr != nil || srep != rep || int(r.Size())-r.Len() != n {
			t.Fatalf("readReply = %+v, %v after %d bytes; parseReply = %+v after %d", srep, serr, int(r.Size())-r.Len(), rep, n)
		}
		if re := appendAddr([]byte{5, rep.Code, b[2]}, rep.Bound); !bytes.Equal(re, b[:n]) {
			t.Fatalf("%x parsed as %+v, encoded back as %x", b[:n], rep, re)
		}
	})
}

func FuzzParseUDPHeader(f *testing.F) {
	for _, s := range addrSeeds {
		f.Add(append(append([]byte{0, 0, 0}, s...), "data"...))
	}
	f.Add([]byte{0, 0, 1, 1, 127, 0, 0, 1, 0, 7, 'x'})
	f.Add([]byte{0xff, 0xff, 0, 1, 127, 0, 0, 1, 0, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		hdr, data, err := parseUDPHeader(b)
		if err != nil {
			return
		}
		re := append(appendUDPHeader(nil, hdr.Addr), data...)
		re[0], re[1], re[2] = b[0], b[1], hdr.Frag
		if !bytes.Equal(re, b) {
			t.Fatalf("%x parsed as %+v %x, encoded back as %x", b, hdr, data, re)
		}
	})
}

func FuzzParseHostPort(f *testing.F) {
	for _, s := range []string{"127.0.0.1:1080", "[::1]:80", "example.org:25", "[::ffff:1.2.3.4]:0", "a:b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseHostPort(s)
		if err != nil {
			return
		}
		wire := appendAddr(nil, a)
		back, n, err := parseAddr(wire)
		if err != nil || n != len(wire) {
			t.Fatalf("%q encoded as %x, which does not parse: %v", s, wire, err)
		}
		if back != a {
			t.Fatalf("%q: %+v came back as %+v", s, a, back)
		}
	})
}
