//go:build linux

// Package anycastlabtest builds the anycast topology the tests and the
// benchmark share: a router namespace and two service nodes, each running
// a routing daemon (FRR zebra+ospfd, or BIRD 2), a real unbound answering
// on 192.0.2.1, and a probe (anycast-probe, or anycast-healthchecker for
// the benchmark) deciding whether 192.0.2.1 is advertised; plus a client
// namespace behind the router.
//
// FRR is the default: its LSA and SPF throttle timers go to 0, so the
// router's share of a withdrawal is tens of milliseconds and steady. BIRD
// works on a 1 s tick and re-originates an LSA at most every 5 s.
package anycastlabtest

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

	"github.com/ocfkit/ocfkit/internal/filesafe/filesafetest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// Addr is the anycast service address.
const Addr = "192.0.2.1"

// Options choose the parts of a lab.
type Options struct {
	// Routing is "frr" (default) or "bird".
	Routing string
	// Probe is "ours" (default, anycast-probe) or "ahc".
	Probe string
	// Bin is the anycast-probe binary (Probe "ours").
	Bin string
	// Snippets is the docs/snippets directory (FRR configurations).
	Snippets string
	// ProbeConfig is anycast-probe's TOML without socket (Probe "ours").
	ProbeConfig string
	// AHCSrc is the anycast-healthchecker source tree (Probe "ahc"), and
	// Interval, Rise, Fall and Timeout its check settings.
	AHCSrc            string
	Interval, Timeout time.Duration
	Rise, Fall        int
}

// Lab is a running topology.
type Lab struct {
	t       testing.TB
	o       Options
	R, C    *testenv.NS
	N       [2]*testenv.NS
	dir     string
	Unbound [2]*exec.Cmd
	Probe   [2]*exec.Cmd
	Log     [2]*testenv.SyncBuffer
	cfg     [2]string
	Sock    [2]string
}

// NodeIP is node i's uplink address; the router is .1 of the same /30.
func NodeIP(i int) string   { return fmt.Sprintf("10.250.%d.2", i+1) }
func routerIP(i int) string { return fmt.Sprintf("10.250.%d.1", i+1) }

// New builds and starts the lab; everything is removed when t ends.
func New(t testing.TB, o Options) *Lab {
	testenv.RequireRoot(t)
	if o.Routing == "" {
		o.Routing = "frr"
	}
	if o.Probe == "" {
		o.Probe = "ours"
	}
	for _, c := range []string{"unbound", "unshare", "dig"} {
		testenv.RequireCommand(t, c)
	}
	if o.Routing == "frr" {
		testenv.RequireCommand(t, "vtysh")
		for _, d := range []string{"/usr/lib/frr/zebra", "/usr/lib/frr/ospfd"} {
			if _, err := os.Stat(d); err != nil {
				t.Fatalf("%s: %v (install frr)", d, err)
			}
		}
	} else {
		testenv.RequireCommand(t, "bird")
		testenv.RequireCommand(t, "birdc")
	}
	l := &Lab{t: t, o: o, R: testenv.NewNS(t, "acr"), C: testenv.NewNS(t, "acc")}
	for i := range l.N {
		l.N[i] = testenv.NewNS(t, fmt.Sprintf("acn%d", i+1))
	}
	// Under /tmp, readable by the frr user (t.TempDir's parents are not).
	dir, err := os.MkdirTemp("/tmp", "acp-lab-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l.dir = dir
	for _, ns := range []*testenv.NS{l.R, l.C, l.N[0], l.N[1]} {
		ns.MustRun(t, "ip", "link", "set", "lo", "up")
	}
	for i, n := range l.N {
		testenv.Veth(t, l.R, fmt.Sprintf("r-n%d", i+1), routerIP(i)+"/30", n, "uplink", NodeIP(i)+"/30")
		n.MustRun(t, "ip", "route", "add", "default", "via", routerIP(i))
		// Traffic in flight when the address leaves lo gets an ICMP
		// unreachable instead of looping between node and router.
		n.MustRun(t, "ip", "route", "add", "unreachable", Addr+"/32", "metric", "4000")
	}
	testenv.Veth(t, l.R, "r-c", "10.250.9.1/24", l.C, "uplink", "10.250.9.2/24")
	l.C.MustRun(t, "ip", "route", "add", "default", "via", "10.250.9.1")
	l.R.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1")
	for i := range l.N {
		l.StartUnbound(i)
	}
	if o.Routing == "frr" {
		l.startFRR()
	} else {
		l.startBIRD()
	}
	for i := range l.N {
		if o.Probe == "ahc" {
			l.startAHC(i)
		} else {
			l.writeProbeConfig(i)
			l.StartProbe(i)
		}
	}
	return l
}

func (l *Lab) nodeDir(i int) string {
	d := filepath.Join(l.dir, fmt.Sprintf("n%d", i+1))
	if err := os.MkdirAll(d, 0o755); err != nil {
		l.t.Fatal(err)
	}
	return d
}

func (l *Lab) write(path, text string) {
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// unboundConf serves the static zone anycast.lab and refuses recursion:
// no query leaves the namespaces.
func (l *Lab) unboundConf(i int) string {
	d := l.nodeDir(i)
	p := filepath.Join(d, "unbound.conf")
	l.write(p, fmt.Sprintf(`server:
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
`, Addr, d, i+1))
	return p
}

// StartUnbound starts node i's unbound and waits until it answers.
func (l *Lab) StartUnbound(i int) {
	cmd := l.N[i].Command("unbound", "-d", "-c", l.unboundConf(i))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := testenv.StartTied(cmd); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { testenv.Kill(cmd) })
	l.Unbound[i] = cmd
	testenv.WaitFor(l.t, 10*time.Second, "unbound answers", func() error {
		return l.N[i].Within(func() error {
			_, err := mdns.Exchange(Query("svc.anycast.lab", mdns.TypeA), "127.0.0.1:53")
			return err
		})
	})
}

// Query is a query message for name and type t.
func Query(name string, t uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), t)
	return m
}

