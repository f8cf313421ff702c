//go:build linux

package anycastprobe

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/proctest"
	"github.com/ocfkit/ocfkit/internal/servicelabtest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// svcLab is anycast-probe run in the namespace of a real server, its
// services holding addresses on that namespace's lo.
type svcLab struct {
	t      *testing.T
	ns     *testenv.NS
	sock   string
	cmd    *exec.Cmd
	stderr *testenv.SyncBuffer
}

// service is the TOML of one service holding addr with one check.
func service(name, addr, check string) string {
	return fmt.Sprintf(`
[service.%[1]s]
addresses = [%[2]q]
rise = 2
fall = 1
interval = "200ms"
fast_interval = "100ms"
timeout = "700ms"

[[service.%[1]s.check]]
%[3]s
`, name, addr, check)
}

// secretFile writes content to a file filesafe accepts and returns its
// path.
func secretFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runIn starts `anycast-probe run` in ns with head and the services.
func runIn(t *testing.T, ns *testenv.NS, head string, services ...string) *svcLab {
	t.Helper()
	l := &svcLab{t: t, ns: ns, sock: filepath.Join(t.TempDir(), "s.sock"), stderr: &testenv.SyncBuffer{}}
	cfg := writeConfig(t, fmt.Sprintf("socket = %q\n%s\n", l.sock, head)+strings.Join(services, ""))
	l.cmd = ns.Command(binary(t), "run", "-c", cfg)
	l.start()
	return l
}

// runOneLiner starts a one-liner in ns.
func runOneLiner(t *testing.T, ns *testenv.NS, args ...string) *svcLab {
	t.Helper()
	l := &svcLab{t: t, ns: ns, sock: filepath.Join(t.TempDir(), "s.sock"), stderr: &testenv.SyncBuffer{}}
	l.cmd = ns.Command(binary(t), append([]string{args[0], "--socket", l.sock, "--interval", "200ms",
		"--fast-interval", "100ms", "--timeout", "700ms", "--rise", "2"}, args[1:]...)...)
	l.start()
	return l
}

func (l *svcLab) start() {
	l.t.Helper()
	l.cmd.Stderr = l.stderr
	if err := testenv.StartTied(l.cmd); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() {
		testenv.Kill(l.cmd)
		if l.t.Failed() {
			l.t.Logf("anycast-probe's log:\n%s", l.stderr)
		}
	})
	testenv.WaitFor(l.t, 10*time.Second, "status socket", func() error { _, err := l.status(); return err })
}

