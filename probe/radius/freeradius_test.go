package radius

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/ocfkit/ocfkit/internal/pairbench"
	"github.com/ocfkit/ocfkit/internal/proctest"
	"github.com/ocfkit/ocfkit/internal/servicelabtest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// The secrets and user of the test server (internal/servicelabtest).
const (
	statusSecret = servicelabtest.RadiusStatusSecret
	nasSecret    = servicelabtest.RadiusNASSecret
	testUser     = servicelabtest.RadiusUser
	testPassword = servicelabtest.RadiusPassword
	testReply    = servicelabtest.RadiusReply
)

// freeradius is servicelabtest's real FreeRADIUS, probed from its
// namespace.
type freeradius struct{ *servicelabtest.Freeradius }

// startFreeradius starts the server, ready when Status-Server is answered.
func startFreeradius(t testing.TB) *freeradius {
	t.Helper()
	f := &freeradius{}
	f.Freeradius = servicelabtest.StartFreeradius(t, func(ns *testenv.NS) error {
		_, err := testenv.ProbeWithin(ns, time.Second, Probe, f.status(statusSecret))
		return err
	})
	return f
}

func (f *freeradius) status(secret string) Config {
	return Config{Server: servicelabtest.RadiusStatusServer, Secret: []byte(secret), Retry: 300 * time.Millisecond}
}

// probe runs Probe inside the namespace within timeout.
func (f *freeradius) probe(timeout time.Duration, cfg Config) (Result, error) {
	return testenv.ProbeWithin(f.NS, timeout, Probe, cfg)
}

// wantStage checks that err is an *Error at stage.
func wantStage(t *testing.T, err error, stage Stage) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *Error at stage %s", err, stage)
	}
	if e.Stage != stage {
		t.Fatalf("stage %s (%v), want %s", e.Stage, err, stage)
	}
	if strings.Contains(err.Error(), statusSecret) || strings.Contains(err.Error(), nasSecret) {
		t.Fatalf("error shows the secret: %v", err)
	}
	return e
}

// TestFreeradius runs the probe against a real FreeRADIUS: healthy, wrong
// secret, wrong expectations, hung (SIGSTOP), recovered, stopped, restarted.
func TestFreeradius(t *testing.T) {
	f := startFreeradius(t)
	access := func(secret, password string) Config {
		return Config{Server: "127.0.0.1:1812", Secret: []byte(secret), Kind: AccessRequest,
			User: testUser, Password: password, Retry: 300 * time.Millisecond}
	}
	const timeout = 3 * time.Second // above the server's 1 s reject_delay

	t.Run("healthy/status-server", func(t *testing.T) {
		res, err := f.probe(timeout, f.status(statusSecret))
		if err != nil || res.Code != radius.CodeAccessAccept {
			t.Fatalf("Probe = %+v, %v; want Access-Accept", res, err)
		}
	})
	t.Run("healthy/accounting", func(t *testing.T) {
		cfg := f.status(nasSecret)
		cfg.Server, cfg.Accounting = "127.0.0.1:1813", true
		res, err := f.probe(timeout, cfg)
		if err != nil || res.Code != radius.CodeAccountingResponse {
			t.Fatalf("Probe = %+v, %v; want Accounting-Response", res, err)
		}
	})
	t.Run("healthy/access-request", func(t *testing.T) {
		cfg := access(nasSecret, testPassword)
		cfg.ReplyMessage = "hello"
		res, err := f.probe(timeout, cfg)
		if err != nil || res.Code != radius.CodeAccessAccept {
			t.Fatalf("Probe = %+v, %v; want Access-Accept", res, err)
		}
	})
	t.Run("wrong-secret/status-server", func(t *testing.T) {
		// The server drops it (bad Message-Authenticator): no reply.
		_, err := f.probe(time.Second, f.status("not-the-secret"))
		wantStage(t, err, StageReply)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the deadline as its cause", err)
		}
	})
	t.Run("wrong-secret/access-request", func(t *testing.T) {
		// The request's Message-Authenticator does not verify: dropped.
		// (Without one, FreeRADIUS would answer an Access-Reject signed
		// with its own secret: TestForgedReply.)
		_, err := f.probe(time.Second, access("not-the-secret", testPassword))
		wantStage(t, err, StageReply)
	})
	t.Run("wrong-expectation/password", func(t *testing.T) {
		res, err := f.probe(timeout, access(nasSecret, "wrong"))
		wantStage(t, err, StageCode)
		if res.Code != radius.CodeAccessReject {
			t.Errorf("code %v, want Access-Reject", res.Code)
		}
	})
	t.Run("wrong-expectation/reply-message", func(t *testing.T) {
		cfg := access(nasSecret, testPassword)
		cfg.ReplyMessage = "goodbye"
		wantStage(t, firstErr(f.probe(timeout, cfg)), StageAttribute)
	})
	t.Run("wrong-expectation/code", func(t *testing.T) {
		cfg := f.status(statusSecret)
		cfg.Expect = radius.CodeAccessReject
		wantStage(t, firstErr(f.probe(timeout, cfg)), StageCode)
	})

	t.Run("hung", func(t *testing.T) {
		proctest.Stop(t, f.Cmd.Process.Pid)
		defer proctest.Cont(t, f.Cmd.Process.Pid)
		start := time.Now()
		_, err := f.probe(time.Second, f.status(statusSecret))
		wantStage(t, err, StageReply)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("a hung server took %v to fail with a 1 s timeout", took)
		}
		proctest.Cont(t, f.Cmd.Process.Pid)
		testenv.WaitFor(t, 10*time.Second, "Status-Server answered after SIGCONT", func() error {
			_, err := f.probe(time.Second, f.status(statusSecret))
			return err
		})
	})

	t.Run("stopped", func(t *testing.T) {
		f.Stop()
		_, err := f.probe(timeout, f.status(statusSecret))
		wantStage(t, err, StageReply)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("err = %v, want connection refused (ICMP port unreachable)", err)
		}
		f.Start() // waits for the recovery
		if _, err := f.probe(timeout, access(nasSecret, testPassword)); err != nil {
			t.Fatalf("after restart: %v", err)
		}
	})
}

