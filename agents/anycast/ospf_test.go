//go:build linux

package anycast

// The proof with real parts: a router and two service nodes running FRR
// (zebra + ospfd, one pair per namespace), a real unbound on each node and
// anycast-probe holding 192.0.2.1 on each node's lo. The test asserts on
// the router's routing table for every transition and counts the failures
// of a client's query loop during each.
//
// FRR rather than BIRD: its LSA and SPF throttle timers go to 0, so the
// router's share of a withdrawal is tens of milliseconds and steady; BIRD
// works on a 1 s tick and re-originates an LSA at most every 5 s, so a
// flap would measure BIRD rather than the probe.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

const anycastAddr = "192.0.2.1"

// ospfLab is the topology: router r, nodes n[0] and n[1], client c.
type ospfLab struct {
	t       *testing.T
	r, c    *testenv.NS
	n       [2]*testenv.NS
	frrDir  string
	unbound [2]*exec.Cmd
	probe   [2]*exec.Cmd
	plog    [2]*syncBuffer
	cfg     [2]string
	sock    [2]string
}

func nodeIP(i int) string   { return fmt.Sprintf("10.250.%d.2", i+1) }
func routerIP(i int) string { return fmt.Sprintf("10.250.%d.1", i+1) }

func readSnippet(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "snippets", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newOSPFLab(t *testing.T) *ospfLab {
	testenv.RequireRoot(t)
	for _, c := range []string{"unbound", "vtysh", "unshare", "dig"} {
		testenv.RequireCommand(t, c)
	}
	for _, d := range []string{"/usr/lib/frr/zebra", "/usr/lib/frr/ospfd"} {
		if _, err := os.Stat(d); err != nil {
			testenv.RequireCommand(t, "vtysh") // names the package (frr)
			t.Fatalf("%s: %v (install frr)", d, err)
		}
	}
	binary(t)
	l := &ospfLab{t: t, r: testenv.NewNS(t, "acr"), c: testenv.NewNS(t, "acc")}
	for i := range l.n {
		l.n[i] = testenv.NewNS(t, fmt.Sprintf("acn%d", i+1))
	}
	dir, err := os.MkdirTemp("/tmp", "acp-frr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l.frrDir = dir
	for _, ns := range []*testenv.NS{l.r, l.c, l.n[0], l.n[1]} {
		ns.MustRun(t, "ip", "link", "set", "lo", "up")
	}
	for i, n := range l.n {
		testenv.Veth(t, l.r, fmt.Sprintf("r-n%d", i+1), routerIP(i)+"/30", n, "uplink", nodeIP(i)+"/30")
		n.MustRun(t, "ip", "route", "add", "default", "via", routerIP(i))
		// Traffic in flight when the address leaves lo gets an ICMP
		// unreachable instead of looping between node and router.
		n.MustRun(t, "ip", "route", "add", "unreachable", anycastAddr+"/32", "metric", "4000")
	}
	testenv.Veth(t, l.r, "r-c", "10.250.9.1/24", l.c, "uplink", "10.250.9.2/24")
	l.c.MustRun(t, "ip", "route", "add", "default", "via", "10.250.9.1")
	l.r.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1")
	for i := range l.n {
		l.startUnbound(i)
	}
	l.startFRR()
	for i := range l.n {
		l.writeProbeConfig(i)
		l.startProbe(i)
	}
	return l
}

// unboundConf serves the static zone anycast.lab and refuses recursion:
// no query leaves the namespaces.
func (l *ospfLab) unboundConf(i int) string {
	d := filepath.Join(l.frrDir, fmt.Sprintf("unbound%d", i+1))
	if err := os.MkdirAll(d, 0o755); err != nil {
		l.t.Fatal(err)
	}
	conf := fmt.Sprintf(`server:
  verbosity: 0
  num-threads: 1
  interface: 127.0.0.1
  interface: %[1]s
  ip-freebind: yes
  port: 53
  do-ip6: no
  access-control: 0.0.0.0/0 allow
  chroot: ""
  username: ""
  directory: "%[2]s"
  pidfile: "%[2]s/unbound.pid"
  use-syslog: no
  logfile: ""
  module-config: "iterator"
  local-zone: "." refuse
  local-zone: "anycast.lab." static
  local-data: "svc.anycast.lab. 5 IN A %[1]s"
  local-data: 'whoami.anycast.lab. 5 IN TXT "n%[3]d"'
remote-control:
  control-enable: no
`, anycastAddr, d, i+1)
	p := filepath.Join(d, "unbound.conf")
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

func (l *ospfLab) startUnbound(i int) {
	cmd := l.n[i].Command("unbound", "-d", "-c", l.unboundConf(i))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := testenv.StartTied(cmd); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { testenv.Kill(cmd) })
	l.unbound[i] = cmd
	testenv.WaitFor(l.t, 10*time.Second, "unbound answers", func() error {
		return l.n[i].Within(func() error {
			_, err := mdns.Exchange(query("svc.anycast.lab", mdns.TypeA), "127.0.0.1:53")
			return err
		})
	})
}

func query(name string, t uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), t)
	return m
}

