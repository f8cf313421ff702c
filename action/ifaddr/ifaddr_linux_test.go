//go:build linux

package ifaddr

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestAddFlagsAndMark: Add marks the address (Owned lists it, not the
// administrator's), applies flags above the first eight (IPv6
// noprefixroute, through IFA_FLAGS), refuses an address that is there
// with EEXIST whoever added it, and Remove takes it away.
func TestAddFlagsAndMark(t *testing.T) {
	testenv.RequireRoot(t)
	ns := testenv.NewNS(t, "ifa")
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	ns.MustRun(t, "ip", "addr", "add", "192.0.2.9/32", "dev", "lo")
	v4, v6 := netip.MustParsePrefix("192.0.2.53/32"), netip.MustParsePrefix("2001:db8::53/128")
	var owned []netip.Prefix
	err := ns.Within(func() error {
		lo, err := net.InterfaceByName("lo")
		if err != nil {
			return err
		}
		if err := Add(lo.Index, v4, 248, 0); err != nil {
			return err
		}
		if err := Add(lo.Index, v6, 248, unix.IFA_F_NODAD|unix.IFA_F_NOPREFIXROUTE); err != nil {
			return err
		}
		for _, p := range []netip.Prefix{v4, netip.MustParsePrefix("192.0.2.9/32")} {
			if err := Add(lo.Index, p, 248, 0); !errors.Is(err, unix.EEXIST) {
				t.Errorf("adding %s again: %v, want EEXIST", p, err)
			}
		}
		if err := Add(lo.Index, v4, 0, 0); err == nil {
			t.Error("Add with protocol 0 succeeded")
		}
		owned, err = Owned("lo", 248)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(owned, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	if !slices.Equal(owned, []netip.Prefix{v4, v6}) {
		t.Errorf("Owned: %v, want %v and %v", owned, v4, v6)
	}
	if out := ns.MustRun(t, "ip", "-6", "addr", "show", "dev", "lo"); !strings.Contains(out, "2001:db8::53/128 scope global nodad noprefixroute") {
		t.Errorf("the IPv6 address lacks its flags:\n%s", out)
	}
	if err := ns.Within(func() error { return Remove("lo", owned) }); err != nil {
		t.Fatal(err)
	}
	out := ns.MustRun(t, "ip", "-o", "addr", "show", "dev", "lo")
	if strings.Contains(out, "192.0.2.53") || strings.Contains(out, "2001:db8::53") || !strings.Contains(out, "192.0.2.9/32") {
		t.Errorf("after Remove want only the administrator's 192.0.2.9 left:\n%s", out)
	}
}

// FuzzParseAddr feeds parseAddr arbitrary RTM_NEWADDR payloads: it never
// panics, and an address it returns fits its prefix length.
func FuzzParseAddr(f *testing.F) {
	for _, p := range []netip.Prefix{netip.MustParsePrefix("192.0.2.53/32"), netip.MustParsePrefix("2001:db8::53/128")} {
		req := addrMsg(unix.RTM_NEWADDR, 0, 1, p, 248, 0)
		b := req.Serialize()
		f.Add(b[unix.SizeofNlMsghdr:])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, m []byte) {
		a, ok := parseAddr(m, 1)
		if ok && !a.Prefix.IsValid() {
			t.Errorf("invalid prefix %v from %x", a.Prefix, m)
		}
	})
}
