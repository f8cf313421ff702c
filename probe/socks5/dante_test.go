package socks5

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// dantedConfig is a Dante 1.4 configuration for one namespace with only lo:
// clients, proxy and targets all on 127.0.0.0/8 or ::1. Both methods are
// allowed, username first, so a client offering both is asked for a password
// and one offering only 00 is not. CONNECT to 127.0.0.2 is blocked.
func dantedConfig(log string) testenv.DanteConfig {
	return testenv.DanteConfig{
		LogFile:        log,
		Internal:       []string{"127.0.0.1", "::1"},
		Port:           dantedPort,
		External:       "lo",
		Methods:        []string{"username", "none"},
		BlockConnectTo: "127.0.0.2/32",
	}
}

const dantedPort = 1080

// okTimeout bounds the checks that should pass: generous, since CI shares
// two cores with other tests.
const okTimeout = 10 * time.Second

// TestDante runs the client against a real danted in a namespace of its own.
func TestDante(t *testing.T) {
	testenv.RequireRoot(t)
	bin := testenv.RequireCommand(t, "danted")
	ns := testenv.NewNS(t, "s5")
	// Echo servers on port 7 of both loopback addresses.
	tcpEcho := map[string]string{}
	udpEcho := map[string]string{}
	for _, host := range []string{"127.0.0.1", "::1"} {
		tcpEcho[host] = startTCPEcho(t, ns, net.JoinHostPort(host, "7"))
		udpEcho[host] = startUDPEcho(t, ns, net.JoinHostPort(host, "7"))
	}
	user, password := testenv.AddSystemUser(t, "s5t")
	d := startDanted(t, ns, bin)
	within := func(fn func() error) error { return ns.Within(fn) }
	proxyOn := func(host string) string { return net.JoinHostPort(host, strconv.Itoa(dantedPort)) }
	proxy := proxyOn("127.0.0.1")

	// dialExchange dials target and checks that a random nonce comes back.
	dialExchange := func(c *Client, ctx context.Context, target string) error {
		var conn net.Conn
		if err := within(func() (err error) { conn, err = c.Dial(ctx, target); return err }); err != nil {
			return err
		}
		defer conn.Close()
		return c.Exchange(ctx, conn, nonce(), nil)
	}

	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run("Greet/"+host, func(t *testing.T) {
			c := &Client{Proxy: proxyOn(host)}
			if err := within(func() error { return c.Greet(ctxFor(t, okTimeout)) }); err != nil {
				t.Fatal(err)
			}
		})

		for _, target := range []string{tcpEcho["127.0.0.1"], tcpEcho["::1"], "localhost:7"} {
			t.Run("DialExchange/"+host+"/"+target, func(t *testing.T) {
				stages := map[Stage]time.Duration{}
				c := &Client{Proxy: proxyOn(host), Trace: func(s Stage, took time.Duration) { stages[s] = took }}
				if err := dialExchange(c, ctxFor(t, okTimeout), target); err != nil {
					t.Fatal(err)
				}
				for _, s := range []Stage{StageConnect, StageGreeting, StageRequest, StageRelayData} {
					if _, ok := stages[s]; !ok {
						t.Errorf("no trace for stage %s: %v", s, stages)
					}
				}
				t.Logf("stages: %v", stages)
			})
		}

		t.Run("UDPRoundTrip/"+host, func(t *testing.T) {
			c := &Client{Proxy: proxyOn(host)}
			ctx := ctxFor(t, okTimeout)
			var a *UDPAssociation
			if err := within(func() (err error) { a, err = c.UDPAssociate(ctx); return err }); err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			t.Logf("relay %v for local UDP socket %v", a.Relay(), a.conn.LocalAddr())
			for i := 0; i < 3; i++ {
				if err := a.RoundTrip(ctx, udpEcho[host], nonce(), nil); err != nil {
					t.Fatal(err)
				}
			}
		})
	}

	// What Dante puts in BND of the CONNECT reply.
	t.Run("ConnectReply", func(t *testing.T) {
		c := &Client{Proxy: proxy}
		ctx := ctxFor(t, okTimeout)
		var bnd addr
		err := within(func() error {
			conn, err := c.Handshake(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			bnd, err = c.request(ctx, conn, StageRequest, cmdConnect, addr{IP: netip.MustParseAddr("127.0.0.1"), Port: 7})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Dante names the address it connects from, on lo.
		if !bnd.IP.IsLoopback() || bnd.Port == 0 || bnd.Name != "" {
			t.Errorf("CONNECT to 127.0.0.1:7: BND %v, want a loopback address and a port", bnd)
		}
		t.Logf("CONNECT to 127.0.0.1:7: BND %v", bnd)
	})

	t.Run("UsernameAuth", func(t *testing.T) {
		var authTook time.Duration
		c := &Client{Proxy: proxy, Username: user, Password: password,
			Trace: func(s Stage, took time.Duration) {
				if s == StageAuth {
					authTook = took
				}
			}}
		if err := dialExchange(c, ctxFor(t, okTimeout), tcpEcho["127.0.0.1"]); err != nil {
			t.Fatal(err)
		}
		if authTook == 0 {
			t.Fatal("the server did not choose username/password")
		}
		t.Logf("auth took %v", authTook)
	})

	t.Run("WrongPassword", func(t *testing.T) {
		c := &Client{Proxy: proxy, Username: user, Password: password + "x"}
		err := within(func() error { return c.Greet(ctxFor(t, okTimeout)) })
		checkError(t, err, StageAuth, proxy)
		if !errors.Is(err, ErrAuthRejected) {
			t.Fatalf("got %v, want ErrAuthRejected", err)
		}
	})

	t.Run("BlockedConnect", func(t *testing.T) {
		c := &Client{Proxy: proxy}
		err := dialExchange(c, ctxFor(t, okTimeout), "127.0.0.2:7")
		checkError(t, err, StageRequest, proxy)
		var re *ReplyError
		if !errors.As(err, &re) || re.Code != 2 {
			t.Fatalf("got %v, want REP 2", err)
		}
		t.Log(err)
	})

	// Dante's io-children relay the data and also send the reply to CONNECT:
	// when they hang, an open connection stops relaying and a new one gets no
	// reply. The greeting is answered all the same.
	t.Run("StoppedIOChildren", func(t *testing.T) {
		c := &Client{Proxy: proxy}
		ctx := ctxFor(t, okTimeout)
		var open net.Conn
		if err := within(func() (err error) { open, err = c.Dial(ctx, tcpEcho["127.0.0.1"]); return err }); err != nil {
			t.Fatal(err)
		}
		defer open.Close()
		stopped := d.stopChildren(t, "io-child")
		t.Logf("stopped io-children %v", stopped)

		const limit = 300 * time.Millisecond
		start := time.Now()
		err := c.Exchange(ctxFor(t, limit), open, nonce(), nil)
		t.Logf("open connection: %v after %v", err, time.Since(start))
		checkError(t, err, StageRelayData, proxy)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want a deadline error", err)
		}

		// A whole second, so that a loaded machine still gets past the
		// greeting in time.
		start = time.Now()
		err = dialExchange(c, ctxFor(t, time.Second), tcpEcho["127.0.0.1"])
		t.Logf("new connection: %v after %v", err, time.Since(start))
		checkError(t, err, StageRequest, proxy)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want a deadline error", err)
		}

		if err := within(func() error { return c.Greet(ctxFor(t, okTimeout)) }); err != nil {
			t.Errorf("greeting with stopped io-children: %v", err)
		}
	})

	// Request-children get the CONNECT: when they hang, it is not answered.
	t.Run("StoppedRequestChildren", func(t *testing.T) {
		c := &Client{Proxy: proxy}
		stopped := d.stopChildren(t, "request-child")
		start := time.Now()
		err := dialExchange(c, ctxFor(t, time.Second), tcpEcho["127.0.0.1"])
		t.Logf("%d request-children stopped: %v after %v", len(stopped), err, time.Since(start))
		checkError(t, err, StageRequest, proxy)
	})

	// Negotiate-children answer the greeting: when they hang, the TCP
	// connection is still accepted but the greeting is not answered.
	t.Run("StoppedNegotiateChildren", func(t *testing.T) {
		c := &Client{Proxy: proxy}
		stopped := d.stopChildren(t, "negotiate-child")
		start := time.Now()
		err := within(func() error { return c.Greet(ctxFor(t, 300*time.Millisecond)) })
		t.Logf("%d negotiate-children stopped: %v after %v", len(stopped), err, time.Since(start))
		checkError(t, err, StageGreeting, proxy)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want a deadline error", err)
		}
	})
}

