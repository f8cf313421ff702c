package sockd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
	"github.com/ocfkit/ocfkit/probe/socks5"
)

// deep runs a recurring monitor at a depth with a 3 s operation timeout
// and returns its result.
func (l *lab) deep(depth int, extra ...string) result {
	l.t.Helper()
	args := append([]string{recurring, "OCF_CHECK_LEVEL=" + strconv.Itoa(depth), "OCF_RESKEY_CRM_meta_timeout=3000"}, extra...)
	return l.run("monitor", args...)
}

func TestDeepHealthy(t *testing.T) {
	l := newLab(t)
	l.start()
	for _, depth := range []int{0, 10, 20} {
		for _, udp := range []string{"false", "true"} {
			if r := l.deep(depth, "OCF_RESKEY_check_udp="+udp); r.code != 0 {
				t.Errorf("depth %d udp %s: exit %d: %s", depth, udp, r.code, r.reason())
			}
		}
	}
}

// TestDeepResolvesAddresses checks wildcard addresses and interface names
// in internal: and external:, which the checks must turn into addresses.
func TestDeepResolvesAddresses(t *testing.T) {
	for _, internal := range []string{"0.0.0.0", "lo"} {
		t.Run(internal, func(t *testing.T) {
			l := newLab(t)
			l.writeConfig(testenv.DanteConfig{Internal: []string{internal}, External: "lo"})
			l.start()
			for _, depth := range []int{10, 20} {
				if r := l.deep(depth, "OCF_RESKEY_check_udp=true"); r.code != 0 {
					t.Errorf("internal: %s, depth %d: exit %d: %s", internal, depth, r.code, r.reason())
				}
			}
		})
	}
}

func TestDeepWithUsername(t *testing.T) {
	l := newLab(t)
	user, password := testenv.AddSystemUser(t, "ocfk")
	l.writeConfig(testenv.DanteConfig{Username: true})
	l.start()
	good, bad := l.path("password"), l.path("wrong-password")
	writeFile(t, good, password+"\n")
	writeFile(t, bad, "not-"+password+"\n")
	creds := []string{"OCF_RESKEY_check_username=" + user, "OCF_RESKEY_check_password_file=" + good}
	for _, depth := range []int{10, 20} {
		if r := l.deep(depth, append(creds, "OCF_RESKEY_check_udp=true")...); r.code != 0 {
			t.Errorf("depth %d with authentication: exit %d: %s", depth, r.code, r.reason())
		}
	}
	// Authentication broken: wrong password.
	r := l.deep(10, "OCF_RESKEY_check_username="+user, "OCF_RESKEY_check_password_file="+bad)
	if r.code != 1 || !strings.Contains(r.reason(), "auth") {
		t.Errorf("wrong password: exit %d, reason %q", r.code, r.reason())
	}
	if strings.Contains(r.stderr, password) {
		t.Error("the password appears in the agent's output")
	}
	// No credentials for a server that requires them: misconfigured.
	if r := l.deep(10); r.code != 6 {
		t.Errorf("no credentials: exit %d, want 6: %s", r.code, r.reason())
	}
}

