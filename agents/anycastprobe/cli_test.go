//go:build linux

package anycastprobe

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// listenIn opens a TCP listener inside ns (the socket stays there) and
// accepts in the background; close it to make the port fail.
func listenIn(t *testing.T, ns *testenv.NS, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	err := ns.Within(func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Serve(t, ln, func(net.Conn) {})
	return ln
}

// TestTCPRoute runs the tcp-route one-liner against real listeners in
// another namespace, IPv4 and IPv6: the host route (with our protocol)
// is there while every port accepts, gone when one stops, and gone after
// SIGTERM.
func TestTCPRoute(t *testing.T) {
	testenv.RequireRoot(t)
	bin := binary(t)
	a, b := testenv.NewNS(t, "tra"), testenv.NewNS(t, "trb")
	testenv.Veth(t, a, "eth0", "10.224.0.1/24", b, "eth0", "10.224.0.2/24")
	a.MustRun(t, "ip", "addr", "add", "fd00:224::1/64", "dev", "eth0", "nodad")
	b.MustRun(t, "ip", "addr", "add", "fd00:224::2/64", "dev", "eth0", "nodad")
	for _, tc := range []struct{ addr, show string }{{"10.224.0.2", "-4"}, {"fd00:224::2", "-6"}} {
		t.Run(tc.show, func(t *testing.T) {
			l1 := listenIn(t, b, net.JoinHostPort(tc.addr, "8080"))
			l2 := listenIn(t, b, net.JoinHostPort(tc.addr, "8081"))
			_ = l1
			var log testenv.SyncBuffer
			cmd := a.Command(bin, "tcp-route", "eth0", tc.addr, "8080", "8081", "--interval", "100ms", "--timeout", "300ms")
			cmd.Stderr = &log
			if err := testenv.StartTied(cmd); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { testenv.Kill(cmd) })
			route := func(want bool) func() error {
				return func() error {
					out := a.MustRun(t, "ip", tc.show, "route", "show", "proto", fmt.Sprint(DefaultProtocol))
					if strings.Contains(out, tc.addr+" dev eth0") == want {
						return nil
					}
					return fmt.Errorf("want route=%v, routes of proto %d: %q\nlog:\n%s", want, DefaultProtocol, out, log.String())
				}
			}
			testenv.WaitFor(t, 10*time.Second, "route installed", route(true))
			l2.Close()
			testenv.WaitFor(t, 10*time.Second, "route removed when a port fails", route(false))
			listenIn(t, b, net.JoinHostPort(tc.addr, "8081"))
			testenv.WaitFor(t, 10*time.Second, "route back", route(true))
			_ = cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("exit after SIGTERM: %v\n%s", err, log.String())
			}
			if err := route(false)(); err != nil {
				t.Error(err)
			}
		})
	}
}

