package dnsfailover_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/agents/dnsfailover"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// bin is dns-failover, built by TestMain when root can run the lab tests.
var bin string

func TestMain(m *testing.M) {
	if os.Getenv(dnsfailover.BannerMemberEnv) == "1" {
		dnsfailover.ServeBannerMember()
	}
	// Configuration and key files must be in a directory filesafe accepts.
	os.Exit(testenv.MainBuilt(m, "dns-failover-test-", func(bins []string) { bin = bins[0] }, "./cmd/dns-failover"))
}

const (
	zone     = "mydomain.test."
	www      = "www.mydomain.test."
	smtp     = "smtp.mydomain.test."
	robots   = "httpd is working"
	primary1 = "10.53.0.1"
	primary2 = "10.53.0.2"
)

// lab is two BIND 9 primaries in one namespace with dns-failover, and
// members in their own namespaces (IPv4, one veth each) or on the lab's
// loopback (IPv6).
type lab struct {
	t       *testing.T
	dir     string
	ns      *testenv.NS
	named   map[string]*exec.Cmd
	key     string
	members map[string]*member
}

// member is one served address: an HTTP server (python3 http.server with
// /robots.txt) or an SMTP banner.
type member struct {
	addr string
	ns   *testenv.NS
	argv []string
	cmd  *exec.Cmd
}

var www4 = []string{"10.60.1.2", "10.60.2.2", "10.60.3.2"}
var www6addrs = []string{"fd53::11", "fd53::12"}

const smtpAddr = "10.60.4.2"