// TestDeepDetectsFaults injects each fault into a healthy Dante and checks
// that the monitor at the depth that can see it fails, with the right code,
// a reason naming the stage, and within the operation timeout.
func TestDeepDetectsFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		depth  int
		conf   testenv.DanteConfig
		inject func(*lab)
		extra  []string
		codes  []int
		stage  string // the reason must contain this, or one of its |-separated choices
		// processesPass is true for a fault only a deeper check sees: the
		// depth-0 monitor must still pass, or the case shows nothing.
		processesPass bool
	}{
		{name: "mother SIGKILLed", depth: 20, codes: []int{1, 7}, stage: "no Dante mother|Dante is not running",
			inject: func(l *lab) { l.signalAll(l.mothers(), syscall.SIGKILL); l.waitMothers(0) }},
		{name: "mother SIGSTOPped", depth: 10, codes: []int{1}, stage: "greeting",
			inject: func(l *lab) { l.signalAll(l.mothers(), syscall.SIGSTOP) }},
		{name: "negotiate children SIGSTOPped", depth: 10, codes: []int{1}, stage: "greeting",
			inject: func(l *lab) { l.signalAll(l.children("negotiate-child"), syscall.SIGSTOP) }},
		{name: "request children SIGSTOPped", depth: 20, codes: []int{1}, stage: "request",
			inject: func(l *lab) { l.signalAll(l.children("request-child"), syscall.SIGSTOP) }},
		{name: "io children SIGSTOPped", depth: 20, codes: []int{1}, stage: "request|relay-data", processesPass: true,
			inject: func(l *lab) { l.signalAll(l.children("io-child"), syscall.SIGSTOP) }},
		{name: "rules refuse CONNECT after reload", depth: 20, codes: []int{1}, stage: "not allowed by ruleset (REP 2)",
			inject: func(l *lab) {
				l.writeConfig(testenv.DanteConfig{BlockConnect: true})
				l.expect(0, "reload")
			}},
		{name: "udpreply rule missing", depth: 20, conf: testenv.DanteConfig{NoUDPReply: true}, codes: []int{1}, stage: "udp-roundtrip",
			extra: []string{"OCF_RESKEY_check_udp=true"}},
		{name: "check_target unreachable", depth: 20, codes: []int{1}, stage: "upstream failure",
			extra: []string{"OCF_RESKEY_check_target=127.0.0.9:9"}},
		// The upstream accepts and never answers: the reason names it,
		// not the check's own endpoint (adv F: the old text said the
		// proxy relays to the check's own endpoint, and named no target).
		{name: "check_target hangs", depth: 20, codes: []int{1},
			stage:  "upstream failure: relay-data timed out: check_target 127.0.0.1:7 through the proxy",
			inject: func(l *lab) { hangingUpstream(l, "127.0.0.1:7") },
			extra:  []string{"OCF_RESKEY_check_target=127.0.0.1:7", "OCF_RESKEY_check_send=ping", "OCF_RESKEY_check_expect=pong"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			l.writeConfig(tc.conf)
			l.start()
			if tc.inject != nil {
				tc.inject(l)
			}
			var r result
			// A reload takes effect in Dante's children a moment later:
			// wait for the verdict with a deadline rather than a sleep.
			err := testenv.Poll(5*time.Second, func() error {
				r = l.deep(tc.depth, tc.extra...)
				if !slices.Contains(tc.codes, r.code) {
					return fmt.Errorf("exit %d: %s", r.code, r.reason())
				}
				return nil
			})
			if err != nil {
				t.Fatalf("not detected: %v", err)
			}
			if !containsAny(r.reason(), strings.Split(tc.stage, "|")) {
				t.Errorf("reason %q does not name %q", r.reason(), tc.stage)
			}
			if r.took >= 3*time.Second {
				t.Errorf("the monitor took %v, beyond its 3 s timeout", r.took)
			}
			t.Logf("depth %d: exit %d in %v: %s", tc.depth, r.code, r.took.Round(time.Millisecond), r.reason())
			if r := l.run("monitor", recurring); tc.processesPass && r.code != 0 {
				t.Errorf("the PID check no longer passes (exit %d), so this case shows nothing", r.code)
			}
		})
	}
}