// startFRR runs zebra and ospfd in each of r, n1, n2 (FRR 8.4 several
// times on one host: explicit -f/-i/-z/--vty_socket, -P 0, and a private
// mount namespace with tmpfs over /run and /var/tmp for the compiled-in
// paths).
func (l *ospfLab) startFRR() {
	confs := map[*testenv.NS]string{l.r: readSnippet(l.t, "anycast-frr-router.conf")}
	node := readSnippet(l.t, "anycast-frr-ospfd.conf")
	for i, n := range l.n {
		confs[n] = strings.Replace(node, "router-id 10.250.1.2", "router-id "+nodeIP(i), 1)
	}
	for ns, conf := range confs {
		d := filepath.Join(l.frrDir, ns.Name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			l.t.Fatal(err)
		}
		_ = os.WriteFile(filepath.Join(d, "zebra.conf"), []byte("hostname "+ns.Name+"\n"), 0o644)
		_ = os.WriteFile(filepath.Join(d, "ospfd.conf"), []byte(conf), 0o644)
		testenv.Run(l.t, "chown", "-R", "frr:frr", d)
		l.frr(ns, d, "zebra")
		testenv.WaitFor(l.t, 10*time.Second, "zebra's socket", func() error {
			_, err := os.Stat(filepath.Join(d, "zserv.api"))
			return err
		})
		l.frr(ns, d, "ospfd")
	}
}

func (l *ospfLab) frr(ns *testenv.NS, d, daemon string) {
	script := fmt.Sprintf(`mount -t tmpfs -o mode=1777 acp-vartmp /var/tmp &&
mount -t tmpfs -o mode=755 acp-run /run && mkdir -p /run/frr && chown frr:frr /run/frr &&
exec /usr/lib/frr/%[2]s -u frr -g frr -f %[1]s/%[2]s.conf -i %[1]s/%[2]s.pid -z %[1]s/zserv.api --vty_socket %[1]s -P 0 --log file:%[1]s/%[2]s.log --log-level warnings`, d, daemon)
	ns.Start(l.t, "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script)
}

func (l *ospfLab) writeProbeConfig(i int) {
	dir := l.t.TempDir()
	l.sock[i] = filepath.Join(dir, "status.sock")
	l.cfg[i] = filepath.Join(dir, "anycast-probe.toml")
	text := fmt.Sprintf("socket = %q\n", l.sock[i]) + readSnippet(l.t, "anycast-probe.toml")
	if err := os.WriteFile(l.cfg[i], []byte(text), 0o600); err != nil {
		l.t.Fatal(err)
	}
}

func (l *ospfLab) startProbe(i int) {
	l.plog[i] = &syncBuffer{}
	cmd := l.n[i].Command(binary(l.t), "run", "-c", l.cfg[i])
	cmd.Stdout, cmd.Stderr = l.plog[i], l.plog[i]
	if err := testenv.StartTied(cmd); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { testenv.Kill(cmd) })
	l.probe[i] = cmd
}

// routes returns the next hops of the router's route to the service.
func (l *ospfLab) routes() []string {
	out, err := l.r.Command("ip", "route", "show", anycastAddr).CombinedOutput()
	if err != nil {
		return nil
	}
	var hops []string
	for i := range l.n {
		if strings.Contains(string(out), "via "+nodeIP(i)+" ") {
			hops = append(hops, fmt.Sprintf("n%d", i+1))
		}
	}
	return hops
}

// waitRoutes waits for exactly the next hops want and returns how long it
// took (polled every 10 ms).
func (l *ospfLab) waitRoutes(want string, timeout time.Duration) time.Duration {
	l.t.Helper()
	start := time.Now()
	err := testenv.Poll(timeout, func() error {
		if got := strings.Join(l.routes(), ","); got != want {
			return fmt.Errorf("router's next hops to %s: %q, want %q", anycastAddr, got, want)
		}
		return nil
	})
	if err != nil {
		l.t.Fatalf("%v\nprobe n1 log:\n%s\nprobe n2 log:\n%s", err, l.plog[0], l.plog[1])
	}
	return time.Since(start)
}

// client is the query loop of the client namespace: qps queries a second,
// each on a new socket, with a 500 ms timeout.
type client struct {
	mu      sync.Mutex
	results []clientResult
	stop    chan struct{}
	done    chan struct{}
}

type clientResult struct {
	at time.Time
	ok bool
}

func startClient(t *testing.T, ns *testenv.NS, qps int, limit time.Duration) *client {
	c := &client{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		_ = ns.Within(func() error {
			var wg sync.WaitGroup
			tick := time.NewTicker(time.Second / time.Duration(qps))
			defer tick.Stop()
			end := time.After(limit)
			for {
				select {
				case <-c.stop:
					wg.Wait()
					return nil
				case <-end:
					wg.Wait()
					return nil
				case <-tick.C:
				}
				// The socket is made here, on the namespace's thread; the
				// goroutine that uses it may run on any thread.
				at := time.Now()
				conn, err := net.Dial("udp", net.JoinHostPort(anycastAddr, "53"))
				if err != nil {
					c.mu.Lock()
					c.results = append(c.results, clientResult{at, false})
					c.mu.Unlock()
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer conn.Close()
					cl := &mdns.Client{Timeout: 500 * time.Millisecond}
					in, _, err := cl.ExchangeWithConn(query("whoami.anycast.lab", mdns.TypeTXT), &mdns.Conn{Conn: conn})
					ok := err == nil && in.Rcode == mdns.RcodeSuccess && len(in.Answer) == 1
					c.mu.Lock()
					c.results = append(c.results, clientResult{at, ok})
					c.mu.Unlock()
				}()
			}
		})
	}()
	t.Cleanup(c.end)
	return c
}