func (l *Lab) snippet(name string) string {
	b, err := os.ReadFile(filepath.Join(l.o.Snippets, name))
	if err != nil {
		l.t.Fatal(err)
	}
	return string(b)
}

// startFRR runs zebra and ospfd in each of r, n1, n2 (FRR 8.4 several
// times on one host: explicit -f/-i/-z/--vty_socket, -P 0, and a private
// mount namespace with tmpfs over /run and /var/tmp for the compiled-in
// paths), with the configurations of docs/snippets.
func (l *Lab) startFRR() {
	type conf struct {
		ns   *testenv.NS
		text string
	}
	confs := []conf{{l.R, l.snippet("anycast-frr-router.conf")}}
	node := l.snippet("anycast-frr-ospfd.conf")
	for i, n := range l.N {
		confs = append(confs, conf{n, strings.Replace(node, "router-id 10.250.1.2", "router-id "+NodeIP(i), 1)})
	}
	for _, c := range confs {
		d := filepath.Join(l.dir, "frr-"+c.ns.Name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			l.t.Fatal(err)
		}
		l.write(filepath.Join(d, "zebra.conf"), "hostname "+c.ns.Name+"\n")
		l.write(filepath.Join(d, "ospfd.conf"), c.text)
		testenv.Run(l.t, "chown", "-R", "frr:frr", d)
		l.frr(c.ns, d, "zebra")
		testenv.WaitFor(l.t, 10*time.Second, "zebra's socket", func() error {
			_, err := os.Stat(filepath.Join(d, "zserv.api"))
			return err
		})
		l.frr(c.ns, d, "ospfd")
	}
}

