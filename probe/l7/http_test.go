package l7

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// serve runs handle for every connection to a loopback listener, until the
// test ends, and returns the listener's address.
func serve(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	return testenv.ServeLoopback(t, handle)
}

// rawServer answers every connection with the raw response, after reading
// the request head.
func rawServer(t *testing.T, response string) string {
	return serve(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		_, _ = c.Read(buf)
		_, _ = c.Write([]byte(response))
	})
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckJudgesResponses(t *testing.T) {
	body := "hello\n"
	sum := md5.Sum([]byte(body))
	other := "bye"
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nX-Check: ok\r\n\r\n" + body
	lf := "HTTP/1.0 200 OK\nX-Check: ok\n\n" + body
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n3\r\nlo\n\r\n0\r\n\r\n"
	for _, tc := range []struct {
		name, response string
		h              HTTP
		want           Failure
		observed       string
	}{
		{"plain 200", ok, HTTP{}, OK, ""},
		{"LF only", lf, HTTP{Body: &body, WantHeader: []HeaderWant{{"x-check", "ok"}}}, OK, ""},
		{"chunked", chunked, HTTP{MD5: hex.EncodeToString(sum[:])}, OK, ""},
		{"status", "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", HTTP{}, Status, "503"},
		{"redirect not followed", "HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n", HTTP{Status: 301}, OK, ""},
		{"header missing", ok, HTTP{WantHeader: []HeaderWant{{"Server", ""}}}, Header, "(no Server)"},
		{"header value", ok, HTTP{WantHeader: []HeaderWant{{"X-Check", "no"}}}, Header, "X-Check: ok"},
		{"body", ok, HTTP{Body: &other}, Body, body},
		{"md5", ok, HTTP{MD5: strings.Repeat("0", 32)}, Body, "md5=" + hex.EncodeToString(sum[:])},
		{"regex", ok, HTTP{Regex: regexp.MustCompile("^bye")}, Body, body},
		{"cap", ok, HTTP{MaxBody: 3}, Body, "more than 3 bytes"},
		{"garbage", "SSH-2.0-OpenSSH\r\n", HTTP{}, Protocol, ""},
		{"truncated", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", HTTP{}, Protocol, ""},
		{"informational first", "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + ok, HTTP{Body: &body}, OK, ""},
		{"head too large", "HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("a", maxHeaders) + "\r\n\r\n", HTTP{}, Protocol, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawServer(t, tc.response)
			h := tc.h
			h.Host, h.Path = "www.example.test", "/"
			if err := h.Validate(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r := h.Check(ctx, dial(t, addr))
			if r.Failure != tc.want || (tc.observed != "" && r.Observed != tc.observed) {
				t.Errorf("got %s (%v), want %q observed %q", r, r.Err, tc.want, tc.observed)
			}
		})
	}
}

func TestCheckSendsTheRequest(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.WriteHeader(204)
	}))
	defer srv.Close()
	h := HTTP{Method: "HEAD", Host: "www.example.test:8080", Path: "/health?x=1", Status: 204,
		Header: http.Header{"X-Probe": {"1"}}}
	r := h.Check(context.Background(), dial(t, srv.Listener.Addr().String()))
	if r.Failure != OK {
		t.Fatalf("%s: %v", r, r.Err)
	}
	if got.Method != "HEAD" || got.Host != "www.example.test:8080" || got.RequestURI != "/health?x=1" ||
		got.Header.Get("X-Probe") != "1" || !got.Close {
		t.Errorf("request: %s %s %s %v close=%v", got.Method, got.Host, got.RequestURI, got.Header, got.Close)
	}
}

func TestCheckTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.TLS.ServerName)
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	want := "example.com" // httptest's certificate names it
	h := HTTP{Host: "example.com", Path: "/", TLS: &tls.Config{RootCAs: pool}, Body: &want}
	if r := h.Check(context.Background(), dial(t, srv.Listener.Addr().String())); r.Failure != OK {
		t.Errorf("verified: %s", r)
	}
	h.TLS = &tls.Config{}
	if r := h.Check(context.Background(), dial(t, srv.Listener.Addr().String())); r.Failure != TLS {
		t.Errorf("unknown CA: %s", r)
	}
	h.Host, h.TLS = "other.test", &tls.Config{RootCAs: pool}
	if r := h.Check(context.Background(), dial(t, srv.Listener.Addr().String())); r.Failure != TLS {
		t.Errorf("wrong name: %s", r)
	}
}

func TestValidateAndParseHeader(t *testing.T) {
	for _, h := range []HTTP{{Host: "h", Path: "x"}, {Host: "", Path: "/"}, {Method: "POST", Host: "h", Path: "/"},
		{Host: "h", Path: "/", MD5: "zz"}, {Host: "h", Path: "/", Status: 42}} {
		if h.Validate() == nil {
			t.Errorf("%+v validated", h)
		}
	}
	if n, v, err := ParseHeader(" Accept :  text/html, */* "); err != nil || n != "Accept" || v != "text/html, */*" {
		t.Errorf("ParseHeader: %q %q %v", n, v, err)
	}
	for _, s := range []string{"NoColon", ": empty", "A B: c", "X: a\r\nY: b"} {
		if _, _, err := ParseHeader(s); err == nil {
			t.Errorf("ParseHeader(%q) accepted", s)
		}
	}
}

