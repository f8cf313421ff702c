//go:build linux

package anycastprobe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/action"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// lab is one namespace running the daemon with an exec check whose
// health is a file's existence.
type lab struct {
	t       *testing.T
	ns      *testenv.NS
	cfg     string
	healthy string
	sock    string
	stderr  *testenv.SyncBuffer
	cmd     *exec.Cmd
}

func newLab(t *testing.T, extra string) *lab {
	testenv.RequireRoot(t)
	binary(t)
	ns := testenv.NewNS(t, "acp")
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	dir := t.TempDir()
	l := &lab{t: t, ns: ns, healthy: filepath.Join(dir, "healthy"), sock: filepath.Join(dir, "run", "s.sock")} // run/ does not exist yet
	l.cfg = writeConfig(t, fmt.Sprintf(`socket = %q
[service.web]
addresses = ["192.0.2.53", "2001:db8::53/128"]
rise = 2
fall = 2
interval = "200ms"
fast_interval = "50ms"
timeout = "1s"
%s
[[service.web.check]]
type = "exec"
command = ["/usr/bin/test", "-e", %q]
`, l.sock, extra, l.healthy))
	return l
}

func (l *lab) start() {
	l.stderr = &testenv.SyncBuffer{}
	l.cmd = l.ns.Command(binary(l.t), "run", "-c", l.cfg)
	l.cmd.Stderr = l.stderr
	if err := testenv.StartTied(l.cmd); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { testenv.Kill(l.cmd) })
	testenv.WaitFor(l.t, 10*time.Second, "status socket", func() error { _, err := l.status(); return err })
}

func (l *lab) status() (string, error) {
	out, err := l.ns.Command(binary(l.t), "status", "--socket", l.sock).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return string(out), nil
}

func (l *lab) addrs() string {
	return l.ns.MustRun(l.t, "ip", "-o", "addr", "show", "dev", "lo")
}

func (l *lab) setHealthy(ok bool) {
	if ok {
		if err := os.WriteFile(l.healthy, nil, 0o600); err != nil {
			l.t.Fatal(err)
		}
	} else {
		_ = os.Remove(l.healthy)
	}
}

// waitHeld waits until both service addresses are held (or both gone).
func (l *lab) waitHeld(want bool, what string) {
	l.t.Helper()
	testenv.WaitFor(l.t, 10*time.Second, what, func() error {
		a := l.addrs()
		has4, has6 := strings.Contains(a, " 192.0.2.53/32"), strings.Contains(a, " 2001:db8::53/128")
		if has4 == want && has6 == want {
			return nil
		}
		return fmt.Errorf("want held=%v, addresses:\n%s\nlog:\n%s", want, a, l.stderr)
	})
}

func (l *lab) signal(sig syscall.Signal) {
	if err := l.cmd.Process.Signal(sig); err != nil {
		l.t.Fatal(err)
	}
}

// TestDaemonLifecycle walks the daemon through its life: a stale address
// of a killed run is removed at start while a foreign address stays; the
// service starts DOWN, rises, falls, pauses on TSTP, resumes on CONT,
// keeps its state over a HUP, refuses a second daemon on the same file,
// and withdraws everything on TERM with exit status 0.
func TestDaemonLifecycle(t *testing.T) {
	l := newLab(t, "")
	// A stale address of ours, as a killed run leaves it, and a foreign one.
	stale := &action.OwnedAddress{Interface: "lo", Protocol: DefaultProtocol, Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.53/32")}}
	if err := l.ns.Within(func() error { return stale.Up(context.Background()) }); err != nil {
		t.Fatal(err)
	}
	l.ns.MustRun(t, "ip", "addr", "add", "192.0.2.99/32", "dev", "lo")
	l.start()
	l.waitHeld(false, "stale address removed")
	if !strings.Contains(l.stderr.String(), "left on lo by an earlier run") {
		t.Errorf("log does not say the stale address was removed:\n%s", l.stderr)
	}
	if !strings.Contains(l.addrs(), "192.0.2.99/32") {
		t.Errorf("the foreign address 192.0.2.99 was removed")
	}
	l.setHealthy(true)
	l.waitHeld(true, "rise")
	if s, _ := l.status(); !strings.Contains(s, "service web: up") || !strings.Contains(s, "1/1 services up") {
		t.Errorf("status when up:\n%s", s)
	}
	l.setHealthy(false)
	l.waitHeld(false, "fall")
	l.setHealthy(true)
	l.waitHeld(true, "rise again")

	l.signal(syscall.SIGTSTP)
	l.waitHeld(false, "SIGTSTP withdraws")
	if s, _ := l.status(); !strings.Contains(s, "paused") {
		t.Errorf("status while paused:\n%s", s)
	}
	l.signal(syscall.SIGCONT)
	l.waitHeld(true, "SIGCONT resumes")

	before, _ := l.status()
	l.signal(syscall.SIGHUP)
	testenv.WaitFor(t, 5*time.Second, "reload logged", func() error {
		if strings.Contains(l.stderr.String(), "configuration reloaded") {
			return nil
		}
		return fmt.Errorf("log:\n%s", l.stderr)
	})
	after, _ := l.status()
	if tr := "service web: up, transitions 1\n"; !strings.Contains(before, tr) || !strings.Contains(after, tr) {
		t.Errorf("HUP with an unchanged file changed the service:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	second := l.ns.Command(binary(t), "run", "-c", l.cfg)
	out, err := second.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "lock held") {
		t.Errorf("second daemon on the same file: %v: %s", err, out)
	}

	l.signal(syscall.SIGTERM)
	if err := l.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, l.stderr)
	}
	if a := l.addrs(); strings.Contains(a, "192.0.2.53") || strings.Contains(a, "2001:db8::53") {
		t.Errorf("addresses left after SIGTERM:\n%s", a)
	}
}