func newLab(t *testing.T) *lab {
	t.Helper()
	testenv.RequireRoot(t)
	for _, c := range []string{"named", "tsig-keygen", "dig", "nsupdate"} {
		testenv.RequireCommand(t, c)
	}
	py := testenv.Python3(t)
	l := &lab{t: t, dir: t.TempDir(), named: map[string]*exec.Cmd{}, members: map[string]*member{}}
	l.ns = testenv.NewNS(t, "dfo")
	for _, p := range []string{primary1, primary2} {
		l.ns.MustRun(t, "ip", "addr", "add", p+"/32", "dev", "lo")
	}
	for _, a := range www6addrs {
		l.ns.MustRun(t, "ip", "addr", "add", a+"/128", "dev", "lo", "nodad")
	}
	// The README's key generation, in the lab's directory.
	l.runSnippet("dnsfo-tsig-keygen.sh", "/etc/bind/", l.dir+"/")
	l.key = filepath.Join(l.dir, "dns-failover.key")
	web := filepath.Join(l.dir, "web")
	must(t, os.MkdirAll(web, 0o755))
	must(t, os.WriteFile(filepath.Join(web, "robots.txt"), []byte(robots+"\n"), 0o644))
	smtpScript := `import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 25)); s.listen(16)
while True:
    c,_=s.accept(); c.sendall(b"220 test ESMTP\r\n")
    try:
        c.settimeout(2); c.recv(100); c.sendall(b"221 bye\r\n")
    except Exception: pass
    c.close()
`
	all := append(append([]string{}, www4...), smtpAddr)
	for i, a := range all {
		mns := testenv.NewNS(t, fmt.Sprintf("dfm%d", i+1))
		testenv.Veth(t, l.ns, fmt.Sprintf("dfv%d", i+1), fmt.Sprintf("10.60.%d.1/24", i+1), mns, "eth0", a+"/24")
		m := &member{addr: a, ns: mns, argv: []string{py, "-m", "http.server", "--bind", a, "--directory", web, "80"}}
		if a == smtpAddr {
			m.argv = []string{py, "-c", smtpScript, a}
		}
		l.members[a] = m
	}
	for _, a := range www6addrs {
		l.members[a] = &member{addr: a, ns: l.ns, argv: []string{py, "-m", "http.server", "--bind", a, "--directory", web, "8080"}}
	}
	for _, m := range l.members {
		l.start(m.addr)
	}
	for _, p := range []string{primary1, primary2} {
		l.startNamed(p, true)
	}
	return l
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// keygen writes a new key NAME with tsig-keygen into the lab, mode 0600.
func (l *lab) keygen(name, file string) string {
	out, err := exec.Command("tsig-keygen", "-a", "hmac-sha256", name).Output()
	must(l.t, err)
	p := filepath.Join(l.dir, file)
	must(l.t, os.WriteFile(p, out, 0o600))
	return p
}

// start starts member a and waits until it accepts connections.
func (l *lab) start(a string) {
	l.t.Helper()
	m := l.members[a]
	m.cmd = m.ns.Start(l.t, m.argv[0], m.argv[1:]...)
	port := "80"
	switch {
	case a == smtpAddr:
		port = "25"
	case strings.Contains(a, ":"):
		port = "8080"
	}
	testenv.WaitFor(l.t, 10*time.Second, "member "+a+" listening", func() error {
		return m.ns.Command("bash", "-c", "exec 3<>/dev/tcp/"+a+"/"+port).Run()
	})
}

// stop kills member a.
func (l *lab) stop(a string) { testenv.Kill(l.members[a].cmd) }

// startNamed starts the primary at addr; fresh writes its zone first.
func (l *lab) startNamed(addr string, fresh bool) {
	l.t.Helper()
	d := filepath.Join(l.dir, "named-"+addr)
	if fresh {
		must(l.t, os.MkdirAll(d, 0o700))
		var z strings.Builder
		fmt.Fprintf(&z, "$TTL 60\n@ IN SOA ns1.%s hostmaster.%s 1 3600 600 86400 60\n@ IN NS ns1.%s\nns1 IN A %s\n", zone, zone, zone, primary1)
		for _, a := range www4 {
			fmt.Fprintf(&z, "www IN A %s\n", a)
		}
		for _, a := range www6addrs {
			fmt.Fprintf(&z, "www IN AAAA %s\n", a)
		}
		fmt.Fprintf(&z, "smtp IN A %s\n", smtpAddr)
		must(l.t, os.WriteFile(filepath.Join(d, "zone"), []byte(z.String()), 0o644))
		// The README's zone statement, with the lab's paths.
		zoneConf := strings.NewReplacer("/etc/bind/dns-failover.key", l.key,
			"/var/lib/bind/mydomain.test.zone", filepath.Join(d, "zone")).Replace(snippet(l.t, "dnsfo-named.conf"))
		conf := fmt.Sprintf(`options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	session-keyfile "%[1]s/session.key";
	managed-keys-directory "%[1]s";
	listen-on port 53 { %[2]s; };
	listen-on-v6 { none; };
	recursion no;
	notify no;
	dnssec-validation no;
};
controls { };
%[3]s`, d, addr, zoneConf)
		must(l.t, os.WriteFile(filepath.Join(d, "named.conf"), []byte(conf), 0o600))
	}
	l.named[addr] = l.ns.Start(l.t, "named", "-g", "-c", filepath.Join(d, "named.conf"))
	testenv.WaitFor(l.t, 20*time.Second, "named on "+addr, func() error {
		_, err := l.dig(addr, www, "A")
		return err
	})
}

func (l *lab) stopNamed(addr string) { testenv.Kill(l.named[addr]) }

// dig asks the primary at server for name's RRset with the real dig.
func (l *lab) dig(server, name, typ string) ([]string, error) {
	out, err := l.ns.Command("dig", "+short", "+tcp", "+time=1", "+tries=1", "@"+server, name, typ).Output()
	if err != nil {
		return nil, fmt.Errorf("dig @%s %s %s: %w", server, name, typ, err)
	}
	if strings.Contains(string(out), ";;") {
		return nil, fmt.Errorf("dig @%s: %s", server, out)
	}
	f := strings.Fields(string(out))
	sort.Strings(f)
	return f, nil
}

// want checks that both primaries (or those given) hold exactly addrs.
func (l *lab) want(name, typ string, addrs []string, servers ...string) {
	l.t.Helper()
	if len(servers) == 0 {
		servers = []string{primary1, primary2}
	}
	w := append([]string{}, addrs...)
	sort.Strings(w)
	for _, s := range servers {
		got, err := l.dig(s, name, typ)
		if err != nil {
			l.t.Fatal(err)
		}
		if strings.Join(got, " ") != strings.Join(w, " ") {
			l.t.Fatalf("dig @%s %s %s = %v, want %v", s, name, typ, got, w)
		}
	}
}

// labAddrs maps the README's documentation addresses to the lab's.
var labAddrs = []string{
	`"192.0.2.53"`, `"` + primary1 + `"`, `"192.0.2.54"`, `"` + primary2 + `"`,
	`"192.0.2.1"`, `"` + www4[0] + `"`, `"192.0.2.2"`, `"` + www4[1] + `"`, `"192.0.2.3"`, `"` + www4[2] + `"`,
	`"192.0.2.4"`, `"` + smtpAddr + `"`, `"2001:db8::11"`, `"` + www6addrs[0] + `"`, `"2001:db8::12"`, `"` + www6addrs[1] + `"`,
}

// config writes the README's configuration (docs/snippets/dnsfo.toml)
// with the lab's addresses and paths: key, a state file, notify (dropped
// when empty), no restart (it would restart a unit of this host), and the
// top-level lines of extra replacing the snippet's (those the snippet
// lacks come first).
func (l *lab) config(file, key, notify, extra string) string {
	l.t.Helper()
	text := strings.NewReplacer(labAddrs...).Replace(snippet(l.t, "dnsfo.toml"))
	var lines []string
	top := map[string]string{}
	for _, e := range strings.Split(extra, "\n") {
		if k, _, ok := strings.Cut(e, "="); ok {
			k = strings.TrimSpace(k)
			top[k] = e
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(k) + ` *=`).MatchString(text) {
				lines = append(lines, e)
			}
		}
	}
	for _, line := range strings.Split(text, "\n") {
		k, _, _ := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		switch {
		case k == "tsig_key":
			line = fmt.Sprintf("tsig_key = %q\nstate_file = %q", key, filepath.Join(l.dir, file+".state"))
		case k == "notify" && notify == "":
			continue
		case k == "notify":
			line = fmt.Sprintf("notify = [%q]", notify)
		case k == "restart":
			continue
		case top[k] != "":
			line = top[k]
		}
		lines = append(lines, line)
	}
	p := filepath.Join(l.dir, file)
	must(l.t, os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o600))
	return p
}