// nonce returns random data for an echo.
func nonce() []byte { return []byte("nonce-" + rand.Text()) }

// startTCPEcho runs a TCP echo server on address inside the namespace.
func startTCPEcho(t *testing.T, ns *testenv.NS, address string) string {
	var ln net.Listener
	if err := ns.Within(func() (err error) { ln, err = net.Listen("tcp", address); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				io.Copy(conn, conn)
			}()
		}
	}()
	return ln.Addr().String()
}

// startUDPEcho runs a UDP echo server on address inside the namespace.
func startUDPEcho(t *testing.T, ns *testenv.NS, address string) string {
	var pc net.PacketConn
	if err := ns.Within(func() (err error) { pc, err = net.ListenPacket("udp", address); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	return pc.LocalAddr().String()
}

// danted is a daemonized danted whose mother PID the test recorded.
type danted struct {
	mother int
	log    string
}

// startDanted writes the configuration, starts danted inside the namespace
// and waits until it answers a greeting. It ends the mother's process group
// when the test ends.
func startDanted(t *testing.T, ns *testenv.NS, bin string) *danted {
	dir := t.TempDir()
	conf, pidfile := filepath.Join(dir, "danted.conf"), filepath.Join(dir, "danted.pid")
	d := &danted{log: filepath.Join(dir, "danted.log")}
	dantedConfig(d.log).Write(t, conf)
	if out, err := ns.Command(bin, "-D", "-f", conf, "-p", pidfile).CombinedOutput(); err != nil {
		t.Fatalf("danted: %v: %s\n%s", err, out, d.logTail())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("danted's log:\n%s", d.logTail())
		}
		d.stop(t)
	})
	testenv.WaitFor(t, 5*time.Second, "danted's pidfile", func() error {
		b, err := os.ReadFile(pidfile)
		if err != nil {
			return err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pid > 1 {
			d.mother = pid
		}
		return err
	})
	proxy := net.JoinHostPort("127.0.0.1", strconv.Itoa(dantedPort))
	start := time.Now()
	testenv.WaitFor(t, 5*time.Second, "danted to answer a greeting", func() error {
		return ns.Within(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			return (&Client{Proxy: proxy}).Greet(ctx)
		})
	})
	t.Logf("danted mother %d answers greetings after %v", d.mother, time.Since(start))
	return d
}