func (l *Lab) frr(ns *testenv.NS, d, daemon string) {
	script := fmt.Sprintf(`mount -t tmpfs -o mode=1777 acp-vartmp /var/tmp &&
mount -t tmpfs -o mode=755 acp-run /run && mkdir -p /run/frr && chown frr:frr /run/frr &&
exec /usr/lib/frr/%[2]s -u frr -g frr -f %[1]s/%[2]s.conf -i %[1]s/%[2]s.pid -z %[1]s/zserv.api --vty_socket %[1]s -P 0 --log file:%[1]s/%[2]s.log --log-level warnings`, d, daemon)
	ns.Start(l.t, "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script)
}

// startBIRD runs one BIRD per namespace with the configurations of
// docs/snippets (for anycast-healthchecker, the node's export filter is
// its prefix list instead). The router needs `merge external yes` for the
// two nodes' external routes to form ECMP.
func (l *Lab) startBIRD() {
	d := filepath.Join(l.dir, "bird-r")
	_ = os.MkdirAll(d, 0o755)
	l.write(filepath.Join(d, "bird.conf"), l.snippet("anycast-bird-router.conf"))
	l.bird(l.R, d)
	node := l.snippet("anycast-bird-node.conf")
	for i, n := range l.N {
		d := filepath.Join(l.dir, fmt.Sprintf("bird-n%d", i+1))
		_ = os.MkdirAll(d, 0o755)
		conf := strings.Replace(node, "router id 10.250.1.2;", "router id "+NodeIP(i)+";", 1)
		if l.o.Probe == "ahc" {
			l.ahcPrefixes(i)
			conf = fmt.Sprintf("include %q;\n", filepath.Join(l.nodeDir(i), "ahc", "anycast-prefixes.conf")) +
				strings.Replace(conf, "export where net = "+Addr+"/32;", "export where net ~ ACAST_PS_ADVERTISE;", 1)
		}
		l.write(filepath.Join(d, "bird.conf"), conf)
		l.bird(n, d)
	}
}

func (l *Lab) bird(ns *testenv.NS, d string) {
	ns.Start(l.t, "bird", "-f", "-c", filepath.Join(d, "bird.conf"), "-s", filepath.Join(d, "bird.ctl"), "-P", filepath.Join(d, "bird.pid"))
}

func (l *Lab) writeProbeConfig(i int) {
	// The configuration must pass filesafe: a directory only root writes.
	d, err := filesafetest.SafeDir()
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { os.RemoveAll(d) })
	l.Sock[i] = filepath.Join(d, "status.sock")
	l.cfg[i] = filepath.Join(d, "anycast-probe.toml")
	text := fmt.Sprintf("socket = %q\n", l.Sock[i]) + l.o.ProbeConfig
	if err := os.WriteFile(l.cfg[i], []byte(text), 0o600); err != nil {
		l.t.Fatal(err)
	}
}

// StartProbe starts anycast-probe on node i.
func (l *Lab) StartProbe(i int) {
	l.Log[i] = &testenv.SyncBuffer{}
	cmd := l.N[i].Command(l.o.Bin, "run", "-c", l.cfg[i])
	cmd.Stdout, cmd.Stderr = l.Log[i], l.Log[i]
	if err := testenv.StartTied(cmd); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { testenv.Kill(cmd) })
	l.Probe[i] = cmd
}

// ahcPrefixes writes anycast-healthchecker's prefix file with only the
// dummy prefix, so BIRD's include parses before the checker first runs.
func (l *Lab) ahcPrefixes(i int) {
	a := filepath.Join(l.nodeDir(i), "ahc")
	_ = os.MkdirAll(filepath.Join(a, "ahc.d"), 0o755)
	l.write(filepath.Join(a, "anycast-prefixes.conf"), "define ACAST_PS_ADVERTISE =\n    [\n        10.189.200.255/32\n    ];\n")
}

// startAHC runs anycast-healthchecker from its source tree (AHCSrc) on
// node i, with a shell check as its users write them; the /32 stays on lo
// and only BIRD's filter withdraws it.
func (l *Lab) startAHC(i int) {
	testenv.RequireCommand(l.t, "dig")
	n := l.N[i]
	n.MustRun(l.t, "ip", "addr", "add", Addr+"/32", "dev", "lo")
	a := filepath.Join(l.nodeDir(i), "ahc")
	check := filepath.Join(a, "check-dns.sh")
	l.write(check, fmt.Sprintf("#!/bin/sh\nout=$(dig +time=%d +tries=1 +short @127.0.0.1 svc.anycast.lab A 2>&1) || exit 1\n[ \"$out\" = %q ]\n",
		max(1, int(l.o.Timeout/time.Second)), Addr))
	_ = os.Chmod(check, 0o755)
	ctl := filepath.Join(l.dir, fmt.Sprintf("bird-n%d", i+1), "bird.ctl")
	l.write(filepath.Join(a, "anycast-healthchecker.conf"), fmt.Sprintf(`[DEFAULT]
interface = lo

[daemon]
pidfile = %[1]s/ahc.pid
ipv4 = true
ipv6 = false
bird_conf = %[1]s/anycast-prefixes.conf
bird6_conf = %[1]s/anycast-prefixes6.conf
bird_variable = ACAST_PS_ADVERTISE
bird_reconfigure_cmd = /usr/sbin/birdc -s %[2]s configure
bird6_reconfigure_cmd = /bin/false
dummy_ip_prefix = 10.189.200.255/32
bird_keep_changes = false
purge_ip_prefixes = true
loglevel = info
log_file = %[1]s/ahc.log
stderr_file = %[1]s/ahc.stderr
json_stdout = false
json_log_file = false
prometheus_exporter = false
`, a, ctl))
	l.write(filepath.Join(a, "ahc.d", "dns.conf"), fmt.Sprintf(`[dns.anycast.lab]
check_cmd = %s
check_interval = %g
check_timeout = %g
check_rise = %d
check_fail = %d
check_disabled = false
on_disabled = withdraw
ip_prefix = %s/32
ip_check_disabled = false
`, check, l.o.Interval.Seconds(), l.o.Timeout.Seconds()+1, l.o.Rise, l.o.Fall, Addr))
	l.Log[i] = &testenv.SyncBuffer{}
	cmd := n.Command("env", "PYTHONPATH="+l.o.AHCSrc, "PYTHONDONTWRITEBYTECODE=1", "/usr/bin/python3", "-c",
		"import sys; sys.argv[0] = 'anycast-healthchecker'; from anycast_healthchecker.main import main; main()",
		"-f", filepath.Join(a, "anycast-healthchecker.conf"), "-d", filepath.Join(a, "ahc.d"))
	cmd.Stdout, cmd.Stderr = l.Log[i], l.Log[i]
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := testenv.StartTied(cmd); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { testenv.Kill(cmd) })
	l.Probe[i] = cmd
}