// snippet reads docs/snippets/NAME.
func snippet(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "snippets", name))
	must(t, err)
	return string(b)
}

// runSnippet runs the shell snippet NAME with bash, each pair of repl
// replacing the README's path by the lab's, dns-failover on PATH.
func (l *lab) runSnippet(name string, repl ...string) string {
	l.t.Helper()
	script := strings.NewReplacer(repl...).Replace(snippet(l.t, name))
	cmd := l.ns.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "HA_LOGFACILITY=none")
	out, err := cmd.CombinedOutput()
	if err != nil {
		l.t.Fatalf("docs/snippets/%s: %v\n%s\n%s", name, err, script, out)
	}
	return string(out)
}

// run runs dns-failover in the lab namespace and returns its exit code
// and combined output.
func (l *lab) run(args ...string) (int, string) {
	l.t.Helper()
	cmd := l.ns.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HA_LOGFACILITY=none")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		l.t.Fatal(err)
	}
	l.t.Logf("dns-failover %s: exit %d\n%s", strings.Join(args, " "), code, out)
	return code, string(out)
}

// once runs n rounds and fails the test on a nonzero exit.
func (l *lab) once(conf string, n int) string {
	l.t.Helper()
	var all string
	for range n {
		code, out := l.run("once", "-c", conf)
		if code != 0 {
			l.t.Fatalf("once: exit %d: %s", code, out)
		}
		all += out
	}
	return all
}

