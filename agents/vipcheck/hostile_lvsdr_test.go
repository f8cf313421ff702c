package vipcheck_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// hostileServer listens on port on every address of real server ns and
// answers each request with respond, which gets the connection and counts
// what it sends in sent; done receives respond's error.
func hostileServer(t *testing.T, ns *testenv.NS, port int, respond func(c net.Conn, sent *atomic.Int64) error) (sent *atomic.Int64, done <-chan error) {
	t.Helper()
	var ln net.Listener
	if err := ns.Within(func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	sent = new(atomic.Int64)
	ch := make(chan error, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					ch <- err
					return
				}
				ch <- respond(c, sent)
			}()
		}
	}()
	return sent, ch
}

// TestHTTPHostileServers runs the http check through the VIP against real
// servers that misbehave: a body without end behind a huge Content-Length
// (the check reads to its cap and resets the connection, instead of
// draining it until the deadline), and a slowloris body (the deadline cuts
// the body, and that is what is reported, with the time it took).
func TestHTTPHostileServers(t *testing.T) {
	testenv.RequireRoot(t)
	l := testenv.NewLVSDR(t, "vhh")
	rs1 := l.RSAddr[0]

	t.Run("endless body", func(t *testing.T) {
		sent, done := hostileServer(t, l.RS[0], 8090, func(c net.Conn, sent *atomic.Int64) error {
			if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\n")); err != nil {
				return err
			}
			chunk := make([]byte, 64<<10)
			for {
				n, err := c.Write(chunk)
				sent.Add(int64(n))
				if err != nil {
					return err
				}
			}
		})
		code, out := run(t, l.Master, nil, "http", "-t", "3000", "--max-body", "1048576", "eth0", rs1, l.VIP, "8090", "h", "/")
		testenv.ExpectExit(t, "endless body", code, 1, out, rs1+` http-body observed="more than 1048576 bytes"`)
		select {
		case err := <-done:
			if err == nil || !(errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "broken pipe")) {
				t.Errorf("the server's writes ended with %v, want a reset", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the server still sends 10 s after the check ended: the connection was not reset")
		}
		// The cap, plus what the socket buffers on both sides held.
		if n := sent.Load(); n > 64<<20 {
			t.Errorf("the server got %d MiB out for a cap of 1 MiB", n>>20)
		}
	})

	t.Run("slowloris body", func(t *testing.T) {
		_, _ = hostileServer(t, l.RS[0], 8091, func(c net.Conn, _ *atomic.Int64) error {
			if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")); err != nil {
				return err
			}
			for {
				if _, err := c.Write([]byte("x")); err != nil {
					return err
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
		code, out := run(t, l.Master, nil, "http", "-t", "1000", "eth0", rs1, l.VIP, "8091", "h", "/")
		testenv.ExpectExit(t, "slowloris", code, 1, out, rs1+" http error=", "reading the body", "context deadline exceeded")
		if strings.Contains(out, "sending the request") || strings.Contains(out, "total=0.") {
			t.Errorf("a retry after the deadline was reported:\n%s", out)
		}
	})
}
