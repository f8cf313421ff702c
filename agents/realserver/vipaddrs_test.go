package realserver

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	got, err := Parse([]byte("# VIPs\n192.0.2.10\n 192.0.2.11  # second\n\n192.0.2.10\n198.51.100.0/30\n2001:db8::10\n2001:db8:1::/126\r\n10.1.1.1/32\n"))
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, a := range got {
		s = append(s, a.String())
	}
	want := "192.0.2.10 192.0.2.11 198.51.100.0 198.51.100.1 198.51.100.2 198.51.100.3 2001:db8::10 " +
		"2001:db8:1:: 2001:db8:1::1 2001:db8:1::2 2001:db8:1::3 10.1.1.1"
	if strings.Join(s, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(s, " "), want)
	}
}

func TestParseExpandsWholeSubnets(t *testing.T) {
	got, err := Parse([]byte("10.9.0.0/24\n10.9.1.0/24\n10.9.2.0/24\n10.9.3.0/24\nfd00::/120\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4*256+256 {
		t.Fatalf("%d addresses, want %d", len(got), 5*256)
	}
	if got[0] != netip.MustParseAddr("10.9.0.0") || got[1023] != netip.MustParseAddr("10.9.3.255") || got[1279] != netip.MustParseAddr("fd00::ff") {
		t.Errorf("ends %v %v %v", got[0], got[1023], got[1279])
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.0.0.1\n10.0.0.0/23\n", "line 2: bad vipaddrs entry: \"10.0.0.0/23\": subnets are /24 or longer (256 addresses at most)"},
		{"fd00::/119", "line 1: bad vipaddrs entry: \"fd00::/119\": subnets are /120 or longer"},
		{"www.example.com", "line 1: bad vipaddrs entry: \"www.example.com\" is not an IP address or subnet"},
		{"\n\n10.0.0.1 junk", "line 3: bad vipaddrs entry: \"10.0.0.1 junk\" is not"},
		{"10.0.0.1/33", "line 1: bad vipaddrs entry: \"10.0.0.1/33\" is not"},
		{"10.0.0.5/24", "has host bits set (the subnet is 10.0.0.0/24)"},
		{"10.0.0.1-10.0.0.9", "is not an IP address"},
		{"10.0.0.1;", "is not an IP address"},
		{"010.0.0.1", "is not an IP address"},
		{"::ffff:10.0.0.1", "IPv4-mapped"},
		{"fe80::1%lo", "has a zone"},
		{"fe80::1", "link-local"},
		{"127.0.0.2", "loopback"},
		{"::1", "loopback"},
		{"0.0.0.0", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"255.255.255.0/24", "240.0.0.0/4 (reserved)"},
		{"0.0.0.1", "0.0.0.0/8"},
		{"0.1.2.0/24", "0.0.0.0/8"},
		{"240.0.0.1", "240.0.0.0/4"},
		{"239.255.255.255", "multicast"},
		{"fe80::/120", "link-local"},
		{"::/120", "unspecified"},
		{"::ffff:10.0.0.0/120", "IPv4-mapped"},
		{strings.Repeat("x", 100000), `"` + strings.Repeat("x", 64) + `"...`},
	} {
		_, err := Parse([]byte(tc.in))
		if err != nil && len(err.Error()) > 200 {
			t.Errorf("Parse(%.20q...): a message of %d bytes", tc.in, len(err.Error()))
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestParseBounded(t *testing.T) {
	var b strings.Builder
	for i := 0; i < MaxAddresses/256+1; i++ {
		b.WriteString(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}).String() + "/24\n")
	}
	if _, err := Parse([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "more than 16384 addresses") {
		t.Fatalf("got %v", err)
	}
}

func TestParseList(t *testing.T) {
	got, err := ParseList("10.0.0.1, 10.0.0.2 10.0.0.0/31,,fd00::1")
	if err != nil || len(got) != 4 {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParseList("10.0.0.1,10.0.0.0/16"); err == nil {
		t.Fatal("a /16 inline was accepted")
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.vipaddrs")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		addrs, err := Parse(data)
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 || !errors.Is(err, ErrSyntax) {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		if len(addrs) > MaxAddresses {
			t.Fatalf("%d addresses", len(addrs))
		}
		seen := map[netip.Addr]bool{}
		for _, a := range addrs {
			if seen[a] || !a.IsValid() || a.Zone() != "" || a.Is4In6() || checkVIP(a, "") != nil {
				t.Fatalf("bad or duplicate address %v", a)
			}
			seen[a] = true
		}
		// Every address parses again, alone.
		for _, a := range addrs[:min(len(addrs), 8)] {
			if again, err := Parse([]byte(a.String())); err != nil || len(again) != 1 || again[0] != a {
				t.Fatalf("%v does not parse back: %v %v", a, again, err)
			}
		}
	})
}