func without(list []string, drop ...string) []string {
	var out []string
	for _, a := range list {
		keep := true
		for _, d := range drop {
			keep = keep && a != d
		}
		if keep {
			out = append(out, a)
		}
	}
	return out
}

// TestBINDFailover drives two real BIND 9 primaries through member deaths
// and returns, the last record, AAAA members and the SMTP banner check.
func TestBINDFailover(t *testing.T) {
	l := newLab(t)
	events := filepath.Join(l.dir, "events")
	hook := filepath.Join(l.dir, "hook.sh")
	must(t, os.WriteFile(hook, []byte("#!/bin/sh\necho \"$DNS_FAILOVER_EVENT $DNS_FAILOVER_NAME $DNS_FAILOVER_ADDRESS\" >>"+events+"\n"), 0o755))
	conf := l.config("failover.toml", l.key, hook, "")

	// A first round changes nothing: every member is healthy.
	if out := l.once(conf, 1); strings.Contains(out, "deleted") || strings.Contains(out, "added") {
		t.Fatalf("first round changed something:\n%s", out)
	}
	l.want(www, "A", www4)

	// A member dies: gone from both primaries after fall (2) rounds, not before.
	l.stop(www4[0])
	l.once(conf, 1)
	l.want(www, "A", www4)
	out := l.once(conf, 1)
	if !strings.Contains(out, "deleted "+www+" A "+www4[0]) {
		t.Fatalf("no deletion reported:\n%s", out)
	}
	l.want(www, "A", www4[1:])
	ev, _ := os.ReadFile(events)
	if !strings.Contains(string(ev), "down "+www+" "+www4[0]) || !strings.Contains(string(ev), "changed "+www) {
		t.Fatalf("notify hook saw:\n%s", ev)
	}

	// It comes back: re-added after rise (2) rounds.
	l.start(www4[0])
	l.once(conf, 1)
	l.want(www, "A", www4[1:])
	l.once(conf, 1)
	l.want(www, "A", www4)

	// All die: the last record stays (min_records = 1), and status says so.
	for _, a := range www4 {
		l.stop(a)
	}
	out = l.once(conf, 3) // fall 2, then max_removals 1 a round
	if !strings.Contains(out, "min_records is 1") {
		t.Fatalf("keeping the last record not reported:\n%s", out)
	}
	got, err := l.dig(primary1, www, "A")
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("after every member died: %v, want exactly one record left", got)
	}
	l.want(www, "A", got)
	_, st := l.run("status", "-c", conf)
	if !strings.Contains(st, "kept although failing") {
		t.Fatalf("status does not tell the kept record:\n%s", st)
	}
	for _, a := range www4 {
		l.start(a)
	}
	l.once(conf, 2)
	l.want(www, "A", www4)

	// AAAA members.
	l.stop(www6addrs[1])
	l.once(conf, 2)
	l.want(www, "AAAA", www6addrs[:1])
	l.want(www, "A", www4)
	l.start(www6addrs[1])
	l.once(conf, 2)
	l.want(www, "AAAA", www6addrs)

	// The SMTP member's banner check holds it; one member is never removed.
	l.want(smtp, "A", []string{smtpAddr})

	// A primary down: the other is updated and the failure reported; the
	// returning one is brought in line.
	l.stopNamed(primary2)
	l.stop(www4[1])
	code, out := l.run("once", "-c", conf)
	if code != 1 || !strings.Contains(out, "primary "+primary2+":53 not updated") {
		t.Fatalf("primary down: exit %d, want 1 and the failure named:\n%s", code, out)
	}
	code, out = l.run("once", "-c", conf)
	if code != 1 {
		t.Fatalf("exit %d with a primary down, want 1", code)
	}
	l.want(www, "A", without(www4, www4[1]), primary1)
	l.startNamed(primary2, false)
	l.want(www, "A", www4, primary2)
	l.once(conf, 1)
	l.want(www, "A", without(www4, www4[1]))
	if code, st := l.run("status", "-c", conf); code != 0 || !strings.Contains(st, "primary "+primary2+":53: in line") {
		t.Fatalf("status after the primary's return: exit %d\n%s", code, st)
	}
	l.start(www4[1])
	l.once(conf, 2)
	l.want(www, "A", www4)

	// restore puts every configured member back, --dry-run prints it only.
	l.stop(www4[2])
	l.once(conf, 2)
	l.want(www, "A", www4[:2])
	code, out = l.run("restore", "-c", conf, "--dry-run")
	if code != 0 || !strings.Contains(out, "update add "+www+" 60 IN A "+www4[2]) || !strings.Contains(out, "server "+primary2+" 53") {
		t.Fatalf("restore --dry-run: exit %d\n%s", code, out)
	}
	l.want(www, "A", www4[:2])
	if code, _ = l.run("restore", "-c", conf); code != 0 {
		t.Fatalf("restore: exit %d", code)
	}
	l.want(www, "A", www4)
	l.start(www4[2])
}