func TestDescribe(t *testing.T) {
	body := "OK"
	h := HTTP{Method: "HEAD", Host: "h", Path: "/x", TLS: &tls.Config{}, Status: 204, Body: &body,
		WantHeader: []HeaderWant{{"Server", ""}}, MD5: "abc", Regex: regexp.MustCompile("^O"), MaxBody: 9}
	want := `HEAD https://h/x; expect status 204; header Server: ""; body "OK"; body md5 abc; body matching "^O"; body cap 9 bytes`
	if got := h.Describe(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestCheckEnds checks the two ways a response that never ends stops: the
// context's deadline for a silent server, the head cap for one that sends
// headers without end.
func TestCheckEnds(t *testing.T) {
	silent := serve(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }) // reads, never answers
	h := HTTP{Host: "h", Path: "/"}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if r := h.Check(ctx, dial(t, silent)); r.Failure != Protocol || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Errorf("silent server: %s (%v)", r, r.Err)
	}

	endless := rawServer(t, "HTTP/1.1 200 OK\r\n"+strings.Repeat("X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 2*maxHeaders/48))
	if r := h.Check(context.Background(), dial(t, endless)); r.Failure != Protocol || !errors.Is(r.Err, errHeadTooLarge) {
		t.Errorf("endless head: %s (%v)", r, r.Err)
	}
}

// scriptedConn answers with fixed bytes whatever is written to it.
type scriptedConn struct {
	net.Conn // nil: only the methods below are used
	r        io.Reader
}

func (c *scriptedConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *scriptedConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *scriptedConn) Close() error                     { return nil }
func (c *scriptedConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptedConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzCheck feeds arbitrary responses to the checker: it must not panic,
// and it may pass only a response with the expected status whose body
// fits the cap.
func FuzzCheck(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), false)
	f.Add([]byte("HTTP/1.0 200 OK\nX: y\n\nbody"), false)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"), true)
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), true)
	f.Fuzz(func(t *testing.T, response []byte, head bool) {
		h := HTTP{Host: "h", Path: "/", MaxBody: 64}
		if head {
			h.Method = http.MethodHead
		}
		r := h.Check(context.Background(), &scriptedConn{r: bytes.NewReader(response)})
		if r.Failure == OK && (r.Status != http.StatusOK || r.Bytes > 64) {
			t.Errorf("passed %q: %s", response, r)
		}
		if r.Failure != OK && r.Failure != Protocol && r.Failure != Status && r.Failure != Body {
			t.Errorf("failure %q for %q", r.Failure, response)
		}
	})
}

// endlessBody is a connection whose server claims a huge Content-Length
// and sends body bytes without end until the deadline; it counts what the
// checker reads and whether it aborted the connection.
type endlessBody struct {
	scriptedConn
	head     []byte
	read     int64
	aborted  bool
	deadline time.Time
}

func (c *endlessBody) SetDeadline(t time.Time) error { c.deadline = t; return nil }

func (c *endlessBody) Read(b []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(b, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	if !c.deadline.IsZero() && time.Now().After(c.deadline) {
		return 0, os.ErrDeadlineExceeded
	}
	for i := range b {
		b[i] = 'x'
	}
	c.read += int64(len(b))
	return len(b), nil
}

func (c *endlessBody) Abort() { c.aborted = true }

// TestBodyCapBoundsReading shows that the body cap bounds what is read,
// not only what is judged: a server claiming a body of 99999999999999
// bytes gets the connection aborted once the cap is passed (net/http's
// Body.Close would read on until the deadline).
func TestBodyCapBoundsReading(t *testing.T) {
	for _, head := range []string{"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\n", "HTTP/1.0 200 OK\r\n\r\n"} {
		c := &endlessBody{head: []byte(head)}
		h := HTTP{Host: "h", Path: "/", MaxBody: 1000}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r := h.Check(ctx, c)
		cancel()
		if r.Failure != Body || r.Observed != "more than 1000 bytes" {
			t.Errorf("%q: %s (%v)", head, r, r.Err)
		}
		if c.read > 1000+64<<10 || !c.aborted {
			t.Errorf("%q: read %d body bytes for a cap of 1000, aborted %v", head, c.read, c.aborted)
		}
	}
	// A whole response ends with a plain close.
	c := &endlessBody{head: []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")}
	if r := (&HTTP{Host: "h", Path: "/"}).Check(context.Background(), c); r.Failure != OK || c.aborted {
		t.Errorf("empty body: %s, aborted %v", r, c.aborted)
	}
}
