package syslog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/pairbench"
	"github.com/ocfkit/ocfkit/internal/proctest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// pkgroot is where scripts/pkgroot.sh unpacks syslog-ng and rsyslog: as
// Debian packages they conflict (installing one removes the other, and
// would change the host's logging), so neither is installed.
const pkgroot = "/var/cache/ocfkit-test/pkgroot"

// snippetFile is the path of the snippets' log file, replaced by the
// test's own.
const snippetFile = "/var/log/anycast-probe.log"

// daemon is a real syslog daemon in a namespace of its own, configured with
// the relay snippet of docs/snippets.
type daemon struct {
	t          testing.TB
	name       string
	ns         *testenv.NS
	argv       []string
	cmd        *exec.Cmd
	logFile    string
	octetPort  string // the TCP port that takes octet-counted frames
	lfPort     string // the TCP port that takes LF-ended frames
	octetAlone bool   // octet counting on its own port (syslog-ng's syslog())
}

// unpacked returns the path of a program unpacked by scripts/pkgroot.sh,
// failing (or skipping) when it is not there.
func unpacked(t testing.TB, rel string) string {
	t.Helper()
	testenv.RequireRoot(t)
	p := filepath.Join(pkgroot, rel)
	if _, err := os.Stat(p); err != nil {
		if testenv.Strict() {
			t.Fatalf("%s missing: run scripts/pkgroot.sh (make deps)", p)
		}
		t.Skipf("%s missing: run scripts/pkgroot.sh (make deps)", p)
	}
	return p
}

func snippet(t testing.TB, name, logFile string) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/snippets/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), snippetFile, logFile)
}

// startSyslogNG runs syslog-ng 3.38 from the unpacked package, with the
// snippet and extra.
func startSyslogNG(t testing.TB, extra string) *daemon {
	root := filepath.Join(pkgroot, "syslog-ng")
	bin := unpacked(t, "syslog-ng/usr/sbin/syslog-ng")
	dir := testenv.SharedTempDir(t, "sng")
	d := &daemon{t: t, name: "syslog-ng", logFile: filepath.Join(dir, "probe.log"), lfPort: "5514", octetPort: "5516"}
	conf := filepath.Join(dir, "syslog-ng.conf")
	writeFile(t, conf, "@version: 3.38\n"+snippet(t, "anycast-syslog-ng.conf", d.logFile)+extra)
	// env execs the daemon: the PID recorded is syslog-ng's own.
	d.argv = []string{"env", "LD_LIBRARY_PATH=" + filepath.Join(root, "usr/lib/syslog-ng"), bin,
		"--module-path=" + filepath.Join(root, "usr/lib/syslog-ng/3.38"),
		"-F", "-e", "-f", conf, "-R", filepath.Join(dir, "persist"), "-p", filepath.Join(dir, "pid"),
		"-c", filepath.Join(dir, "ctl")}
	d.ns = testenv.NewNS(t, "sng")
	d.start()
	return d
}

// startRsyslog runs rsyslogd 8.2302 from the unpacked package.
func startRsyslog(t *testing.T) *daemon {
	bin := unpacked(t, "rsyslog/usr/sbin/rsyslogd")
	dir := testenv.SharedTempDir(t, "rsl")
	d := &daemon{t: t, name: "rsyslog", logFile: filepath.Join(dir, "probe.log"), lfPort: "5514", octetPort: "5514"}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "rsyslog.conf")
	// processInternalMessages keeps rsyslogd's own messages off the
	// host's /dev/log.
	writeFile(t, conf, fmt.Sprintf("global(workDirectory=%q processInternalMessages=\"on\")\n", work)+
		snippet(t, "anycast-rsyslog.conf", d.logFile)+
		fmt.Sprintf("*.* action(type=\"omfile\" file=%q)\n", filepath.Join(dir, "internal.log")))
	d.argv = []string{bin, "-n", "-M", filepath.Join(pkgroot, "rsyslog/usr/lib/x86_64-linux-gnu/rsyslog"),
		"-f", conf, "-i", filepath.Join(dir, "pid")}
	d.ns = testenv.NewNS(t, "rsl")
	d.start()
	return d
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// start runs the daemon and waits until it relays.
func (d *daemon) start() {
	d.t.Helper()
	d.cmd = d.ns.Start(d.t, d.argv[0], d.argv[1:]...)
	testenv.WaitFor(d.t, 20*time.Second, d.name+" relaying", func() error {
		if proctest.Exited(d.cmd.Process.Pid) {
			return testenv.Stop(fmt.Errorf("%s exited", d.name))
		}
		_, err := d.probe(time.Second, d.relay("udp", RFC5424))
		return err
	})
}

func (d *daemon) relay(network string, f Format) Config {
	return Config{Server: "127.0.0.1:5514", Network: network, Format: f, Relay: "127.0.0.1:5515"}
}

// probe runs Probe inside the namespace within timeout.
func (d *daemon) probe(timeout time.Duration, cfg Config) (res Result, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if werr := d.ns.Within(func() error { res, err = Probe(ctx, cfg); return nil }); werr != nil {
		return res, werr
	}
	return res, err
}

func wantStage(t *testing.T, err error, stage Stage) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Stage != stage {
		t.Fatalf("err = %v, want an *Error at stage %s", err, stage)
	}
}