// hangingUpstream listens on addr in the lab's namespace and holds every
// connection open without a byte in answer.
func hangingUpstream(l *lab, addr string) {
	l.t.Helper()
	var ln net.Listener
	if err := l.ns.Within(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.t.Cleanup(func() { c.Close() })
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
}

// TestUpstreamFailureNamesTarget: the reason of an upstream failure names
// the upstream that failed, as the parameter that set it, and says the
// same proxy relays to the check's own endpoint; the UDP round trip names
// check_udp_target, or the own UDP endpoint when that is empty. The cause
// comes first and the proxy once, so that Pacemaker's first 128 bytes of
// a reason hold the cause even with IPv6 addresses.
func TestUpstreamFailureNamesTarget(t *testing.T) {
	hang := &socks5.Error{Stage: socks5.StageRelayData, Proxy: "10.0.0.1:1080", Err: context.DeadlineExceeded}
	udp := &socks5.Error{Stage: socks5.StageUDPRoundTrip, Proxy: "10.0.0.1:1080", Err: context.DeadlineExceeded}
	for _, tc := range []struct {
		check *Check
		err   error
		want  string
	}{
		{&Check{Target: "192.0.2.80:80"}, hang,
			"upstream failure: relay-data timed out: check_target 192.0.2.80:80 through the proxy 10.0.0.1:1080 (the same proxy relays to the check's own endpoint)"},
		{&Check{Target: "192.0.2.80:80", UDPTarget: "192.0.2.53:53"}, udp, "upstream failure: udp-roundtrip timed out: check_udp_target 192.0.2.53:53 through the proxy"},
		{&Check{Target: "192.0.2.80:80"}, udp, "upstream failure: udp-roundtrip timed out: the check's own UDP endpoint through the proxy"},
		{&Check{UDPTarget: "192.0.2.53:53"}, hang, "upstream failure: relay-data timed out: the check's own endpoint through the proxy"},
	} {
		r := Report{Proxy: "10.0.0.1:1080", Err: tc.err, Upstream: true, Target: tc.check.upstreamOf(tc.err)}
		if got := r.summary(DepthDataPath); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%+v, %v:\n got %q\nwant %q...", tc.check, tc.err, got, tc.want)
		}
	}
	v6 := Report{Proxy: "[2001:db8:1:2:3:4:5:6]:1080", Upstream: true, Target: "check_target [2001:db8:9:8:7:6:5:4]:65535",
		Err: &socks5.Error{Stage: socks5.StageRequest, Proxy: "[2001:db8:1:2:3:4:5:6]:1080", Err: errors.New("host unreachable (REP 4)")}}
	if got := v6.summary(DepthDataPath); !strings.Contains(got[:128], "host unreachable (REP 4)") {
		t.Errorf("the cause is not within Pacemaker's 128 bytes of %q", got)
	}
}

