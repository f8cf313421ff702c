//go:build linux

package route

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestInterface asks the kernel of a namespace with two links, one with
// an IPv4 and one with an IPv6 prefix, and no default route.
func TestInterface(t *testing.T) {
	ns := testenv.NewNS(t, "rt")
	ns.MustRun(t, "ip", "link", "add", "r4", "type", "veth", "peer", "name", "r6")
	ns.MustRun(t, "ip", "addr", "add", "10.1.0.1/24", "dev", "r4")
	ns.MustRun(t, "ip", "addr", "add", "fd01::1/64", "dev", "r6", "nodad")
	for _, link := range []string{"r4", "r6"} {
		ns.MustRun(t, "ip", "link", "set", link, "up")
	}
	for _, tc := range []struct{ addr, want string }{
		{"10.1.0.9", "r4"},
		{"fd01::9", "r6"},
		{"127.0.0.1", "lo"},
		{"10.1.0.1", "lo"}, // a local address: the kernel answers lo
		{"192.0.2.1", ""},  // no route
		{"2001:db8::1", ""},
	} {
		var ifi *net.Interface
		err := ns.Within(func() (err error) {
			ifi, err = Interface(netip.MustParseAddr(tc.addr))
			return err
		})
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("Interface(%s) = %s, want an error", tc.addr, ifi.Name)
		case tc.want != "" && (err != nil || ifi.Name != tc.want):
			t.Errorf("Interface(%s) = %v, %v; want %s", tc.addr, ifi, err, tc.want)
		}
	}
}

// TestParseOIF reads RTA_OIF after other attributes and rejects short
// bodies.
func TestParseOIF(t *testing.T) {
	body := request(netip.MustParseAddr("10.1.0.9")) // rtmsg + RTA_DST
	oif := binary.NativeEndian.AppendUint16(nil, 8)  // attribute length
	oif = binary.NativeEndian.AppendUint16(oif, unix.RTA_OIF)
	oif = binary.NativeEndian.AppendUint32(oif, 7)
	if index, ok := parseOIF(append(body, oif...)); !ok || index != 7 {
		t.Errorf("parseOIF = %d, %v; want 7", index, ok)
	}
	if _, ok := parseOIF(body); ok {
		t.Error("parseOIF found an interface in a body without RTA_OIF")
	}
	if _, ok := parseOIF(body[:5]); ok {
		t.Error("parseOIF accepted a truncated rtmsg")
	}
}
