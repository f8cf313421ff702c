package sendexpect

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// serve accepts one connection on a loopback listener and hands it to fn.
func serve(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fn(c)
	}()
	return ln.Addr().String()
}

// TestHTTPRequestLine: the classic `GET /robots.txt HTTP/1.0` line gets
// CRLF and the empty line that ends an HTTP request, so a server answers.
func TestHTTPRequestLine(t *testing.T) {
	got := make(chan string, 1)
	addr := serve(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		var req strings.Builder
		for {
			l, err := r.ReadString('\n')
			req.WriteString(l)
			if err != nil || l == "\r\n" {
				break
			}
		}
		got <- req.String()
		c.Write([]byte("HTTP/1.0 200 OK\r\n\r\nhttpd is working\n"))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := (&Check{Send: "GET /robots.txt HTTP/1.0", Expect: "httpd is working"}).Dial(ctx, addr)
	if r.Failure != OK {
		t.Fatal(r)
	}
	if req := <-got; req != "GET /robots.txt HTTP/1.0\r\n\r\n" {
		t.Fatalf("request %q", req)
	}
}

// TestBannerAndQuit: SMTP's `QUIT` expecting 220 is answered by the banner.
func TestBannerAndQuit(t *testing.T) {
	got := make(chan string, 1)
	addr := serve(t, func(c net.Conn) {
		c.Write([]byte("220 mx ESMTP\r\n"))
		l, _ := bufio.NewReader(c).ReadString('\n')
		got <- l
	})
	r := (&Check{Send: "QUIT", Expect: "220"}).Dial(context.Background(), addr)
	if r.Failure != OK {
		t.Fatal(r)
	}
	if l := <-got; l != "QUIT\r\n" {
		t.Fatalf("sent %q", l)
	}
}

func TestFailures(t *testing.T) {
	ctx := func() context.Context {
		c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		t.Cleanup(cancel)
		return c
	}
	// The peer closes without the fragment.
	addr := serve(t, func(c net.Conn) { c.Write([]byte("500 no\r\n")) })
	if r := (&Check{Expect: "220"}).Dial(ctx(), addr); r.Failure != Mismatch || r.Observed != "500 no\r\n" {
		t.Errorf("closed: %v", r)
	}
	// A peer that never answers: the context ends it.
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	addr = serve(t, func(c net.Conn) { <-hold })
	if r := (&Check{Expect: "220"}).Dial(ctx(), addr); r.Failure != Timeout {
		t.Errorf("silent: %v", r)
	}
	// An endless reply without the fragment stops at the cap.
	addr = serve(t, func(c net.Conn) {
		b := bytes.Repeat([]byte("x"), 4096)
		for {
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	})
	if r := (&Check{Expect: "220", MaxRead: 10000}).Dial(ctx(), addr); r.Failure != Mismatch {
		t.Errorf("flood: %v", r)
	}
	// Nobody listens.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	a := ln.Addr().String()
	ln.Close()
	if r := (&Check{Expect: "x"}).Dial(ctx(), a); r.Failure != Connect {
		t.Errorf("refused: %v", r)
	}
}

// FuzzReply feeds any reply, cut into any two pieces: the check succeeds
// exactly when the fragment is within the cap.
func FuzzReply(f *testing.F) {
	f.Add([]byte("220 ok\r\n"), "220", 3)
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\nhttpd is working"), "working", 10)
	f.Fuzz(func(t *testing.T, reply []byte, expect string, cut int) {
		if expect == "" || len(reply) > 1<<16 {
			return
		}
		a, b := net.Pipe()
		go func() {
			defer b.Close()
			if cut < 0 || cut > len(reply) {
				cut = len(reply)
			}
			b.Write(reply[:cut])
			b.Write(reply[cut:])
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		r := (&Check{Expect: expect, MaxRead: 4096}).Run(ctx, a)
		want := bytes.Contains(reply[:min(len(reply), 4096)], []byte(expect))
		if (r.Failure == OK) != want {
			t.Fatalf("reply %q expect %q: %v, want ok=%v", reply, expect, r, want)
		}
	})
}