// children returns the PIDs of the mother's children whose title contains
// role ("io-child", "request-child", ...; "" for all).
func (d *danted) children(role string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || processParent(pid) != d.mother {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), "danted: "+role) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procStat returns the fields of /proc/PID/stat after the command, which is
// in parentheses and may hold spaces: state, ppid, ...; nil when the
// process is gone.
func procStat(pid int) []string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	return strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
}

// processParent returns the parent PID from /proc/PID/stat, or -1.
func processParent(pid int) int {
	fields := procStat(pid)
	if len(fields) < 2 {
		return -1
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return -1
	}
	return ppid
}

// stopChildren sends SIGSTOP to the mother's children with that role and
// SIGCONT when the test ends.
func (d *danted) stopChildren(t *testing.T, role string) []int {
	pids := d.children(role)
	if len(pids) == 0 {
		t.Fatalf("danted %d has no %s", d.mother, role)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP %d: %v", pid, err)
		}
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	return pids
}

// stop ends the mother's process group (all children share it), and any
// child that left it.
func (d *danted) stop(t *testing.T) {
	if d.mother <= 1 {
		t.Errorf("danted's PID is unknown: it may still run\n%s", d.logTail())
		return
	}
	pgid, err := syscall.Getpgid(d.mother)
	if err != nil {
		t.Logf("danted mother %d already gone: %v", d.mother, err)
		return
	}
	children := d.children("")
	if pgid == d.mother {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	syscall.Kill(d.mother, syscall.SIGKILL)
	for _, pid := range children {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := testenv.Poll(5*time.Second, func() error {
		if alive(d.mother) {
			return fmt.Errorf("danted mother %d still alive", d.mother)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	fields := procStat(pid)
	return len(fields) > 0 && fields[0] != "Z"
}

func (d *danted) logTail() string {
	b, _ := os.ReadFile(d.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