// TestSyslogNG and TestRsyslog run the probe against the real daemons.
func TestSyslogNG(t *testing.T) { testDaemon(t, startSyslogNG(t, "")) }

func TestRsyslog(t *testing.T) { testDaemon(t, startRsyslog(t)) }

func testDaemon(t *testing.T, d *daemon) {
	const timeout = 3 * time.Second
	healthy := map[string]Config{
		"udp/rfc5424": d.relay("udp", RFC5424),
		"udp/rfc3164": d.relay("udp", RFC3164),
		"tcp/rfc3164": d.relay("tcp", RFC3164),
		"tcp/rfc5424-octet-counting": func() Config {
			c := d.relay("tcp", RFC5424)
			c.Server, c.OctetCounting = "127.0.0.1:"+d.octetPort, true
			return c
		}(),
		"file": {Server: "127.0.0.1:5514", File: d.logFile},
	}
	for name, cfg := range healthy {
		t.Run("healthy/"+name, func(t *testing.T) {
			res, err := d.probe(timeout, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(res.Received), res.Token) {
				t.Fatalf("received %q without the token %s", res.Received, res.Token)
			}
		})
	}

	t.Run("wrong-expectation/relay-port", func(t *testing.T) {
		cfg := d.relay("udp", RFC5424)
		cfg.Relay = "127.0.0.1:5599" // nothing is relayed there
		wantStage(t, firstErr(d.probe(time.Second, cfg)), StageReceive)
	})
	t.Run("wrong-expectation/file", func(t *testing.T) {
		wantStage(t, firstErr(d.probe(time.Second, Config{Server: "127.0.0.1:5514", File: d.logFile + ".none"})), StageFile)
	})
	t.Run("relay-port-taken", func(t *testing.T) {
		var pc net.PacketConn
		if err := d.ns.Within(func() (err error) { pc, err = net.ListenPacket("udp", "127.0.0.1:5515"); return err }); err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		wantStage(t, firstErr(d.probe(time.Second, d.relay("udp", RFC5424))), StageListen)
	})

	t.Run("hung", func(t *testing.T) {
		proctest.Stop(t, d.cmd.Process.Pid)
		defer proctest.Cont(t, d.cmd.Process.Pid)
		for _, network := range []string{"udp", "tcp"} {
			// A stopped daemon still completes TCP handshakes.
			start := time.Now()
			_, err := d.probe(time.Second, d.relay(network, RFC3164))
			wantStage(t, err, StageReceive)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: err = %v, want the deadline as its cause", network, err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("%s: a hung daemon took %v to fail with a 1 s timeout", network, took)
			}
		}
		proctest.Cont(t, d.cmd.Process.Pid)
		testenv.WaitFor(t, 10*time.Second, d.name+" relaying after SIGCONT", func() error {
			_, err := d.probe(time.Second, d.relay("udp", RFC5424))
			return err
		})
	})

	t.Run("stopped", func(t *testing.T) {
		testenv.Kill(d.cmd)
		wantStage(t, firstErr(d.probe(time.Second, d.relay("udp", RFC5424))), StageReceive)
		_, err := d.probe(time.Second, d.relay("tcp", RFC5424))
		wantStage(t, err, StageSend)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("err = %v, want connection refused", err)
		}
		d.start() // waits for the recovery
		if _, err := d.probe(timeout, d.relay("tcp", RFC3164)); err != nil {
			t.Fatalf("after restart: %v", err)
		}
	})
}

func firstErr(_ Result, err error) error { return err }

// benchRelay gives the command-line check its own source (port 5518) and
// relay port (5517, where nc listens), so that the two checks never send
// to a port nobody listens on.
const benchRelay = `source s_bench { network(ip(127.0.0.1) port(5518) transport("udp")); };
destination d_bench { udp("127.0.0.1" port(5517) time-reopen(1)); };
log { source(s_bench); destination(d_bench); };
`

// BenchmarkRelay measures the UDP relay probe against what a script runs:
// logger to the daemon, and the token looked for in what nc received
// (bench/probes.sh).
func BenchmarkRelay(b *testing.B) {
	d := startSyslogNG(b, benchRelay)
	logger := testenv.RequireCommand(b, "logger")
	nc := testenv.RequireCommand(b, "nc")
	out := filepath.Join(testenv.SharedTempDir(b, "ncb"), "nc.out")
	d.ns.Start(b, "sh", "-c", `exec "$0" -k -u -l 127.0.0.1 5517 >"$1"`, nc, out)
	script := `"$0" -d -n 127.0.0.1 -P 5518 -- "$1" && until grep -qF -- "$1" "$2"; do sleep 0.005; done`
	tool := func() *exec.Cmd {
		return exec.Command("timeout", "5", "sh", "-c", script, logger, NewToken(), out)
	}
	testenv.WaitFor(b, 10*time.Second, "nc receiving the relay", func() error {
		return d.ns.Within(tool().Run)
	})
	cfg := d.relay("udp", RFC3164)
	w, err := pairbench.NewWorker(d.ns.Name)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	pairbench.Run(b, pairbench.Pair{
		Ours: func() error {
			return w.Do(func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_, err := Probe(ctx, cfg)
				return err
			})
		},
		Tool:   tool,
		Within: w.Do,
	})
}