// TestNonSOCKSListener holds the proxy's port with a listener that never
// speaks SOCKS: the port answers, the proxy does not.
func TestNonSOCKSListener(t *testing.T) {
	l := newLab(t)
	var ln net.Listener
	if err := l.ns.Within(func() (err error) { ln, err = net.Listen("tcp", "127.0.0.1:1080"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	for _, depth := range []int{0, 10, 20} {
		if r := l.deep(depth); r.code != 7 {
			t.Errorf("depth %d: exit %d, want 7 (not running): %s", depth, r.code, r.reason())
		}
	}
	out, err := l.ns.Command(agentBin, "check", "--depth", "10", "--timeout", "1s", "127.0.0.1:1080").CombinedOutput()
	if code := exitCode(err); code != 1 || !strings.Contains(string(out), "greeting") {
		t.Errorf("check of a non-SOCKS port: exit %d: %s", code, out)
	}
}

// TestNoFalseAlarms runs consecutive depth-20 monitors (1,000 by default,
// OCFKIT_SOAK_MONITORS to change) against a healthy Dante that serves 200
// concurrent client connections meanwhile.
func TestNoFalseAlarms(t *testing.T) {
	monitors := 1000
	if v, err := strconv.Atoi(os.Getenv("OCFKIT_SOAK_MONITORS")); err == nil {
		monitors = v
	}
	l := newLab(t)
	l.start()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clients := startClients(t, ctx, l, 200)
	failures := 0
	for i := 0; i < monitors; i++ {
		// A generous check limit: the test is about false alarms of a
		// healthy proxy, not about speed, and the suite's other packages
		// load the same two cores meanwhile (one monitor took 2.2 s once).
		if r := l.deep(20, "OCF_RESKEY_check_udp=true", "OCF_RESKEY_check_timeout=8", "OCF_RESKEY_CRM_meta_timeout=20000"); r.code != 0 {
			failures++
			t.Errorf("monitor %d: exit %d: %s", i, r.code, r.reason())
			if failures > 5 {
				t.FailNow()
			}
		}
	}
	cancel()
	if err := clients.Wait(); err != nil {
		t.Errorf("client traffic failed during the monitors: %v", err)
	}
	t.Logf("%d depth-20 monitors passed with 200 clients relaying (%d exchanges)", monitors, clients.exchanges())
}

// clientLoad is client traffic through the proxy.
type clientLoad struct {
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error
	count int
}

// startClients opens n SOCKS connections through the lab's proxy to an echo
// server in its namespace, all open at once, and keeps each exchanging
// data until ctx ends.
func startClients(t *testing.T, ctx context.Context, l *lab, n int) *clientLoad {
	t.Helper()
	var echo *echoServer
	conns := make([]net.Conn, n)
	client := &socks5.Client{Proxy: "127.0.0.1:1080"}
	err := l.ns.Within(func() (err error) {
		if echo, err = startEcho(mustAddr("127.0.0.1"), false); err != nil {
			return err
		}
		for i := range conns {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			conns[i], err = client.Dial(dctx, echo.TCPAddr())
			cancel()
			if err != nil {
				return fmt.Errorf("client %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(echo.Close)
	load := &clientLoad{}
	for i, c := range conns {
		load.wg.Add(1)
		go func() {
			defer load.wg.Done()
			defer c.Close()
			msg := []byte(fmt.Sprintf("client %d\n", i))
			buf := make([]byte, len(msg))
			for ctx.Err() == nil {
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write(msg); err != nil {
					load.fail(fmt.Errorf("client %d write: %w", i, err))
					return
				}
				if _, err := io.ReadFull(c, buf); err != nil || string(buf) != string(msg) {
					load.fail(fmt.Errorf("client %d read %q: %v", i, buf, err))
					return
				}
				load.mu.Lock()
				load.count++
				load.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond): // paced traffic, not a synchronisation
				}
			}
		}()
	}
	return load
}

func (c *clientLoad) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

// Wait waits for every client and returns the first failure.
func (c *clientLoad) Wait() error {
	c.wg.Wait()
	return c.err
}

func (c *clientLoad) exchanges() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

// TestCheckCommandExitStyles checks `ocf-sockd check` against a healthy
// proxy and a port with nothing behind it, in every exit style and argument
// form its callers use.
func TestCheckCommandExitStyles(t *testing.T) {
	l := newLab(t)
	l.start()
	relaydLink := filepath.Join(filepath.Dir(agentBin), "ocf-sockd-relayd")
	_ = os.Remove(relaydLink)
	if err := os.Symlink(agentBin, relaydLink); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		program  string
		env      []string
		args     []string
		up, down int
	}{
		{"ocf", agentBin, nil, []string{"--exit-style", "ocf"}, 0, 1},
		{"keepalived", agentBin, nil, []string{"--exit-style", "keepalived"}, 0, 1},
		{"nagios", agentBin, nil, []string{"--exit-style", "nagios", "--udp"}, 0, 2},
		{"relayd", agentBin, nil, []string{"--exit-style", "relayd"}, 1, 0},
		{"relayd from the environment", agentBin, []string{"OCFKIT_EXIT_STYLE=relayd"}, nil, 1, 0},
		{"relayd from the program name", relaydLink, nil, nil, 1, 0},
	} {
		checkArg := []string{"check"}
		if tc.program == relaydLink {
			checkArg = nil // relayd passes the host alone
		}
		t.Run(tc.name, func(t *testing.T) {
			for _, target := range []struct {
				host string
				want int
			}{{"127.0.0.1", tc.up}, {"127.0.0.1:1099", tc.down}} {
				cmd := l.ns.Command(tc.program, append(append(append(checkArg, "--timeout", "2s"), tc.args...), target.host)...)
				cmd.Env = append(os.Environ(), tc.env...)
				out, err := cmd.CombinedOutput()
				if code := exitCode(err); code != target.want {
					t.Errorf("%s: exit %d, want %d: %s", target.host, code, target.want, out)
				}
				if tc.name == "nagios" && !strings.Contains(string(out), "SOCKS ") || tc.name == "nagios" && target.want == 0 && !strings.Contains(string(out), "udp-roundtrip=") {
					t.Errorf("nagios output %q", out)
				}
			}
		})
	}
	// ldirectord runs checkcommand with VIP VPORT RIP RPORT; the real
	// server is checked.
	ldirectordLink := filepath.Join(filepath.Dir(agentBin), "ocf-sockd-ldirectord")
	_ = os.Remove(ldirectordLink)
	if err := os.Symlink(agentBin, ldirectordLink); err != nil {
		t.Fatal(err)
	}
	for rport, want := range map[string]int{"1080": 0, "1099": 1} {
		out, err := l.ns.Command(ldirectordLink, "192.0.2.1", "1080", "127.0.0.1", rport).CombinedOutput()
		if exitCode(err) != want {
			t.Errorf("ldirectord arguments, real server port %s: exit %d, want %d: %s", rport, exitCode(err), want, out)
		}
	}
	out, err := l.ns.Command(agentBin, "check", "--exit-style", "nagios").CombinedOutput()
	if exitCode(err) != 3 || !strings.Contains(string(out), "UNKNOWN") {
		t.Errorf("nagios without a host: %v: %s", err, out)
	}
}

// TestOCFTester runs resource-agents' ocf-tester against the agent with a
// real Dante; it runs meta-data as nobody, probes with the binary hidden,
// double start and double stop.
func TestOCFTester(t *testing.T) {
	tester := testenv.RequireCommand(t, "ocf-tester")
	l := newLab(t)
	agent := "/usr/lib/ocf/resource.d/dante/sockd"
	if _, err := os.Stat(agent); err != nil {
		agent = agentBin // not installed: the freshly built binary
	}
	args := []string{"-n", "ocft-sockd"}
	for _, k := range []string{"sockd", "sockd_config", "sockd_pidfile"} {
		args = append(args, "-o", k+"="+l.env["OCF_RESKEY_"+k])
	}
	out, err := l.ns.Command(tester, append(args, agent)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "passed all tests") {
		t.Errorf("ocf-tester %s: %v\n%s", agent, err, out)
	}
	l.assertNothingLeft()
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestInterfaceAddressAddedLater names an interface in internal: and adds
// addresses to it after start, as another resource's IPaddr2 or IPv6
// address configuration does: Dante bound the interface's addresses at
// start and does not serve the new ones, which is no failure of the
// instance.
func TestInterfaceAddressAddedLater(t *testing.T) {
	l := newLab(t)
	l.ns.MustRun(t, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	l.ns.MustRun(t, "ip", "addr", "add", "10.77.1.1/24", "dev", "d0")
	// The link-local address is usable at once, not tentative.
	l.ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.d0.accept_dad=0")
	l.ns.MustRun(t, "ip", "link", "set", "d0", "up")
	l.ns.MustRun(t, "ip", "link", "set", "d1", "up")
	l.writeConfig(testenv.DanteConfig{Internal: []string{"d0"}})
	l.start()
	l.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=10")
	l.ns.MustRun(t, "ip", "addr", "add", "10.77.1.99/24", "dev", "d0")
	l.ns.MustRun(t, "ip", "addr", "add", "2001:db8::99/64", "dev", "d0", "nodad")
	for _, depth := range []int{10, 20} {
		if r := l.deep(depth); r.code != 0 {
			t.Errorf("depth %d after addresses were added: exit %d: %s", depth, r.code, r.reason())
		}
	}
	// Started anew, Dante serves every address, and the monitor checks
	// each.
	l.stopClean()
	l.start()
	l.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=20")
}
