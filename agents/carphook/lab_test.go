//go:build linux

package carphook_test

// Shared pieces of the integration tests: the binaries under test, a CARP
// topology (bridge, two nodes, an observer), danted configurations, and
// checks made from inside namespaces.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"

	"github.com/ocfkit/ocfkit/agents/carphook"
	"github.com/ocfkit/ocfkit/agents/carphook/store"
	"github.com/ocfkit/ocfkit/internal/filesafe/filesafetest"
	"github.com/ocfkit/ocfkit/internal/testenv"
	"github.com/ocfkit/ocfkit/probe/socks5"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// TestMain runs the tests with TMPDIR in a directory that filesafe accepts
// (carp-hook refuses configurations under /tmp, which others can write).
// The binaries are built there too, and removed with it.
func TestMain(m *testing.M) {
	os.Exit(filesafetest.Main(m))
}

// binaries builds carp-hook and ocf-sockd once per test run.
func binaries(t *testing.T) (carpHook, ocfSockd string) {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, _, buildErr = testenv.BuildTemp("carphook-bin-", "./cmd/carp-hook", "./cmd/ocf-sockd")
		if buildErr == nil {
			// The plans saved at MASTER go with the binaries, not to
			// the machine's fixed directory.
			buildErr = os.Setenv("CARP_HOOK_PLAN_DIR", planDir())
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "carp-hook"), filepath.Join(buildDir, "ocf-sockd")
}

// planDir is where the built carp-hook keeps the plans saved at MASTER
// in these tests (CARP_HOOK_PLAN_DIR).
func planDir() string { return filepath.Join(buildDir, "plans") }

// carpLab is a bridge with two nodes and an observer, all on eth0.
type carpLab struct {
	sw, n1, n2, obs *testenv.NS
	net             string // first three octets, e.g. "10.210.0"
	dir             string
}

func (l *carpLab) ip(host int) string { return fmt.Sprintf("%s.%d", l.net, host) }

func newCarpLab(t *testing.T, prefix, subnet string) *carpLab {
	t.Helper()
	l := &carpLab{net: subnet, dir: testenv.SharedTempDir(t, "carp")}
	l.sw = testenv.NewNS(t, prefix+"sw")
	l.sw.MustRun(t, "ip", "link", "add", "br0", "type", "bridge")
	l.sw.MustRun(t, "ip", "link", "set", "br0", "up")
	l.n1 = testenv.NewNS(t, prefix+"n1")
	l.n2 = testenv.NewNS(t, prefix+"n2")
	l.obs = testenv.NewNS(t, prefix+"ob")
	for i, n := range []*testenv.NS{l.n1, l.n2, l.obs} {
		host := 11 + i
		if n == l.obs {
			host = 100
		}
		port := fmt.Sprintf("p%d", i+1)
		testenv.Veth(t, n, "eth0", l.ip(host)+"/24", l.sw, port, "")
		l.sw.MustRun(t, "ip", "link", "set", port, "master", "br0")
	}
	return l
}

// hasAddr reports whether ns has ip on eth0.
func hasAddr(t *testing.T, ns *testenv.NS, ip string) bool {
	t.Helper()
	out := ns.MustRun(t, "ip", "-o", "addr", "show", "dev", "eth0")
	return strings.Contains(out, " "+ip+"/")
}

func macOf(t *testing.T, ns *testenv.NS) string {
	t.Helper()
	out := ns.MustRun(t, "cat", "/sys/class/net/eth0/address")
	return strings.TrimSpace(out)
}

// role reads a role file ("" when absent).
func role(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// socksGreets checks that addr answers SOCKS5 method negotiation (no
// authentication) when dialled from ns.
func socksGreets(ns *testenv.NS, addr string) error {
	return ns.Within(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		return (&socks5.Client{Proxy: addr}).Greet(ctx)
	})
}

// status reads a group's status from a state directory.
func status(t *testing.T, stateDir, group string) *store.Status {
	t.Helper()
	s, err := store.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Read(group)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitSettled waits until the group's last event is applied, and returns
// the status.
func waitSettled(t *testing.T, stateDir, group string, state string) *store.Status {
	t.Helper()
	var st *store.Status
	testenv.WaitFor(t, 20*time.Second, fmt.Sprintf("%s in %s to settle as %s", group, stateDir, state), func() error {
		st = status(t, stateDir, group)
		if !st.Settled() || string(st.AppliedState) != state {
			return fmt.Errorf("status: seq %d applied %d %s %s %s", st.Seq, st.Applied, st.AppliedState, st.Outcome, st.Error)
		}
		return nil
	})
	if st.Outcome != store.OutcomeOK {
		t.Fatalf("%s settled as %s with outcome %s: %s; steps %+v", group, state, st.Outcome, st.Error, st.Steps)
	}
	return st
}

// garp is one gratuitous ARP frame seen by the observer.
type garp struct {
	Op  arp.Operation
	MAC string
	IP  netip.Addr
}

// arpWatcher records gratuitous ARP frames seen on eth0 of a namespace.
type arpWatcher struct {
	mu   sync.Mutex
	seen []garp
}

// watchFrames calls seen with every Ethernet frame of etherType that
// arrives on eth0 in ns, from a packet socket opened inside ns, until the
// test ends.
func watchFrames(t *testing.T, ns *testenv.NS, etherType uint16, seen func(ethernet.Frame)) {
	t.Helper()
	var conn *packet.Conn
	err := ns.Within(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		conn, err = packet.Listen(ifi, packet.Raw, int(etherType), nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			var f ethernet.Frame
			if f.UnmarshalBinary(buf[:n]) == nil {
				seen(f)
			}
		}
	}()
}

func watchARP(t *testing.T, ns *testenv.NS) *arpWatcher {
	t.Helper()
	w := &arpWatcher{}
	watchFrames(t, ns, 0x0806, func(f ethernet.Frame) {
		var p arp.Packet
		if p.UnmarshalBinary(f.Payload) == nil && p.SenderIP == p.TargetIP {
			w.mu.Lock()
			w.seen = append(w.seen, garp{p.Operation, p.SenderHardwareAddr.String(), p.SenderIP})
			w.mu.Unlock()
		}
	})
	return w
}

// reset forgets what was seen so far.
func (w *arpWatcher) reset() {
	w.mu.Lock()
	w.seen = nil
	w.mu.Unlock()
}

// saw reports whether a gratuitous ARP of op for ip from mac was seen.
func (w *arpWatcher) saw(op arp.Operation, mac string, ip string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, g := range w.seen {
		if g.Op == op && g.MAC == mac && g.IP.String() == ip {
			return nil
		}
	}
	return fmt.Errorf("no gratuitous ARP %v for %s from %s among %v", op, ip, mac, w.seen)
}

// writeFile writes a file with mode, failing the test on error.
func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// childPIDs returns the children of pid (Linux /proc).
func childPIDs(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		var p int
		fmt.Sscan(f, &p)
		out = append(out, p)
	}
	return out
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	return carphook.WorkerAlive(&store.Status{WorkerPID: pid})
}

// noWorkerLeft checks that the worker recorded in a status has exited.
func noWorkerLeft(st *store.Status) error {
	if st.Settled() && carphook.WorkerAlive(st) {
		// The worker exits right after writing the final status.
		return fmt.Errorf("worker %d still running", st.WorkerPID)
	}
	return nil
}

var errNotYet = errors.New("not yet")
