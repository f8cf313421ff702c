package socks5

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer accepts TCP connections on 127.0.0.1 and runs serve for each
// one; the test's end closes the listener and every connection.
func fakeServer(t testing.TB, serve func(conn net.Conn)) string {
	t.Helper()
	return fakeServerOn(t, "127.0.0.1", serve)
}

// fakeServerOn is fakeServer on another loopback address.
func fakeServerOn(t testing.TB, host string, serve func(conn net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				serve(conn)
			}()
		}
	}()
	return ln.Addr().String()
}

// readGreeting reads VER NMETHODS METHODS.
func readGreeting(conn net.Conn) ([]byte, error) {
	var head [2]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return nil, err
	}
	methods := make([]byte, head[1])
	_, err := io.ReadFull(conn, methods)
	return methods, err
}

// readAuth reads an RFC 1929 request.
func readAuth(conn net.Conn) (user, password string, err error) {
	field := func() string {
		var n [1]byte
		if err == nil {
			_, err = io.ReadFull(conn, n[:])
		}
		b := make([]byte, n[0])
		if err == nil {
			_, err = io.ReadFull(conn, b)
		}
		return string(b)
	}
	var ver [1]byte
	if _, err = io.ReadFull(conn, ver[:]); err != nil {
		return "", "", err
	}
	user = field()
	password = field()
	return user, password, err
}

// readRequest reads VER CMD RSV ATYP DST.ADDR DST.PORT and returns its bytes.
func readRequest(conn net.Conn) ([]byte, error) {
	b := make([]byte, 5, 3+1+1+255+2)
	if _, err := io.ReadFull(conn, b); err != nil {
		return nil, err
	}
	n, err := addrLen(b[3:])
	if err != nil {
		return nil, err
	}
	b = b[:3+n]
	_, err = io.ReadFull(conn, b[5:])
	return b, err
}

var successIPv4 = []byte{5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38}

// acceptNone answers a greeting with method 00.
func acceptNone(conn net.Conn) bool {
	if _, err := readGreeting(conn); err != nil {
		return false
	}
	_, err := conn.Write([]byte{5, 0})
	return err == nil
}

// echoServer is a SOCKS server that accepts every CONNECT and echoes.
func echoServer(conn net.Conn) {
	if !acceptNone(conn) {
		return
	}
	if _, err := readRequest(conn); err != nil {
		return
	}
	conn.Write(successIPv4)
	io.Copy(conn, conn)
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestMethodsOffered(t *testing.T) {
	for _, tc := range []struct {
		name, user string
		want       []byte
	}{
		{"anonymous", "", []byte{0}},
		{"with username", "alice", []byte{0, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan []byte, 1)
			proxy := fakeServer(t, func(conn net.Conn) {
				methods, _ := readGreeting(conn)
				got <- methods
				conn.Write([]byte{5, 0})
			})
			c := &Client{Proxy: proxy, Username: tc.user, Password: "secret"}
			if err := c.Greet(ctxFor(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			if methods := <-got; !bytes.Equal(methods, tc.want) {
				t.Fatalf("offered %x, want %x", methods, tc.want)
			}
		})
	}
}

func TestUsernameAuth(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status byte
		want   error
	}{
		{"accepted", 0, nil},
		{"rejected", 1, ErrAuthRejected},
		{"rejected with status 255", 255, ErrAuthRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := fakeServer(t, func(conn net.Conn) {
				readGreeting(conn)
				conn.Write([]byte{5, 2})
				user, password, err := readAuth(conn)
				if err != nil || user != "alice" || password != "secret" {
					t.Errorf("got %q/%q (%v), want alice/secret", user, password, err)
				}
				conn.Write([]byte{1, tc.status})
			})
			var stages []Stage
			c := &Client{Proxy: proxy, Username: "alice", Password: "secret",
				Trace: func(s Stage, _ time.Duration) { stages = append(stages, s) }}
			err := c.Greet(ctxFor(t, 10*time.Second))
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if want := []Stage{StageConnect, StageGreeting, StageAuth}; !slices.Equal(stages, want) {
					t.Errorf("traced %v, want %v", stages, want)
				}
				return
			}
			checkError(t, err, StageAuth, proxy)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// checkError fails the test unless err is an *Error at stage against proxy.
func checkError(t *testing.T, err error, stage Stage, proxy string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v (%T), want *Error", err, err)
	}
	if e.Stage != stage || e.Proxy != proxy {
		t.Fatalf("got %s with %s (%v), want %s with %s", e.Stage, e.Proxy, err, stage, proxy)
	}
	if !strings.HasPrefix(err.Error(), string(stage)+" with "+proxy+": ") {
		t.Fatalf("message %q does not start with the stage and proxy", err)
	}
}

func TestGreetingFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		user   string
		answer []byte
		want   error  // errors.Is target, or nil
		text   string // in the message
	}{
		{"no acceptable method", "", []byte{5, 0xFF}, ErrNoAcceptableMethod, "FF"},
		{"method not offered", "", []byte{5, 2}, nil, "not offered"},
		{"SOCKS4 server", "", []byte{0, 0x5a}, nil, "version 0"},
		{"cut short", "", []byte{5}, io.ErrUnexpectedEOF, "1 of 2 bytes"},
		{"closed", "", nil, io.EOF, "0 of 2 bytes"},
		{"auth cut short", "alice", []byte{5, 2, 1}, io.ErrUnexpectedEOF, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := fakeServer(t, func(conn net.Conn) {
				// Read all the client sends before closing: unread data
				// would make the close a reset.
				readGreeting(conn)
				if tc.user == "" {
					conn.Write(tc.answer)
					return
				}
				conn.Write(tc.answer[:2])
				readAuth(conn)
				conn.Write(tc.answer[2:])
			})
			err := (&Client{Proxy: proxy, Username: tc.user, Password: "x"}).Greet(ctxFor(t, 10*time.Second))
			stage := StageGreeting
			if tc.user != "" {
				stage = StageAuth
			}
			checkError(t, err, stage, proxy)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("message %q lacks %q", err, tc.text)
			}
		})
	}
}

func TestConnectFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := ln.Addr().String()
	ln.Close() // nothing listens there now
	err = (&Client{Proxy: proxy}).Greet(ctxFor(t, 10*time.Second))
	checkError(t, err, StageConnect, proxy)
}

func TestGreetingNeverAnswered(t *testing.T) {
	proxy := fakeServer(t, func(conn net.Conn) { io.Copy(io.Discard, conn) })
	start := time.Now()
	err := (&Client{Proxy: proxy}).Greet(ctxFor(t, 100*time.Millisecond))
	checkError(t, err, StageGreeting, proxy)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	t.Logf("%v after %v", err, time.Since(start))
}

func TestCancelDuringGreeting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	proxy := fakeServer(t, func(conn net.Conn) {
		readGreeting(conn)
		cancel() // the client is now waiting for the answer
		io.Copy(io.Discard, conn)
	})
	err := (&Client{Proxy: proxy}).Greet(ctx)
	checkError(t, err, StageGreeting, proxy)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestReplyCodes(t *testing.T) {
	texts := map[byte]string{
		1:   "general SOCKS server failure (REP 1)",
		2:   "connection not allowed by ruleset (REP 2)",
		3:   "network unreachable (REP 3)",
		4:   "host unreachable (REP 4)",
		5:   "connection refused (REP 5)",
		6:   "TTL expired (REP 6)",
		7:   "command not supported (REP 7)",
		8:   "address type not supported (REP 8)",
		9:   "unassigned (REP 9)",
		255: "unassigned (REP 255)",
	}
	for code, text := range texts {
		proxy := fakeServer(t, func(conn net.Conn) {
			acceptNone(conn)
			readRequest(conn)
			conn.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0})
		})
		_, err := (&Client{Proxy: proxy}).Dial(ctxFor(t, 10*time.Second), "192.0.2.1:80")
		checkError(t, err, StageRequest, proxy)
		var re *ReplyError
		if !errors.As(err, &re) || re.Code != code {
			t.Fatalf("REP %d: got %v, want *ReplyError", code, err)
		}
		if re.Error() != text {
			t.Errorf("REP %d: got %q, want %q", code, re.Error(), text)
		}
	}
}

func TestTruncatedReplies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply []byte
		code  byte   // a ReplyError expected, or 0
		text  string // in the message otherwise
	}{
		{"nothing", nil, 0, "reading reply (0 bytes): EOF"},
		{"header only", []byte{5, 0, 0, 1}, 0, "reading reply (4 bytes): unexpected EOF"},
		{"half an IPv4 address", []byte{5, 0, 0, 1, 127, 0}, 0, "reading reply (6 of 10 bytes)"},
		{"IPv6 without port", append([]byte{5, 0, 0, 4}, make([]byte, 16)...), 0, "(20 of 22 bytes)"},
		{"domain cut short", []byte{5, 0, 0, 3, 9, 'l', 'o'}, 0, "(7 of 16 bytes)"},
		{"refusal cut short", []byte{5, 5}, 5, ""},
		{"refusal without port", []byte{5, 4, 0, 1, 1, 2, 3, 4}, 4, ""},
		{"bad version", []byte{4, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 0, "version 4 in reply"},
		{"bad address type", []byte{5, 0, 0, 2, 0, 0, 0, 0, 0, 0}, 0, "unknown address type 2"},
		{"empty domain name", []byte{5, 0, 0, 3, 0, 0, 80}, 0, "empty domain name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := fakeServer(t, func(conn net.Conn) {
				acceptNone(conn)
				readRequest(conn)
				conn.Write(tc.reply)
			})
			_, err := (&Client{Proxy: proxy}).Dial(ctxFor(t, 10*time.Second), "192.0.2.1:80")
			checkError(t, err, StageRequest, proxy)
			var re *ReplyError
			if tc.code != 0 {
				if !errors.As(err, &re) || re.Code != tc.code {
					t.Fatalf("got %v, want REP %d", err, tc.code)
				}
				return
			}
			if errors.As(err, &re) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want a message with %q", err, tc.text)
			}
		})
	}
}