func (l *svcLab) status(args ...string) (string, error) {
	out, err := l.ns.Command(binary(l.t), append([]string{"status", "--socket", l.sock}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return string(out), nil
}

func (l *svcLab) statusJSON() StatusJSON {
	l.t.Helper()
	out, err := l.status("--json")
	if err != nil {
		l.t.Fatal(err)
	}
	var st StatusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		l.t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st
}

// serviceText is the part of the text status about one service.
func serviceText(status, name string) string {
	_, rest, _ := strings.Cut(status, "service "+name+":")
	if i := strings.Index(rest, "\nservice "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// wait waits until addr is held (or not) and, when stage is given, the
// service's status names it as the last failure's stage.
func (l *svcLab) wait(name, addr string, held bool, stage, what string) {
	l.t.Helper()
	testenv.WaitFor(l.t, 15*time.Second, what, func() error {
		a := l.ns.MustRun(l.t, "ip", "-o", "addr", "show", "dev", "lo")
		s, err := l.status()
		if err != nil {
			return err
		}
		if strings.Contains(a, " "+addr+"/32") != held {
			return fmt.Errorf("want %s held=%v; addresses:\n%s\nstatus:\n%s", addr, held, a, s)
		}
		if stage != "" && !strings.Contains(serviceText(s, name), "at stage "+stage+"\n") {
			return fmt.Errorf("want service %s's last failure at stage %s; status:\n%s", name, stage, s)
		}
		return nil
	})
}

// faults runs the common course of a real server: held while healthy,
// withdrawn when hung (SIGSTOP) and when stopped, each with the stage
// named, back after rise each time.
func faults(t *testing.T, l *svcLab, srv *servicelabtest.Server, name, addr, hungStage, stoppedStage string) {
	t.Helper()
	l.wait(name, addr, true, "", name+" up while the server works")
	proctest.Stop(t, srv.Cmd.Process.Pid)
	l.wait(name, addr, false, hungStage, name+" withdrawn while the server is hung")
	proctest.Cont(t, srv.Cmd.Process.Pid)
	l.wait(name, addr, true, "", name+" back after SIGCONT")
	srv.Stop()
	l.wait(name, addr, false, stoppedStage, name+" withdrawn while the server is stopped")
	srv.Start()
	l.wait(name, addr, true, "", name+" back after the restart")
}

// TestRadiusService runs a radius check through the daemon against a real
// FreeRADIUS: Status-Server on the status virtual server held, hung and
// stopped withdrawn at stage reply; an Access-Request with the wrong
// password never held (stage code); a wrong Reply-Message expectation
// never held (stage attribute). The metrics endpoint and status --json
// follow the transitions.
func TestRadiusService(t *testing.T) {
	f := servicelabtest.StartFreeradius(t, func(ns *testenv.NS) error {
		return ns.Command(binary(t), "check", "-c", writeConfig(t, service("r", "192.0.2.91",
			radiusTOML(servicelabtest.RadiusStatusServer, secretFile(t, servicelabtest.RadiusStatusSecret), "")))).Run()
	})
	l := runIn(t, f.NS, `metrics_listen = "127.0.0.1:9426"`,
		service("status", "192.0.2.90", radiusTOML(servicelabtest.RadiusStatusServer, secretFile(t, servicelabtest.RadiusStatusSecret), "")),
		// FreeRADIUS delays an Access-Reject by reject_delay (1 s).
		strings.Replace(service("wrongpass", "192.0.2.92", radiusTOML("127.0.0.1:1812", secretFile(t, servicelabtest.RadiusNASSecret),
			fmt.Sprintf("user = %q\npassword_file = %q", servicelabtest.RadiusUser, secretFile(t, "wrong")))), `"700ms"`, `"3s"`, 1),
		service("wrongreply", "192.0.2.93", radiusTOML("127.0.0.1:1812", secretFile(t, servicelabtest.RadiusNASSecret),
			fmt.Sprintf("user = %q\npassword_file = %q\nreply_message = \"goodbye\"", servicelabtest.RadiusUser, secretFile(t, servicelabtest.RadiusPassword)))))
	l.wait("status", "192.0.2.90", true, "", "status up")
	l.wait("wrongpass", "192.0.2.92", false, "code", "wrongpass down at stage code")
	l.wait("wrongreply", "192.0.2.93", false, "attribute", "wrongreply down at stage attribute")
	before := l.scrape()
	if before[`anycast_probe_service_up{service="status"}`] != 1 || before[`anycast_probe_service_up{service="wrongpass"}`] != 0 ||
		before[`anycast_probe_transitions_total{service="status"}`] != 1 ||
		before[`anycast_probe_last_error_stage{check="radius access-request 127.0.0.1:1812",service="wrongpass",stage="code"}`] != 1 ||
		before[`anycast_probe_probe_duration_seconds_count{service="status"}`] < 2 {
		t.Errorf("metrics while up:\n%v", before)
	}
	st := l.statusJSON()
	if st.Total != 3 || st.Up != 1 || len(st.Services) != 3 || st.Services[0].Name != "status" || st.Services[0].State != "up" ||
		st.Services[2].Name != "wrongreply" || st.Services[2].LastFailure == nil || st.Services[2].LastFailure.Stage != "attribute" ||
		len(st.Services[2].Checks) != 1 || st.Services[2].Checks[0].OK || st.Services[2].Checks[0].Stage != "attribute" ||
		!strings.Contains(st.Services[2].Checks[0].Error, "Reply-Message") {
		t.Errorf("status --json: %+v", st)
	}
	faults(t, l, &f.Server, "status", "192.0.2.90", "reply", "reply")
	after := l.scrape()
	if after[`anycast_probe_service_up{service="status"}`] != 1 || after[`anycast_probe_transitions_total{service="status"}`] != 5 ||
		after[`anycast_probe_last_error_stage{check="radius status-server 127.0.0.1:18121",service="status",stage="reply"}`] != 1 ||
		after[`anycast_probe_probes_total{result="failed",service="status"}`] < 2 {
		t.Errorf("metrics after the faults:\n%v", after)
	}
	if s := l.stderr.String(); strings.Contains(s, servicelabtest.RadiusStatusSecret) || strings.Contains(s, servicelabtest.RadiusPassword) {
		t.Errorf("a secret is in the log:\n%s", s)
	}
}

func radiusTOML(server, secret, extra string) string {
	return fmt.Sprintf("type = \"radius\"\nserver = %q\nsecret_file = %q\nretry = \"200ms\"\n%s\n", server, secret, extra)
}

// scrape reads the metrics endpoint (in the lab's namespace).
func (l *svcLab) scrape() map[string]float64 {
	l.t.Helper()
	var text string
	err := l.ns.Within(func() error {
		// Dialled here: http.Get would dial from another thread, outside
		// the namespace.
		c, err := net.DialTimeout("tcp", "127.0.0.1:9426", 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
			return fmt.Errorf("metrics: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		text = string(b)
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	m, err := scrapeValues(text)
	if err != nil {
		l.t.Fatalf("metrics: %v\n%s", err, text)
	}
	return m
}

// TestSyslogService runs the syslog one-liner against a real syslog-ng
// relaying a probe message back (the snippet): held, withdrawn at stage
// receive when hung or stopped, back after rise.
func TestSyslogService(t *testing.T) {
	d := servicelabtest.StartSyslogNG(t, "", func(ns *testenv.NS) error {
		return ns.Command(binary(t), "check", "-c", writeConfig(t, service("s", "192.0.2.91",
			fmt.Sprintf("type = \"syslog\"\nserver = %q\nrelay = %q\n", servicelabtest.SyslogSource, servicelabtest.SyslogRelay)))).Run()
	})
	l := runOneLiner(t, d.NS, "syslog", "--relay", servicelabtest.SyslogRelay, servicelabtest.SyslogSource, "192.0.2.94")
	faults(t, l, &d.Server, "syslog", "192.0.2.94", "receive", "receive")
}

// TestRsyslogFileService runs a syslog check in file mode (TCP, RFC
// 3164) against a real rsyslog writing the snippet's log file.
func TestRsyslogFileService(t *testing.T) {
	d := servicelabtest.StartRsyslog(t, func(ns *testenv.NS) error {
		return ns.Command(binary(t), "check", "-c", writeConfig(t, service("s", "192.0.2.91",
			fmt.Sprintf("type = \"syslog\"\nserver = %q\nrelay = %q\n", servicelabtest.SyslogSource, servicelabtest.SyslogRelay)))).Run()
	})
	l := runIn(t, d.NS, "", service("file", "192.0.2.95",
		fmt.Sprintf("type = \"syslog\"\nserver = %q\ntcp = true\nformat = \"rfc3164\"\nfile = %q\n", servicelabtest.SyslogSource, d.LogFile)))
	l.wait("file", "192.0.2.95", true, "", "file up")
	proctest.Stop(t, d.Cmd.Process.Pid)
	l.wait("file", "192.0.2.95", false, "receive", "file withdrawn while rsyslog is hung")
	proctest.Cont(t, d.Cmd.Process.Pid)
	l.wait("file", "192.0.2.95", true, "", "file back")
}

// TestProxyService runs proxy checks through the daemon against a real
// squid: GET and CONNECT held; a target squid cannot reach never held
// (stage upstream: squid's own 503); squid hung withdrawn at stage proxy,
// stopped at stage connect; back after rise.
func TestProxyService(t *testing.T) {
	get := fmt.Sprintf("type = \"proxy\"\nserver = %q\ntarget = \"http://%s/\"\nbody = \"origin OK\"\n", servicelabtest.SquidProxy, servicelabtest.OriginHTTP)
	s := servicelabtest.StartSquid(t, func(ns *testenv.NS) error {
		return ns.Command(binary(t), "check", "-c", writeConfig(t, service("p", "192.0.2.91", get))).Run()
	})
	l := runIn(t, s.NS, "",
		service("get", "192.0.2.96", get),
		service("connect", "192.0.2.97", get+"connect = true\n"),
		service("upstream", "192.0.2.98", fmt.Sprintf("type = \"proxy\"\nserver = %q\ntarget = \"http://127.0.0.1:8081/\"\n", servicelabtest.SquidProxy)))
	l.wait("connect", "192.0.2.97", true, "", "connect up")
	l.wait("upstream", "192.0.2.98", false, "upstream", "upstream down at stage upstream")
	faults(t, l, &s.Server, "get", "192.0.2.96", "proxy", "connect")
}

// TestSocksService runs the socks one-liner against a real danted: a
// CONNECT to an echo server with data held; danted hung withdrawn at
// stage greeting, stopped at stage connect; back after rise.
func TestSocksService(t *testing.T) {
	testenv.RequireRoot(t)
	bin := testenv.RequireCommand(t, "danted")
	ns := testenv.NewNS(t, "acs")
	echo := startEcho(t, ns)
	dir := t.TempDir()
	conf := filepath.Join(dir, "danted.conf")
	testenv.DanteConfig{LogFile: filepath.Join(dir, "danted.log"), Internal: []string{"127.0.0.1"}, Port: 1080, External: "lo"}.Write(t, conf)
	srv := &servicelabtest.Server{T: t, Name: "danted", NS: ns, Argv: []string{bin, "-f", conf, "-p", filepath.Join(dir, "pid")},
		Ready: func(ns *testenv.NS) error {
			return ns.Command(binary(t), "check", "-c", writeConfig(t, service("k", "192.0.2.91",
				"type = \"socks\"\nserver = \"127.0.0.1:1080\"\n"))).Run()
		}}
	srv.Start()
	l := runOneLiner(t, ns, "socks", "--target", echo, "--send", "ping\\n", "127.0.0.1:1080", "192.0.2.99")
	faults(t, l, srv, "socks", "192.0.2.99", "greeting", "connect")
}

// startEcho runs a TCP echo server on 127.0.0.1 of ns and returns its
// address.
func startEcho(t *testing.T, ns *testenv.NS) string {
	t.Helper()
	var ln net.Listener
	if err := ns.Within(func() (err error) { ln, err = net.Listen("tcp", "127.0.0.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	return testenv.Serve(t, ln, func(c net.Conn) { _, _ = io.Copy(c, c) })
}
