//go:build linux

package carphook_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// naWatcher records unsolicited neighbour advertisements seen on eth0.
type naWatcher struct {
	mu   sync.Mutex
	seen []string // "target mac dst-mac override"
}

func watchNA(t *testing.T, ns *testenv.NS) *naWatcher {
	t.Helper()
	w := &naWatcher{}
	watchFrames(t, ns, 0x86dd, func(f ethernet.Frame) {
		if len(f.Payload) < 40 || f.Payload[6] != 58 { // next header ICMPv6
			return
		}
		plen := int(binary.BigEndian.Uint16(f.Payload[4:6]))
		if 40+plen > len(f.Payload) {
			return
		}
		m, err := ndp.ParseMessage(f.Payload[40 : 40+plen])
		if err != nil {
			return
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		if !ok || na.Solicited {
			return
		}
		mac := ""
		for _, o := range na.Options {
			if l, ok := o.(*ndp.LinkLayerAddress); ok && l.Direction == ndp.Target {
				mac = l.Addr.String()
			}
		}
		w.mu.Lock()
		w.seen = append(w.seen, fmt.Sprintf("%s %s %s %v", na.TargetAddress, mac, f.Destination, na.Override))
		w.mu.Unlock()
	})
	return w
}

// count returns how many times want was seen, and a copy of everything
// seen, both taken under the lock.
func (w *naWatcher) count(want string) (int, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range w.seen {
		if s == want {
			n++
		}
	}
	return n, append([]string(nil), w.seen...)
}

// TestAnnounceOnTheWire runs the announce action in one namespace and
// checks the frames another namespace receives: for IPv4 a gratuitous ARP
// request and reply per round, for IPv6 an unsolicited, overriding
// neighbour advertisement to all nodes per round.
func TestAnnounceOnTheWire(t *testing.T) {
	t.Parallel()
	a := testenv.NewNS(t, "cha")
	b := testenv.NewNS(t, "chb")
	for _, ns := range []*testenv.NS{a, b} {
		ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
	}
	testenv.Veth(t, a, "eth0", "10.216.0.1/24", b, "eth0", "10.216.0.2/24")
	a.MustRun(t, "ip", "addr", "add", "fd00:216::1/64", "dev", "eth0", "nodad")
	testenv.WaitFor(t, 5*time.Second, "a link-local address on a's eth0", func() error {
		out := a.MustRun(t, "ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link")
		if out == "" {
			return errNotYet
		}
		return nil
	})
	arps, nas := watchARP(t, b), watchNA(t, b)
	v4, v6 := netip.MustParseAddr("10.216.0.50"), netip.MustParseAddr("fd00:216::50")
	// Through the binary: its worker lives entirely in the namespace (Go's
	// interface-zone cache is per process, so an in-test Within would mix
	// namespaces).
	hook, _ := binaries(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.toml")
	writeFile(t, conf, fmt.Sprintf(`state_dir = "%s"
[group.g]
[[group.g.action]]
type = "announce"
interface = "eth0"
addresses = ["%s", "%s"]
count = 3
interval = "20ms"
`, dir, v4, v6), 0o644)
	a.MustRun(t, hook, "-c", conf, "apply", "g", "MASTER")
	waitSettled(t, dir, "g", "MASTER")
	mac := macOf(t, a)
	testenv.WaitFor(t, 5*time.Second, "3 rounds of announcements at b", func() error {
		if err := arps.saw(arp.OperationRequest, mac, v4.String()); err != nil {
			return err
		}
		if err := arps.saw(arp.OperationReply, mac, v4.String()); err != nil {
			return err
		}
		if n, seen := nas.count(fmt.Sprintf("%s %s 33:33:00:00:00:01 true", v6, mac)); n != 3 {
			return fmt.Errorf("%d unsolicited NAs for %s, want 3 (seen %v)", n, v6, seen)
		}
		return nil
	})
}