// TestDialEncodings checks the request bytes for each kind of target, and
// that replies with each kind of BND.ADDR are read whole (the echo that
// follows must not lose or gain bytes).
func TestDialEncodings(t *testing.T) {
	for _, tc := range []struct {
		target string
		req    []byte
		reply  []byte
	}{
		{"192.0.2.1:80", []byte{5, 1, 0, 1, 192, 0, 2, 1, 0, 80},
			successIPv4},
		{"[::ffff:192.0.2.1]:80", []byte{5, 1, 0, 1, 192, 0, 2, 1, 0, 80},
			successIPv4},
		{"[2001:db8::1]:443", []byte{5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0xbb},
			[]byte{5, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0xc0, 0x01}},
		{"example.org:25", append(append([]byte{5, 1, 0, 3, 11}, "example.org"...), 0, 25),
			append(append([]byte{5, 0, 0, 3, 9}, "relay.lan"...), 0x12, 0x34)},
	} {
		t.Run(tc.target, func(t *testing.T) {
			got := make(chan []byte, 1)
			proxy := fakeServer(t, func(conn net.Conn) {
				acceptNone(conn)
				req, _ := readRequest(conn)
				got <- req
				conn.Write(tc.reply)
				io.Copy(conn, conn)
			})
			c := &Client{Proxy: proxy}
			ctx := ctxFor(t, 10*time.Second)
			conn, err := c.Dial(ctx, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if req := <-got; !bytes.Equal(req, tc.req) {
				t.Fatalf("request %x, want %x", req, tc.req)
			}
			if err := c.Exchange(ctx, conn, []byte("ping"), nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBadTarget(t *testing.T) {
	for _, target := range []string{"no-port", "host:http", "host:70000", "[fe80::1%eth0]:80", ":80",
		strings.Repeat("a", 256) + ":80"} {
		// No server: a bad target fails before connecting.
		_, err := (&Client{Proxy: "127.0.0.1:1"}).Dial(ctxFor(t, time.Second), target)
		checkError(t, err, StageRequest, "127.0.0.1:1")
	}
}

func TestExchange(t *testing.T) {
	banner := func(conn net.Conn) {
		if !acceptNone(conn) {
			return
		}
		readRequest(conn)
		conn.Write(successIPv4)
		conn.Write([]byte("220 mail.example ESMTP\r\n"))
		io.Copy(io.Discard, conn)
	}
	closing := func(conn net.Conn) {
		acceptNone(conn)
		readRequest(conn)
		conn.Write(successIPv4)
		io.ReadFull(conn, make([]byte, len("whole"))) // closing with unread data would reset
		conn.Write([]byte("half"))
	}
	flood := func(conn net.Conn) {
		acceptNone(conn)
		readRequest(conn)
		conn.Write(successIPv4)
		junk := bytes.Repeat([]byte("x"), 8192)
		for {
			if _, err := conn.Write(junk); err != nil {
				return
			}
		}
	}
	silent := func(conn net.Conn) {
		acceptNone(conn)
		readRequest(conn)
		conn.Write(successIPv4)
		io.Copy(io.Discard, conn)
	}
	for _, tc := range []struct {
		name         string
		serve        func(net.Conn)
		send, expect string
		text         string        // in the error; "" for success
		timeout      time.Duration // of the exchange; 0 is 10 s
	}{
		{"echo", echoServer, "hello", "", "", 0},
		{"banner without sending", banner, "", "ESMTP", "", 0},
		{"banner", banner, "EHLO x\r\n", "220 ", "", 0},
		{"nothing to do", silent, "", "", "", 0},
		{"closed early", closing, "whole", "", "connection closed after 4 bytes without the echo", 0},
		{"too much", flood, "", "needle", "read 65536 bytes without the expected data", 0},
		{"never relays", silent, "ping", "", "context deadline exceeded", 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := fakeServer(t, tc.serve)
			c := &Client{Proxy: proxy}
			conn, err := c.Dial(ctxFor(t, 10*time.Second), "192.0.2.1:25")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			err = c.Exchange(ctxFor(t, timeout), conn, []byte(tc.send), []byte(tc.expect))
			if tc.text == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			checkError(t, err, StageRelayData, proxy)
			if !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want %q", err, tc.text)
			}
		})
	}
}

func BenchmarkGreet(b *testing.B) {
	proxy := fakeServer(b, func(conn net.Conn) { acceptNone(conn) })
	c := &Client{Proxy: proxy}
	ctx := context.Background()
	for b.Loop() {
		if err := c.Greet(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDialExchange(b *testing.B) {
	proxy := fakeServer(b, echoServer)
	c := &Client{Proxy: proxy}
	ctx := context.Background()
	payload := []byte("nonce-0123456789")
	for b.Loop() {
		conn, err := c.Dial(ctx, "192.0.2.1:7")
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Exchange(ctx, conn, payload, nil); err != nil {
			b.Fatal(err)
		}
		conn.Close()
	}
}
