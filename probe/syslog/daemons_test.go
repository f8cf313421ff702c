package syslog

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/pairbench"
	"github.com/ocfkit/ocfkit/internal/proctest"
	"github.com/ocfkit/ocfkit/internal/servicelabtest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// daemon is servicelabtest's real syslog daemon (relay snippet of
// docs/snippets), probed from its namespace.
type daemon struct{ *servicelabtest.Syslog }

// ready is a daemon's readiness: it relays a UDP RFC 5424 message.
func ready(ns *testenv.NS) error {
	_, err := testenv.ProbeWithin(ns, time.Second, Probe, relayConfig("udp", RFC5424))
	return err
}

// startSyslogNG runs syslog-ng 3.38 from the unpacked package, with the
// snippet and extra.
func startSyslogNG(t testing.TB, extra string) *daemon {
	return &daemon{servicelabtest.StartSyslogNG(t, extra, ready)}
}

// startRsyslog runs rsyslogd 8.2302 from the unpacked package.
func startRsyslog(t *testing.T) *daemon { return &daemon{servicelabtest.StartRsyslog(t, ready)} }

func (d *daemon) relay(network string, f Format) Config { return relayConfig(network, f) }

func relayConfig(network string, f Format) Config {
	return Config{Server: servicelabtest.SyslogSource, Network: network, Format: f, Relay: servicelabtest.SyslogRelay}
}

// probe runs Probe inside the namespace within timeout.
func (d *daemon) probe(timeout time.Duration, cfg Config) (Result, error) {
	return testenv.ProbeWithin(d.NS, timeout, Probe, cfg)
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
			c.Server, c.OctetCounting = "127.0.0.1:"+d.OctetPort, true
			return c
		}(),
		"file": {Server: "127.0.0.1:5514", File: d.LogFile},
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
		wantStage(t, firstErr(d.probe(time.Second, Config{Server: "127.0.0.1:5514", File: d.LogFile + ".none"})), StageFile)
	})
	t.Run("relay-port-taken", func(t *testing.T) {
		var pc net.PacketConn
		if err := d.NS.Within(func() (err error) { pc, err = net.ListenPacket("udp", "127.0.0.1:5515"); return err }); err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		wantStage(t, firstErr(d.probe(time.Second, d.relay("udp", RFC5424))), StageListen)
	})

	t.Run("hung", func(t *testing.T) {
		proctest.Stop(t, d.Cmd.Process.Pid)
		defer proctest.Cont(t, d.Cmd.Process.Pid)
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
		proctest.Cont(t, d.Cmd.Process.Pid)
		testenv.WaitFor(t, 10*time.Second, d.Name+" relaying after SIGCONT", func() error {
			_, err := d.probe(time.Second, d.relay("udp", RFC5424))
			return err
		})
	})

	t.Run("stopped", func(t *testing.T) {
		testenv.Kill(d.Cmd)
		wantStage(t, firstErr(d.probe(time.Second, d.relay("udp", RFC5424))), StageReceive)
		_, err := d.probe(time.Second, d.relay("tcp", RFC5424))
		wantStage(t, err, StageSend)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("err = %v, want connection refused", err)
		}
		d.Start() // waits for the recovery
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
	d.NS.Start(b, "sh", "-c", `exec "$0" -k -u -l 127.0.0.1 5517 >"$1"`, nc, out)
	script := `"$0" -d -n 127.0.0.1 -P 5518 -- "$1" && until grep -qF -- "$1" "$2"; do sleep 0.005; done`
	tool := func() *exec.Cmd {
		return exec.Command("timeout", "5", "sh", "-c", script, logger, NewToken(), out)
	}
	testenv.WaitFor(b, 10*time.Second, "nc receiving the relay", func() error {
		return d.NS.Within(tool().Run)
	})
	cfg := d.relay("udp", RFC3164)
	w, err := pairbench.NewWorker(d.NS.Name)
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
