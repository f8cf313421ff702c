//go:build linux

package action

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestOwnedAddressOnlyOurs: Up marks the addresses with the protocol
// (IFA_PROTO; Debian 12's ip cannot show it), Owned lists exactly them, and Down
// leaves an address of the same interface that someone else added.
func TestOwnedAddressOnlyOurs(t *testing.T) {
	testenv.RequireRoot(t)
	ns := testenv.NewNS(t, "own")
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	ns.MustRun(t, "ip", "addr", "add", "192.0.2.9/32", "dev", "lo")
	a := &OwnedAddress{Interface: "lo", Protocol: 200, Prefixes: []netip.Prefix{
		netip.MustParsePrefix("192.0.2.53/32"), netip.MustParsePrefix("2001:db8::53/128"), netip.MustParsePrefix("192.0.2.9/32")}}
	var owned []netip.Prefix
	err := ns.Within(func() error {
		if err := a.Up(context.Background()); err != nil {
			return err
		}
		if err := a.Up(context.Background()); err != nil { // idempotent
			return err
		}
		var err error
		owned, err = Owned("lo", 200)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(owned) != 2 {
		t.Errorf("owned %v, want the two addresses Up added", owned)
	}
	out := ns.MustRun(t, "ip", "-o", "addr", "show", "dev", "lo")
	if !strings.Contains(out, "192.0.2.53/32") {
		t.Errorf("ip addr after Up:\n%s", out)
	}
	if err := ns.Within(func() error { return a.Down(context.Background()) }); err != nil {
		t.Fatal(err)
	}
	out = ns.MustRun(t, "ip", "-o", "addr", "show", "dev", "lo")
	if strings.Contains(out, "192.0.2.53") || strings.Contains(out, "2001:db8::53") || !strings.Contains(out, "192.0.2.9/32") {
		t.Errorf("after Down want only the foreign 192.0.2.9 left:\n%s", out)
	}
}

// TestHostRouteProtocol: the route carries the protocol and Down removes
// it, but not a route to the same host of another protocol.
func TestHostRouteProtocol(t *testing.T) {
	testenv.RequireRoot(t)
	ns, peer := testenv.NewNS(t, "hra"), testenv.NewNS(t, "hrb")
	testenv.Veth(t, ns, "eth0", "10.223.0.1/24", peer, "eth0", "10.223.0.2/24")
	r := &HostRoute{Interface: "eth0", Dest: netip.MustParseAddr("198.51.100.7"), Protocol: 201}
	if err := ns.Within(func() error { return r.Up(context.Background()) }); err != nil {
		t.Fatal(err)
	}
	if out := ns.MustRun(t, "ip", "route", "show", "proto", "201"); !strings.Contains(out, "198.51.100.7 dev eth0") {
		t.Fatalf("route after Up: %q", out)
	}
	if err := ns.Within(func() error { return r.Down(context.Background()) }); err != nil {
		t.Fatal(err)
	}
	if out := ns.MustRun(t, "ip", "route", "show", "198.51.100.7"); out != "" {
		t.Errorf("route after Down: %q", out)
	}
	ns.MustRun(t, "ip", "route", "add", "198.51.100.7", "dev", "eth0", "proto", "static")
	if err := ns.Within(func() error { return r.Down(context.Background()) }); err != nil {
		t.Fatal(err)
	}
	if out := ns.MustRun(t, "ip", "route", "show", "198.51.100.7"); !strings.Contains(out, "198.51.100.7") {
		t.Errorf("Down removed a static route that is not ours")
	}
}