// run runs the built program and returns its exit code and output.
func runProgram(t *testing.T, ns *testenv.NS, args ...string) (int, string) {
	t.Helper()
	var cmd *exec.Cmd
	if ns != nil {
		cmd = ns.Command(binary(t), args...)
	} else {
		cmd = exec.Command(binary(t), args...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not exit: %s", args, out.String())
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// TestBadInput: what is refused before anything is touched, with the
// exit code (2 usage, 1 cannot run) and the reason.
func TestBadInput(t *testing.T) {
	testenv.RequireRoot(t)
	ns := testenv.NewNS(t, "acb")
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	cfgMissingIface := writeConfig(t, "[service.s]\ninterface = \"nosuch0\"\naddresses = [\"192.0.2.1\"]\n[[service.s.check]]\ntype = \"exec\"\ncommand = [\"/bin/true\"]\n")
	cfgUnknown := writeConfig(t, "[service.s]\naddresses = [\"192.0.2.1\"]\n[[service.s.check]]\ntype = \"smtp\"\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"dns", "::ffff:192.0.2.1"}, 2, "mixes the families"},
		{[]string{"dns", "192.0.2.0/24"}, 2, "host address"},
		{[]string{"dns"}, 2, "want SERVICE_ADDRESS"},
		{[]string{"dns", "--interval", "-5", "192.0.2.1"}, 2, "interval"},
		{[]string{"dns", "--interval", "18446744073710", "192.0.2.1"}, 2, "interval"},
		{[]string{"dns", "--rise", "0", "192.0.2.1"}, 2, "--rise"},
		{[]string{"dns", "--protocol", "0", "192.0.2.1"}, 2, "--protocol"},
		{[]string{"dns", "--protocol", "248", "192.0.2.1"}, 2, "--protocol 248 marks ocf-realserver's addresses"},
		{[]string{"dns", "--qtype", "BOGUS", "192.0.2.1"}, 2, "unknown query type"},
		{[]string{"dns", "--interface", "nosuch0", "192.0.2.1"}, 1, "interface nosuch0"},
		{[]string{"tcp-route", "nosuch0", "10.0.0.1", "80"}, 1, "interface nosuch0"},
		{[]string{"tcp-route", "lo", "10.0.0.1", "0"}, 2, "port"},
		{[]string{"tcp-route", "lo", "not-an-ip", "80"}, 2, "not an IP address"},
		{[]string{"tcp", "127.0.0.1", "192.0.2.1"}, 2, "HOST:PORT"},
		{[]string{"exec", "--", "192.0.2.1"}, 2, "want -- CMD"},
		{[]string{"exec", "--", "true", "192.0.2.1"}, 2, "absolute path"},
		{[]string{"run", "-c", "/nonexistent.toml"}, 1, "reading config"},
		{[]string{"run", "-c", cfgUnknown}, 1, `check type "smtp": unknown probe`},
		{[]string{"run", "-c", cfgMissingIface}, 1, "interface nosuch0"},
		{[]string{"check", "-c", cfgUnknown}, 1, "unknown probe"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"run", "--bogus"}, 2, "flag provided but not defined"},
	} {
		code, out := runProgram(t, ns, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, output %q; want %d and %q", tc.args, code, out, tc.code, tc.want)
		}
		if a := ns.MustRun(t, "ip", "-o", "addr", "show", "dev", "lo"); strings.Contains(a, "192.0.2.1") {
			t.Fatalf("%v added an address:\n%s", tc.args, a)
		}
	}
}

// TestCheckCommand: check prints a verdict per service and exits 0 only
// when all are healthy.
func TestCheckCommand(t *testing.T) {
	ok := writeConfig(t, "[service.a]\naddresses = [\"192.0.2.1\"]\n[[service.a.check]]\ntype = \"exec\"\ncommand = [\"/bin/true\"]\n")
	bad := writeConfig(t, "[service.a]\naddresses = [\"192.0.2.1\"]\n[[service.a.check]]\ntype = \"exec\"\ncommand = [\"/bin/true\"]\n"+
		"[service.b]\naddresses = [\"192.0.2.2\"]\nmode = \"any\"\n[[service.b.check]]\ntype = \"exec\"\ncommand = [\"/bin/false\"]\n[[service.b.check]]\ntype = \"tcp\"\naddress = \"127.0.0.1:1\"\n")
	if code, out := runProgram(t, nil, "check", "-c", ok); code != 0 || !strings.Contains(out, "a: healthy") {
		t.Errorf("healthy: %d %q", code, out)
	}
	code, out := runProgram(t, nil, "check", "-c", bad)
	if code != 1 || !strings.Contains(out, "a: healthy") || !strings.Contains(out, "b: unhealthy (any)") || !strings.Contains(out, "tcp connect") {
		t.Errorf("unhealthy: %d %q", code, out)
	}
}

// TestDNSOneLiner: `anycast-probe dns` against a real unbound holds the
// service addresses (IPv4 and IPv6) while it answers over UDP and TCP, and
// withdraws them when it hangs (SIGSTOP) or answers REFUSED for the name.
func TestDNSOneLiner(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "unbound")
	ns := testenv.NewNS(t, "acd")
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	dir := testenv.SharedTempDir(t, "acd")
	conf := dir + "/unbound.conf"
	text := `server:
  verbosity: 0
  num-threads: 1
  interface: 127.0.0.1
  port: 53
  do-ip6: no
  chroot: ""
  username: ""
  directory: "` + dir + `"
  pidfile: "` + dir + `/unbound.pid"
  use-syslog: no
  logfile: ""
  module-config: "iterator"
  local-zone: "." refuse
  local-zone: "anycast.lab." static
  local-data: "svc.anycast.lab. 5 IN A 192.0.2.1"
remote-control:
  control-enable: no
`
	if err := writeFile(conf, text); err != nil {
		t.Fatal(err)
	}
	unbound := ns.Start(t, "unbound", "-d", "-c", conf)
	var log testenv.SyncBuffer
	cmd := ns.Command(binary(t), "dns", "--query", "svc.anycast.lab", "--qtype", "A", "--tcp",
		"--interval", "100ms", "--timeout", "300ms", "192.0.2.53", "2001:db8::53")
	cmd.Stderr = &log
	if err := testenv.StartTied(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testenv.Kill(cmd) })
	held := func(want bool) func() error {
		return func() error {
			a := ns.MustRun(t, "ip", "-o", "addr", "show", "dev", "lo")
			if strings.Contains(a, "192.0.2.53/32") == want && strings.Contains(a, "2001:db8::53/128") == want {
				return nil
			}
			return fmt.Errorf("want held=%v:\n%s\nlog:\n%s", want, a, log.String())
		}
	}
	testenv.WaitFor(t, 15*time.Second, "held while unbound answers", held(true))
	_ = unbound.Process.Signal(syscall.SIGSTOP)
	testenv.WaitFor(t, 10*time.Second, "withdrawn while unbound hangs", held(false))
	_ = unbound.Process.Signal(syscall.SIGCONT)
	testenv.WaitFor(t, 10*time.Second, "back", held(true))
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	// A name the resolver refuses: never held.
	code, out := runProgram(t, ns, "check", "-c", writeConfig(t, "[service.s]\naddresses = [\"192.0.2.1\"]\n[[service.s.check]]\ntype = \"dns\"\nquery = \"example.com\"\n"))
	if code != 1 || !strings.Contains(out, "rcode REFUSED, want NOERROR") {
		t.Errorf("refused name: %d %q", code, out)
	}
}

func writeFile(p, text string) error { return os.WriteFile(p, []byte(text), 0o644) }