// TestSystemdNotify: under a notify socket the daemon says READY=1 once
// started, STATUS with services up/total as they change, and WATCHDOG=1
// within the watchdog period; STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	l := newLab(t, "")
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got testenv.SyncBuffer
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := conn.Read(b)
			if err != nil {
				return
			}
			got.Write(append(b[:n:n], '\n'))
		}
	}()
	l.setHealthy(true)
	l.stderr = &testenv.SyncBuffer{}
	l.cmd = l.ns.Command(binary(t), "run", "-c", l.cfg)
	l.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sockPath, "WATCHDOG_USEC=600000")
	l.cmd.Stderr = l.stderr
	if err := testenv.StartTied(l.cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testenv.Kill(l.cmd) })
	testenv.WaitFor(t, 10*time.Second, "READY, STATUS 1/1, WATCHDOG", func() error {
		s := got.String()
		if strings.Contains(s, "READY=1") && strings.Contains(s, "STATUS=1/1 services up") && strings.Contains(s, "WATCHDOG=1") {
			return nil
		}
		return fmt.Errorf("notifications so far:\n%s\nlog:\n%s", s, l.stderr)
	})
	if s := got.String(); strings.Index(s, "READY=1") > strings.Index(s, "STATUS=1/1") {
		t.Errorf("READY came after the service rose:\n%s", s)
	}
	l.signal(syscall.SIGTERM)
	_ = l.cmd.Wait()
	if !strings.Contains(got.String(), "STOPPING=1") {
		t.Errorf("no STOPPING=1:\n%s", got.String())
	}
}