func (c *client) end() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

// failures counts the queries sent in [from, to) and those that failed.
func (c *client) failures(from, to time.Time) (sent, failed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.results {
		if !r.at.Before(from) && r.at.Before(to) {
			sent++
			if !r.ok {
				failed++
			}
		}
	}
	return sent, failed
}

// transition is one row of the report: the window from the fault until
// both paths are back.
type transition struct {
	name              string
	withdraw, return_ time.Duration
	from, to          time.Time
}

// TestAnycastOSPF is the proof with real parts (see the file comment).
func TestAnycastOSPF(t *testing.T) {
	l := newOSPFLab(t)
	l.waitRoutes("n1,n2", 60*time.Second)
	cl := startClient(t, l.c, 50, 3*time.Minute)
	var rows []transition
	// run performs fail, waits for the route via n1 to go, performs
	// recover and waits for it to come back.
	run := func(name string, fail, recover func()) {
		t.Helper()
		start := time.Now()
		fail()
		w := l.waitRoutes("n2", 20*time.Second)
		if recover != nil {
			recover()
		}
		b := l.waitRoutes("n1,n2", 30*time.Second)
		rows = append(rows, transition{name, w, b, start, time.Now()})
	}
	sig := func(cmd *exec.Cmd, s syscall.Signal) func() {
		return func() {
			if err := cmd.Process.Signal(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	run("unbound stopped (SIGTERM), restarted", func() {
		sig(l.unbound[0], syscall.SIGTERM)()
		_ = l.unbound[0].Wait()
	}, func() { l.startUnbound(0) })
	run("unbound hung (SIGSTOP), SIGCONT", func() {
		// SIGSTOP goes to unbound itself: `ip netns exec` execs it.
		sig(l.unbound[0], syscall.SIGSTOP)()
	}, sig(l.unbound[0], syscall.SIGCONT))
	run("probe SIGTSTP, SIGCONT", sig(l.probe[0], syscall.SIGTSTP), sig(l.probe[0], syscall.SIGCONT))
	run("probe SIGTERM, started again", func() {
		sig(l.probe[0], syscall.SIGTERM)()
		if err := l.probe[0].Wait(); err != nil {
			t.Errorf("probe exit after SIGTERM: %v", err)
		}
		if a := l.n[0].MustRun(t, "ip", "-o", "addr", "show", "dev", "lo"); strings.Contains(a, anycastAddr) {
			t.Errorf("address left on lo after SIGTERM:\n%s", a)
		}
	}, func() { l.startProbe(0) })

	// kill -9 leaves the address (and the route); a new start removes it
	// before its first probe, then raises it again once healthy.
	_ = l.probe[0].Process.Kill()
	_ = l.probe[0].Wait()
	if a := l.n[0].MustRun(t, "ip", "-o", "addr", "show", "dev", "lo"); !strings.Contains(a, anycastAddr) {
		t.Fatalf("after kill -9 the address should still be on lo:\n%s", a)
	}
	l.startProbe(0)
	testenv.WaitFor(t, 20*time.Second, "stale address removed, then raised", func() error {
		log := l.plog[0].String()
		rm, up := strings.Index(log, "left on lo by an earlier run"), strings.Index(log, "service dns up")
		if rm < 0 || up < 0 {
			return fmt.Errorf("log:\n%s", log)
		}
		if rm > up {
			return fmt.Errorf("raised before the stale address was removed:\n%s", log)
		}
		return nil
	})
	l.waitRoutes("n1,n2", 30*time.Second)
	cl.end()

	var b strings.Builder
	fmt.Fprintf(&b, "%-40s %10s %10s %6s %6s\n", "transition", "withdrawn", "back", "sent", "failed")
	for _, r := range rows {
		sent, failed := cl.failures(r.from, r.to)
		fmt.Fprintf(&b, "%-40s %10s %10s %6d %6d\n", r.name, r.withdraw.Round(time.Millisecond), r.return_.Round(time.Millisecond), sent, failed)
	}
	if sent, failed := cl.failures(time.Time{}, time.Now()); failed > sent/2 || sent == 0 {
		t.Errorf("client: %d of %d queries failed over the whole run", failed, sent)
	}
	t.Logf("transitions (client: 50 queries/s to %s, 500 ms timeout):\n%s", anycastAddr, b.String())
	if p := os.Getenv("ANYCAST_REPORT"); p != "" {
		_ = os.WriteFile(p, []byte(b.String()), 0o644)
	}
}
