package proxy

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/pairbench"
	"github.com/ocfkit/ocfkit/internal/proctest"
	"github.com/ocfkit/ocfkit/internal/servicelabtest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// originBody is what the origin server answers on /.
const originBody = servicelabtest.OriginBody

// squid is servicelabtest's real squid in front of an origin on
// 127.0.0.1:8080 of its namespace, probed from that namespace.
type squid struct{ *servicelabtest.Squid }

// startSquid starts squid and the origin, ready when a GET goes through.
func startSquid(t testing.TB) *squid {
	t.Helper()
	return &squid{servicelabtest.StartSquid(t, func(ns *testenv.NS) error {
		_, err := testenv.ProbeWithin(ns, time.Second, Probe, get("/"))
		return err
	})}
}

func get(path string) Config {
	return Config{Proxy: "127.0.0.1:3128", Target: "http://127.0.0.1:8080" + path, Body: "origin OK"}
}

func connect(target string) Config {
	return Config{Proxy: "127.0.0.1:3128", Mode: Connect, Target: target, Body: "origin OK"}
}

func (s *squid) probe(timeout time.Duration, cfg Config) (Result, error) {
	return testenv.ProbeWithin(s.NS, timeout, Probe, cfg)
}

func wantStage(t *testing.T, err error, stage Stage) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Stage != stage {
		t.Fatalf("err = %v, want an *Error at stage %s", err, stage)
	}
	return e
}

// TestSquid runs the probe through a real squid: healthy (GET, CONNECT),
// upstream down, closed or hung (the proxy's own 503/504), wrong
// expectations, CONNECT refused, squid hung (SIGSTOP), stopped, restarted.
func TestSquid(t *testing.T) {
	s := startSquid(t)
	const timeout = 5 * time.Second

	t.Run("healthy/get", func(t *testing.T) {
		res, err := s.probe(timeout, get("/"))
		if err != nil || res.Status != 200 || res.Bytes != int64(len(originBody)) {
			t.Fatalf("Probe = %+v, %v", res, err)
		}
	})
	t.Run("healthy/connect", func(t *testing.T) {
		if _, err := s.probe(timeout, connect("http://127.0.0.1:8080/")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("healthy/connect-https", func(t *testing.T) {
		cfg := connect("https://127.0.0.1:8443/")
		cfg.TLS = s.TLS
		if _, err := s.probe(timeout, cfg); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong-expectation/tls", func(t *testing.T) {
		// The system's roots do not trust the test's certificate.
		wantStage(t, firstErr(s.probe(timeout, connect("https://127.0.0.1:8443/"))), StageTLS)
	})
	t.Run("target-hung/connect", func(t *testing.T) {
		// The tunnel opens, the target never answers.
		e := wantStage(t, firstErr(s.probe(time.Second, connect("http://127.0.0.1:8080/hang"))), StageTarget)
		if e.ProxyDown() {
			t.Error("a silent target reads as proxy down")
		}
	})
	t.Run("upstream-down/get", func(t *testing.T) {
		cfg := get("/")
		cfg.Target = "http://127.0.0.1:8081/"
		e := wantStage(t, firstErr(s.probe(timeout, cfg)), StageUpstream)
		if e.Status != 503 || e.ProxyDown() {
			t.Errorf("status %d, proxy down %v: want 503 from a working proxy", e.Status, e.ProxyDown())
		}
	})
	t.Run("upstream-down/connect", func(t *testing.T) {
		// 8081 is not an allowed CONNECT port: squid says 403 first.
		e := wantStage(t, firstErr(s.probe(timeout, connect("http://127.0.0.1:8081/"))), StageTunnel)
		if e.Status != 403 {
			t.Errorf("status %d, want 403", e.Status)
		}
	})
	t.Run("upstream-hung/get", func(t *testing.T) {
		e := wantStage(t, firstErr(s.probe(8*time.Second, get("/hang"))), StageUpstream)
		if e.Status != 504 {
			t.Errorf("status %d, want 504", e.Status)
		}
	})
	t.Run("wrong-expectation/body", func(t *testing.T) {
		cfg := get("/")
		cfg.Body = "not there"
		wantStage(t, firstErr(s.probe(timeout, cfg)), StageBody)
	})
	t.Run("wrong-expectation/status", func(t *testing.T) {
		cfg := connect("http://127.0.0.1:8080/")
		cfg.Status = 404
		wantStage(t, firstErr(s.probe(timeout, cfg)), StageStatus)
	})

	t.Run("hung", func(t *testing.T) {
		proctest.Stop(t, s.Cmd.Process.Pid)
		defer proctest.Cont(t, s.Cmd.Process.Pid)
		for _, cfg := range []Config{get("/"), connect("http://127.0.0.1:8080/")} {
			// A stopped squid still completes TCP handshakes.
			start := time.Now()
			e := wantStage(t, firstErr(s.probe(time.Second, cfg)), StageProxy)
			if !e.ProxyDown() || !errors.Is(e, context.DeadlineExceeded) {
				t.Errorf("%s: %v: want proxy down by the deadline", cfg.Mode, e)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("a hung squid took %v to fail with a 1 s timeout", took)
			}
		}
		proctest.Cont(t, s.Cmd.Process.Pid)
		testenv.WaitFor(t, 10*time.Second, "squid proxying after SIGCONT", func() error {
			_, err := s.probe(time.Second, get("/"))
			return err
		})
	})

	t.Run("stopped", func(t *testing.T) {
		testenv.Kill(s.Cmd)
		e := wantStage(t, firstErr(s.probe(timeout, get("/"))), StageConnect)
		if !e.ProxyDown() || !errors.Is(e, syscall.ECONNREFUSED) {
			t.Errorf("%v: want proxy down, connection refused", e)
		}
		s.Start()
		if _, err := s.probe(timeout, connect("http://127.0.0.1:8080/")); err != nil {
			t.Fatalf("after restart: %v", err)
		}
	})
}

func firstErr(_ Result, err error) error { return err }

// BenchmarkGet measures the GET probe against `curl -x`, the check a
// script would run (bench/probes.sh).
func BenchmarkGet(b *testing.B) {
	s := startSquid(b)
	curl := testenv.RequireCommand(b, "curl")
	cfg := get("/")
	w, err := pairbench.NewWorker(s.NS.Name)
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
		Tool: func() *exec.Cmd {
			return exec.Command(curl, "-sf", "-m", "2", "-x", "http://"+cfg.Proxy, cfg.Target)
		},
		Check: func(out []byte) error {
			if string(out) != originBody {
				return fmt.Errorf("body %q", out)
			}
			return nil
		},
		Within: w.Do,
	})
}