// TestBINDWrongKey: a key the primaries do not know is reported as
// BADSIG and changes nothing.
func TestBINDWrongKey(t *testing.T) {
	l := newLab(t)
	wrong := l.keygen("dns-failover", "wrong.conf")
	conf := l.config("wrong.toml", wrong, "", "")
	l.stop(www4[2])
	l.once(conf, 1)
	code, out := l.run("once", "-c", conf)
	if code != 1 || !strings.Contains(out, "BADSIG") {
		t.Fatalf("wrong key: exit %d, want 1 and BADSIG:\n%s", code, out)
	}
	l.want(www, "A", www4)
}

// TestClassicImport converts the README's classic failover-monitor.config
// with the README's commands (docs/snippets/dnsfo-import.sh) and runs it
// unchanged apart from the key.
func TestClassicImport(t *testing.T) {
	l := newLab(t)
	classic := filepath.Join(l.dir, "failover-monitor.config")
	text := strings.NewReplacer("192.0.2.53", primary1, "192.0.2.54", primary2, "192.0.2.1|", www4[0]+"|",
		"192.0.2.2|", www4[1]+"|", "192.0.2.3|", www4[2]+"|", "192.0.2.4|", smtpAddr+"|").Replace(snippet(t, "dnsfo-failover-monitor.config"))
	must(t, os.WriteFile(classic, []byte(text), 0o644))
	conf := filepath.Join(l.dir, "imported.toml")
	// Host checks are the machine's business: this one has no /etc/init.d/apache.
	l.runSnippet("dnsfo-import.sh", "/etc/bind/dns-failover.key", l.key, "/etc/failover-monitor.config", classic,
		"/etc/dns-failover.toml", conf, "check-config", "check-config --no-host-checks -c "+conf, "once --dry-run", "once --dry-run -c "+conf)
	state := filepath.Join(l.dir, "imported.state")
	once := func() string {
		code, out := l.run("once", "-c", conf, "--state", state)
		if code != 0 {
			t.Fatalf("once: exit %d", code)
		}
		return out
	}
	once()
	l.stop(www4[0])
	once()
	out := once()
	if !strings.Contains(out, "/etc/init.d/apache") {
		t.Fatalf("the classic restart was not tried:\n%s", out)
	}
	l.want(www, "A", www4[1:])
	l.want(smtp, "A", []string{smtpAddr})
}

