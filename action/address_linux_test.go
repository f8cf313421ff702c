//go:build linux

package action

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestAddressDownAddsBack: where promote_secondaries cannot be set (a
// read-only /proc/sys in a container), removing the subnet's primary
// address still removes the others with it; Down adds them back, saying
// so, and leaves only its own address removed.
func TestAddressDownAddsBack(t *testing.T) {
	testenv.RequireRoot(t)
	ns, peer := testenv.NewNS(t, "cad"), testenv.NewNS(t, "cae")
	testenv.Veth(t, ns, "eth0", "10.221.0.1/24", peer, "eth0", "10.221.0.2/24")
	ns.MustRun(t, "sysctl", "-qw", "net.ipv4.conf.all.promote_secondaries=0", "net.ipv4.conf.eth0.promote_secondaries=0")
	old := promoteSecondaries
	promoteSecondaries = func(string) (bool, error) { return false, errors.New("read-only file system") }
	defer func() { promoteSecondaries = old }()
	var logged []string
	logf := func(format string, a ...any) { logged = append(logged, fmt.Sprintf(format, a...)) }
	vip := &Address{Interface: "eth0", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.222.0.50/24")}, Log: logf}
	other := &Address{Interface: "eth0", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.222.0.51/24")}}
	err := ns.Within(func() error {
		if err := vip.Up(context.Background()); err != nil {
			return err
		}
		if err := other.Up(context.Background()); err != nil {
			return err
		}
		return vip.Down(context.Background())
	})
	if err != nil {
		t.Fatal(err)
	}
	addrs := ns.MustRun(t, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
	if strings.Contains(addrs, " 10.222.0.50/") || !strings.Contains(addrs, " 10.222.0.51/24") || !strings.Contains(addrs, " 10.221.0.1/24") {
		t.Errorf("after Down, want 10.222.0.51 and 10.221.0.1 only:\n%s", addrs)
	}
	if all := strings.Join(logged, "\n"); !strings.Contains(all, "added back 10.222.0.51/24 to eth0") {
		t.Errorf("log %q does not say what was added back", all)
	}
}

// TestAddressDownWhileAddressesChange (adv4 R7: Down listed the
// interface's addresses around its removal, and an address added or
// removed anywhere meanwhile made the kernel flag the dump interrupted:
// Down failed although its address was gone, and skipped adding back what
// the kernel removed): with thousands of addresses and another program
// changing one, every Up and Down succeeds.
func TestAddressDownWhileAddressesChange(t *testing.T) {
	testenv.RequireRoot(t)
	ns, peer := testenv.NewNS(t, "caf"), testenv.NewNS(t, "cag")
	testenv.Veth(t, ns, "eth0", "10.225.0.1/24", peer, "eth0", "10.225.0.2/24")
	var batch strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&batch, "addr add 10.77.%d.%d/32 dev lo\n", i/250, i%250+1)
	}
	file := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(file, []byte(batch.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ns.MustRun(t, "ip", "-batch", file)
	ns.Start(t, "sh", "-c", "while :; do ip addr add 10.99.0.1/32 dev lo; ip addr del 10.99.0.1/32 dev lo; done")
	vip := &Address{Interface: "eth0", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.225.1.50/24")}}
	for i := range 20 {
		err := ns.Within(func() error {
			if err := vip.Up(context.Background()); err != nil {
				return err
			}
			return vip.Down(context.Background())
		})
		if err != nil {
			t.Errorf("round %d: %v", i, err)
		}
	}
}