// NextHops returns the router's next hops to Addr: "n1", "n2".
func (l *Lab) NextHops() string {
	out, err := l.R.Command("ip", "route", "show", Addr).CombinedOutput()
	if err != nil {
		return "error: " + err.Error()
	}
	var hops []string
	for i := range l.N {
		if strings.Contains(string(out), "via "+NodeIP(i)+" ") {
			hops = append(hops, fmt.Sprintf("n%d", i+1))
		}
	}
	return strings.Join(hops, ",")
}

// WaitNextHops polls (every 10 ms) until the next hops are want and
// returns how long that took.
func (l *Lab) WaitNextHops(want string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	err := testenv.Poll(timeout, func() error {
		if got := l.NextHops(); got != want {
			return fmt.Errorf("router's next hops to %s: %q, want %q", Addr, got, want)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("%w\nnode 1 probe log:\n%s\nnode 2 probe log:\n%s", err, l.Log[0], l.Log[1])
	}
	return time.Since(start), nil
}

// Client is the query loop of the client namespace: a fixed rate of
// queries for whoami.anycast.lab TXT to Addr, each on a new socket.
type Client struct {
	mu      sync.Mutex
	results []clientResult
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

type clientResult struct {
	at time.Time
	ok bool
}

// StartClient sends qps queries a second, each with a 500 ms timeout,
// until Stop or limit.
func (l *Lab) StartClient(qps int, limit time.Duration) *Client {
	c := &Client{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		_ = l.C.Within(func() error { c.loop(qps, limit); return nil })
	}()
	l.t.Cleanup(c.Stop)
	return c
}

func (c *Client) loop(qps int, limit time.Duration) {
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(time.Second / time.Duration(qps))
	defer tick.Stop()
	end := time.After(limit)
	for {
		select {
		case <-c.stop:
			return
		case <-end:
			return
		case <-tick.C:
		}
		// The socket is made here, on the namespace's thread; the
		// goroutine that uses it may run on any thread.
		at := time.Now()
		conn, err := net.Dial("udp", net.JoinHostPort(Addr, "53"))
		if err != nil {
			c.add(at, false)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			cl := &mdns.Client{Timeout: 500 * time.Millisecond}
			in, _, err := cl.ExchangeWithConn(Query("whoami.anycast.lab", mdns.TypeTXT), &mdns.Conn{Conn: conn})
			c.add(at, err == nil && in.Rcode == mdns.RcodeSuccess && len(in.Answer) == 1)
		}()
	}
}

func (c *Client) add(at time.Time, ok bool) {
	c.mu.Lock()
	c.results = append(c.results, clientResult{at, ok})
	c.mu.Unlock()
}

// Stop ends the loop and waits for the queries in flight.
func (c *Client) Stop() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}

// Failures counts the queries sent in [from, to) and those that failed.
func (c *Client) Failures(from, to time.Time) (sent, failed int) {
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