// TestRunDaemon runs the daemon as systemd would (Type=notify): READY=1
// after the first round, a dead member gone from both primaries, STOPPING=1
// and exit 0 on SIGTERM. It logs the time from the kill to the removal.
func TestRunDaemon(t *testing.T) {
	l := newLab(t)
	conf := l.config("run.toml", l.key, "", `interval = "1s"`)
	sock := filepath.Join(l.dir, "notify.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	must(t, err)
	defer nc.Close()
	cmd := l.ns.Command(bin, "run", "-c", conf)
	cmd.Env = append(os.Environ(), "HA_LOGFACILITY=none", "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=2000000")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, testenv.StartTied(cmd))
	t.Cleanup(func() { testenv.Kill(cmd) })
	read := func(want string) {
		t.Helper()
		buf := make([]byte, 4096)
		for {
			must(t, nc.SetReadDeadline(time.Now().Add(15*time.Second)))
			n, err := nc.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %s: %v\n%s", want, err, out.String())
			}
			if strings.Contains(string(buf[:n]), want) {
				return
			}
		}
	}
	read("READY=1")
	read("WATCHDOG=1")
	start := time.Now()
	l.stop(www4[1])
	testenv.WaitFor(t, 20*time.Second, "removal on both primaries", func() error {
		for _, p := range []string{primary1, primary2} {
			got, err := l.dig(p, www, "A")
			if err != nil {
				return err
			}
			if strings.Join(got, " ") != strings.Join(without(www4, www4[1]), " ") {
				return fmt.Errorf("@%s: %v", p, got)
			}
		}
		return nil
	})
	t.Logf("death to removal on both primaries: %v (fall 2 x interval 1s)", time.Since(start).Round(time.Millisecond))
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	read("STOPPING=1")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run after SIGTERM: %v\n%s", err, out.String())
	}
}

// TestKnot runs the same configuration against a Knot DNS primary: a
// member's death, its return, and a wrong key reported as BADSIG.
func TestKnot(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "knotd")
	l := newLab(t)
	const knot = "10.53.0.3"
	l.ns.MustRun(t, "ip", "addr", "add", knot+"/32", "dev", "lo")
	d := filepath.Join(l.dir, "knot")
	must(t, os.MkdirAll(filepath.Join(d, "zones"), 0o700))
	must(t, os.MkdirAll(filepath.Join(d, "db"), 0o700))
	secret := regexp.MustCompile(`secret "([^"]+)"`).FindStringSubmatch(snippetFile(t, l.key))
	if secret == nil {
		t.Fatalf("no secret in %s", l.key)
	}
	zoneText, err := os.ReadFile(filepath.Join(l.dir, "named-"+primary1, "zone"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(d, "zones", "mydomain.test.zone"), zoneText, 0o600))
	conf := fmt.Sprintf(`server:
    rundir: "%[1]s"
    listen: %[2]s@53
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "%[1]s/db"
key:
  - id: dns-failover
    algorithm: hmac-sha256
    secret: %[3]s
acl:
  - id: update
    key: dns-failover
    action: update
template:
  - id: default
    storage: "%[1]s/zones"
    file: "%%s.zone"
zone:
  - domain: mydomain.test
    acl: update
`, d, knot, secret[1])
	must(t, os.WriteFile(filepath.Join(d, "knot.conf"), []byte(conf), 0o600))
	l.ns.Start(t, "knotd", "-c", filepath.Join(d, "knot.conf"))
	testenv.WaitFor(t, 20*time.Second, "knotd", func() error {
		_, err := l.dig(knot, www, "A")
		return err
	})
	cfg := l.config("knot.toml", l.key, "", fmt.Sprintf("primaries = [%q]", knot))
	l.once(cfg, 1)
	l.stop(www4[0])
	l.once(cfg, 2)
	l.want(www, "A", www4[1:], knot)
	l.start(www4[0])
	l.once(cfg, 2)
	l.want(www, "A", www4, knot)

	wrong := l.config("knot-wrong.toml", l.keygen("dns-failover", "wrong.conf"), "", fmt.Sprintf("primaries = [%q]", knot))
	l.stop(www4[2])
	l.once(wrong, 1)
	code, out := l.run("once", "-c", wrong)
	if code != 1 || !strings.Contains(out, "BADSIG") {
		t.Fatalf("wrong key at Knot: exit %d, want 1 and BADSIG:\n%s", code, out)
	}
	l.want(www, "A", www4, knot)
}

func snippetFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, err)
	return string(b)
}

// daemon starts dns-failover run with debug logging on conf and returns
// its output; stop (SIGTERM) wants exit 0.
func (l *lab) daemon(conf string) (out *testenv.SyncBuffer, stop func()) {
	l.t.Helper()
	_, out, stop = l.daemonCmd(conf)
	return out, stop
}

// daemonCmd is daemon, with the process for signals.
func (l *lab) daemonCmd(conf string) (cmd *exec.Cmd, out *testenv.SyncBuffer, stop func()) {
	l.t.Helper()
	cmd = l.ns.Command(bin, "run", "-c", conf)
	cmd.Env = append(os.Environ(), "HA_LOGFACILITY=none", "HA_debug=1")
	out = &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	must(l.t, testenv.StartTied(cmd))
	l.t.Cleanup(func() { testenv.Kill(cmd) })
	return cmd, out, func() {
		l.t.Helper()
		must(l.t, cmd.Process.Signal(syscall.SIGTERM))
		if err := cmd.Wait(); err != nil {
			l.t.Fatalf("run after SIGTERM: %v\n%s", err, out)
		}
	}
}

// rounds reads the regular rounds and early checks of a state file.
func rounds(t *testing.T, state string) (regular, early int) {
	t.Helper()
	var st struct {
		Rounds      int `json:"rounds"`
		EarlyChecks int `json:"early_checks"`
	}
	data, err := os.ReadFile(state)
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return st.Rounds, st.EarlyChecks
}

// gone waits until both primaries hold want for www A.
func (l *lab) gone(want []string) {
	l.t.Helper()
	testenv.WaitFor(l.t, 15*time.Second, fmt.Sprintf("both primaries holding %v", want), func() error {
		for _, p := range []string{primary1, primary2} {
			got, err := l.dig(p, www, "A")
			if err != nil {
				return err
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				return fmt.Errorf("@%s: %v", p, got)
			}
		}
		return nil
	})
}

// TestRunWatch: with watch = true and an interval of 30s, a killed
// member's closed connection makes the daemon check it at once: it is
// gone from both primaries while the state still counts one regular round,
// by the early check the log names. Without watch, the same setup opens no
// connection, runs no early check, and removes the member with a round.
func TestRunWatch(t *testing.T) {
	l := newLab(t)
	conf := l.config("watch.toml", l.key, "", "interval = \"30s\"\nfall = 1\nwatch = true")
	state := filepath.Join(l.dir, "watch.toml.state")
	out, stop := l.daemon(conf)
	victim := www4[0]
	testenv.WaitFor(t, 20*time.Second, "the first round and the watch of "+victim, func() error {
		if n, _ := rounds(t, state); n != 1 || !strings.Contains(out.String(), "watching "+www+" "+victim+" at ") {
			return fmt.Errorf("rounds %d", n)
		}
		return nil
	})
	l.stop(victim)
	l.gone(www4[1:])
	testenv.WaitFor(t, 10*time.Second, "the early check in the state file", func() error {
		if _, early := rounds(t, state); early == 0 {
			return fmt.Errorf("no early check saved")
		}
		return nil
	})
	text := out.String()
	if n, _ := rounds(t, state); n != 1 || !strings.Contains(text, "watch of "+www+" "+victim+" ended") ||
		!regexp.MustCompile(`early check [0-9]+ \(watch ended\) of [^\n]*`+regexp.QuoteMeta(www+" "+victim)).MatchString(text) {
		t.Fatalf("removal not by the early check of the ended watch (rounds %d):\n%s", n, text)
	}
	if !strings.Contains(text, "deleted "+www+" A "+victim) {
		t.Fatalf("no deletion logged:\n%s", text)
	}
	stop()
	l.start(victim)

	// Without watch: no connection held, no early check; a round removes it.
	conf = l.config("nowatch.toml", l.key, "", "interval = \"3s\"\nfall = 1")
	state = filepath.Join(l.dir, "nowatch.toml.state")
	out, stop = l.daemon(conf)
	victim = www4[1]
	l.gone(www4) // the first member back (rise 2)
	l.stop(victim)
	l.gone(without(www4, victim))
	testenv.WaitFor(t, 10*time.Second, "the round saved", func() error {
		if n, _ := rounds(t, state); n < 2 {
			return fmt.Errorf("rounds %d", n)
		}
		return nil
	})
	if _, early := rounds(t, state); early != 0 || strings.Contains(out.String(), "watch") {
		t.Fatalf("watch off, yet %d early checks:\n%s", early, out)
	}
	stop()
	l.start(victim)
}