func firstErr(_ Result, err error) error { return err }

// TestReadSecret reads the secret from a file and refuses an unsafe one.
func TestReadSecret(t *testing.T) {
	testenv.RequireRoot(t)
	// Not under /tmp: filesafe refuses a secret in a directory others
	// may write.
	dir, err := os.MkdirTemp("/run", "ocfkit-secret-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := filepath.Join(dir, "secret")
	servicelabtest.WriteFile(t, p, "s3cret\n")
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSecret(p, os.Getuid())
	if err != nil || string(got) != "s3cret" {
		t.Fatalf("ReadSecret = %q, %v", got, err)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecret(p, os.Getuid()); err == nil {
		t.Fatal("a world-writable secret file was accepted")
	} else if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error shows the secret: %v", err)
	}
	servicelabtest.WriteFile(t, p, "\n")
	os.Chmod(p, 0o600)
	if _, err := ReadSecret(p, os.Getuid()); err == nil {
		t.Fatal("an empty secret was accepted")
	}
	if _, err := ReadSecret(filepath.Join(dir, "none"), os.Getuid()); err == nil {
		t.Fatal("a missing file was accepted")
	}
}

// BenchmarkStatusServer measures the probe against `radclient` sending the
// same Status-Server, the check a script would run (bench/probes.sh).
func BenchmarkStatusServer(b *testing.B) {
	f := startFreeradius(b)
	radclient := testenv.RequireCommand(b, "radclient")
	cfg := f.status(statusSecret)
	w := worker(b, f.NS)
	pairbench.Run(b, pairbench.Pair{
		Ours: func() error { return w.Do(func() error { return timed(2*time.Second, cfg) }) },
		Tool: func() *exec.Cmd {
			cmd := exec.Command(radclient, "-r", "1", "-t", "2", "127.0.0.1:18121", "status", statusSecret)
			cmd.Stdin = strings.NewReader("Message-Authenticator = 0x00\n")
			return cmd
		},
		Check: func(out []byte) error {
			if !strings.Contains(string(out), "Access-Accept") {
				return errors.New("no Access-Accept")
			}
			return nil
		},
		Within: w.Do,
	})
}

// worker is a pairbench.Worker in ns, closed when b ends.
func worker(b *testing.B, ns *testenv.NS) *pairbench.Worker {
	w, err := pairbench.NewWorker(ns.Name)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Close)
	return w
}

// timed runs Probe within timeout.
func timed(timeout time.Duration, cfg Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := Probe(ctx, cfg)
	return err
}