// TestDaemonSignalsOddStates: SIGCONT without SIGTSTP changes nothing; a
// second SIGTSTP keeps it paused; SIGHUP while paused reloads but adds
// nothing until SIGCONT; SIGHUP with a broken file keeps the running
// configuration; SIGHUP with a changed file restarts only what changed;
// SIGTERM while paused exits 0.
func TestDaemonSignalsOddStates(t *testing.T) {
	l := newLab(t, "")
	l.setHealthy(true)
	l.start()
	l.waitHeld(true, "rise")
	waitLog := func(what string) {
		t.Helper()
		testenv.WaitFor(t, 10*time.Second, what, func() error {
			if strings.Contains(l.stderr.String(), what) {
				return nil
			}
			return fmt.Errorf("log:\n%s", l.stderr)
		})
	}
	before, _ := l.status()
	l.signal(syscall.SIGCONT)
	l.signal(syscall.SIGUSR1)
	if s, _ := l.status(); !strings.Contains(s, "service web: up, transitions 1\n") || !strings.Contains(before, "transitions 1\n") {
		t.Errorf("SIGCONT without SIGTSTP changed the service:\n%s", s)
	}
	l.signal(syscall.SIGTSTP)
	l.waitHeld(false, "paused")
	l.signal(syscall.SIGTSTP)
	l.signal(syscall.SIGHUP)
	waitLog("SIGHUP: configuration reloaded")
	if s, _ := l.status(); !strings.Contains(s, "paused") {
		t.Errorf("SIGHUP while paused resumed:\n%s", s)
	}
	if a := l.addrs(); strings.Contains(a, "192.0.2.53") {
		t.Errorf("address added while paused:\n%s", a)
	}
	l.signal(syscall.SIGCONT)
	l.waitHeld(true, "resumed")

	good, err := os.ReadFile(l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.cfg, []byte("[service.web]\nrisee = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l.signal(syscall.SIGHUP)
	waitLog("keeping the running configuration")
	if s, _ := l.status(); !strings.Contains(s, "service web: up") {
		t.Errorf("a broken file on SIGHUP changed the service:\n%s", s)
	}
	// A second service added: the first keeps its state.
	second := string(good) + fmt.Sprintf(`
[service.other]
addresses = ["192.0.2.54"]
interval = "100ms"
[[service.other.check]]
type = "exec"
command = ["/usr/bin/test", "-e", %q]
`, l.healthy)
	if err := os.WriteFile(l.cfg, []byte(second), 0o600); err != nil {
		t.Fatal(err)
	}
	l.signal(syscall.SIGHUP)
	testenv.WaitFor(t, 10*time.Second, "second service up", func() error {
		if a := l.addrs(); !strings.Contains(a, "192.0.2.54/32") {
			return fmt.Errorf("addresses:\n%s\nlog:\n%s", a, l.stderr)
		}
		return nil
	})
	if s, _ := l.status(); !strings.Contains(s, "service web: up, transitions 1\n") {
		t.Errorf("adding a service restarted the unchanged one:\n%s", s)
	}
	l.signal(syscall.SIGTSTP)
	l.waitHeld(false, "paused again")
	l.signal(syscall.SIGTERM)
	if err := l.cmd.Wait(); err != nil {
		t.Errorf("SIGTERM while paused: %v", err)
	}
	if a := l.addrs(); strings.Contains(a, "192.0.2.5") {
		t.Errorf("addresses left:\n%s", a)
	}
}

// TestReconcileLeavesOthers: at start only the addresses of this file's
// services that carry our mark are removed; another address with the same
// mark (another instance, a one-liner) stays and is named in the log.
func TestReconcileLeavesOthers(t *testing.T) {
	l := newLab(t, "")
	other := &action.OwnedAddress{Interface: "lo", Protocol: DefaultProtocol, Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.77/32")}}
	if err := l.ns.Within(func() error { return other.Up(context.Background()) }); err != nil {
		t.Fatal(err)
	}
	l.start()
	testenv.WaitFor(t, 10*time.Second, "log names the other address", func() error {
		if strings.Contains(l.stderr.String(), "leaving [192.0.2.77/32] on lo") {
			return nil
		}
		return fmt.Errorf("log:\n%s", l.stderr)
	})
	if a := l.addrs(); !strings.Contains(a, "192.0.2.77/32") {
		t.Errorf("another instance's address was removed:\n%s", a)
	}
}

// TestConfigFlockDoesNotBlock: the configuration file is world-readable
// (0644 documented), and read access is all flock(2) needs: a lock someone
// else holds on it must not keep the daemon from starting, while a second
// daemon on the same configuration is still refused (adv3 F7).
func TestConfigFlockDoesNotBlock(t *testing.T) {
	l := newLab(t, "")
	if err := os.Chmod(l.cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	l.start()
	second := l.ns.Command(binary(t), "run", "-c", l.cfg)
	out, err := second.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "lock held") {
		t.Errorf("second daemon on the same file: %v: %s", err, out)
	}
	locks, _ := filepath.Glob(filepath.Join(filepath.Dir(l.sock), "anycast-probe-*.lock"))
	if len(locks) != 1 {
		t.Fatalf("lock files %v: want one beside the socket", locks)
	}
	if fi, err := os.Stat(locks[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file %s: %v %v, want mode 0600", locks[0], fi.Mode(), err)
	}
}

// TestLockFileOthersCouldOpen: a lock file others could open (and hold)
// is refused, not used.
func TestLockFileOthersCouldOpen(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "a.toml")
	sock := filepath.Join(dir, "run", "s.sock")
	f, err := lockInstance(conf, sock)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	locks, _ := filepath.Glob(filepath.Join(dir, "run", "anycast-probe-*.lock"))
	if len(locks) != 1 {
		t.Fatalf("lock files %v", locks)
	}
	if err := os.Chmod(locks[0], 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := lockInstance(conf, sock); err == nil || !strings.Contains(err.Error(), "lets others hold it") {
		if f != nil {
			f.Close()
		}
		t.Errorf("0644 lock file: %v, want refused", err)
	}
	if err := os.Chmod(filepath.Join(dir, "run"), 0o777); err != nil {
		t.Fatal(err)
	}
	if f, err := lockInstance(filepath.Join(dir, "b.toml"), sock); err == nil {
		f.Close()
		t.Errorf("lock in a world-writable directory accepted")
	}
}