// TestRunWatchSilentHost: a watched member whose host goes silent (every
// packet to it dropped, as after a power cut or a pulled cable) closes
// nothing, so its watch does not end: the regular checks remove it, and
// the daemon, its watch still open, stops at once on SIGTERM.
func TestRunWatchSilentHost(t *testing.T) {
	testenv.RequireCommand(t, "nft")
	l := newLab(t)
	conf := l.config("silent.toml", l.key, "", "interval = \"1s\"\nfall = 1\nwatch = true\ntimeout = \"500ms\"")
	out, stop := l.daemon(conf)
	victim := www4[2]
	testenv.WaitFor(t, 20*time.Second, "the watch of "+victim, func() error {
		if !strings.Contains(out.String(), "watching "+www+" "+victim+" at ") {
			return fmt.Errorf("not watched yet")
		}
		return nil
	})
	l.members[victim].ns.MustRun(t, "nft", "add table inet silent; add chain inet silent in { type filter hook input priority 0; policy drop; }")
	l.gone(without(www4, victim))
	if text := out.String(); strings.Contains(text, "watch of "+www+" "+victim+" ended") || !strings.Contains(text, "deleted "+www+" A "+victim) {
		t.Fatalf("want the removal by a regular check, the watch still open:\n%s", text)
	}
	stop()
}

// TestRunReload: SIGHUP rereads the configuration without a restart. A
// file that cannot be read is refused and the running configuration
// stays (the daemon keeps going); a good one is in force at once: its
// interval of 1s, against the first file's 30s, brings rounds that the
// old one could not have run.
func TestRunReload(t *testing.T) {
	l := newLab(t)
	conf := l.config("reload.toml", l.key, "", "interval = \"30s\"")
	state := filepath.Join(l.dir, "reload.toml.state")
	good, err := os.ReadFile(conf)
	must(t, err)
	cmd, out, stop := l.daemonCmd(conf)
	testenv.WaitFor(t, 20*time.Second, "the first round", func() error {
		if n, _ := rounds(t, state); n != 1 {
			return fmt.Errorf("rounds %d", n)
		}
		return nil
	})
	must(t, os.WriteFile(conf, []byte("interval = \"1s\"\nthis is not TOML\n"), 0o600))
	must(t, cmd.Process.Signal(syscall.SIGHUP))
	testenv.WaitFor(t, 10*time.Second, "the refused reload", func() error {
		if !strings.Contains(out.String(), "reload refused, the running configuration stays: ") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	must(t, os.WriteFile(conf, []byte(strings.Replace(string(good), `interval = "30s"`, `interval = "1s"`, 1)), 0o600))
	must(t, cmd.Process.Signal(syscall.SIGHUP))
	testenv.WaitFor(t, 15*time.Second, "rounds at the reloaded interval", func() error {
		if n, _ := rounds(t, state); n < 4 {
			return fmt.Errorf("rounds %d", n)
		}
		return nil
	})
	if text := out.String(); !strings.Contains(text, "reloaded: ") {
		t.Fatalf("no reload logged:\n%s", text)
	}
	stop()
}
