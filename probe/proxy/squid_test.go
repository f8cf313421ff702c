package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/pairbench"
	"github.com/ocfkit/ocfkit/internal/proctest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// originBody is what the origin server answers on /.
const originBody = "anycast origin OK\n"

// squid is a real squid in a namespace of its own, in front of an origin
// server on 127.0.0.1:8080 of the same namespace (served by the test).
type squid struct {
	t    testing.TB
	ns   *testenv.NS
	argv []string
	cmd  *exec.Cmd
	tls  *tls.Config // trusts the TLS origin on 127.0.0.1:8443
}

// startSquid writes the configuration (the snippet and the test's own
// paths) and starts squid and the origin.
func startSquid(t testing.TB) *squid {
	t.Helper()
	testenv.RequireRoot(t)
	bin := testenv.RequireCommand(t, "squid")
	testenv.RequireCommand(t, "mount")
	ns := testenv.NewNS(t, "sq")
	startOrigin(t, ns)
	roots := startTLSOrigin(t, ns)
	dir := testenv.SharedTempDir(t, "squid")
	snippet, err := os.ReadFile("../../docs/snippets/anycast-squid.conf")
	if err != nil {
		t.Fatal(err)
	}
	// squid's defaults would write under /var/log/squid, start helpers
	// and use the host's resolver: all set here.
	conf := string(snippet) + fmt.Sprintf(`visible_hostname probe-squid
cache_effective_user proxy
cache_effective_group proxy
pid_filename %[1]s/squid.pid
cache_log %[1]s/cache.log
access_log stdio:%[1]s/access.log squid
cache_store_log none
netdb_filename none
coredump_dir %[1]s
pinger_enable off
dns_nameservers 127.0.0.1
cache_mem 8 MB
cache deny all
shutdown_lifetime 1 seconds
`, dir)
	path := filepath.Join(dir, "squid.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "chown", "-R", "proxy:proxy", dir)
	// squid refuses root (it runs as proxy) and keeps shared memory in
	// /dev/shm: a tmpfs of its own in the private mount namespace that
	// `ip netns exec` makes, so nothing is left on the host.
	s := &squid{t: t, ns: ns, tls: &tls.Config{RootCAs: roots}, argv: []string{"sh", "-c",
		`mount -t tmpfs -o size=64m,mode=1777 ocfkit-squid-shm /dev/shm && exec "$0" -N -d 1 -f "$1"`, bin, path}}
	s.start()
	return s
}

// startOrigin serves / (originBody) and /hang (answers only when the
// request ends) on 127.0.0.1:8080 of ns.
func startOrigin(t testing.TB, ns *testenv.NS) {
	t.Helper()
	var ln net.Listener
	if err := ns.Within(func() (err error) { ln, err = net.Listen("tcp", "127.0.0.1:8080"); return err }); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, originBody) })
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { close(stop); srv.Close() })
}

// startTLSOrigin serves originBody over TLS on 127.0.0.1:8443 of ns and
// returns the roots that trust it.
func startTLSOrigin(t testing.TB, ns *testenv.NS) *x509.CertPool {
	t.Helper()
	var ln net.Listener
	if err := ns.Within(func() (err error) { ln, err = net.Listen("tcp", "127.0.0.1:8443"); return err }); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, originBody) }))
	srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return roots
}

func (s *squid) start() {
	s.t.Helper()
	s.cmd = s.ns.Start(s.t, s.argv[0], s.argv[1:]...)
	testenv.WaitFor(s.t, 20*time.Second, "squid proxying", func() error {
		if proctest.Exited(s.cmd.Process.Pid) {
			return testenv.Stop(errors.New("squid exited"))
		}
		_, err := s.probe(time.Second, get("/"))
		return err
	})
}

func get(path string) Config {
	return Config{Proxy: "127.0.0.1:3128", Target: "http://127.0.0.1:8080" + path, Body: "origin OK"}
}

func connect(target string) Config {
	return Config{Proxy: "127.0.0.1:3128", Mode: Connect, Target: target, Body: "origin OK"}
}

func (s *squid) probe(timeout time.Duration, cfg Config) (res Result, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if werr := s.ns.Within(func() error { res, err = Probe(ctx, cfg); return nil }); werr != nil {
		return res, werr
	}
	return res, err
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
		cfg.TLS = s.tls
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
		proctest.Stop(t, s.cmd.Process.Pid)
		defer proctest.Cont(t, s.cmd.Process.Pid)
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
		proctest.Cont(t, s.cmd.Process.Pid)
		testenv.WaitFor(t, 10*time.Second, "squid proxying after SIGCONT", func() error {
			_, err := s.probe(time.Second, get("/"))
			return err
		})
	})

	t.Run("stopped", func(t *testing.T) {
		testenv.Kill(s.cmd)
		e := wantStage(t, firstErr(s.probe(timeout, get("/"))), StageConnect)
		if !e.ProxyDown() || !errors.Is(e, syscall.ECONNREFUSED) {
			t.Errorf("%v: want proxy down, connection refused", e)
		}
		s.start()
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
	w, err := pairbench.NewWorker(s.ns.Name)
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
