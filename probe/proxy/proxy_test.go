package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

func TestReadConnectReply(t *testing.T) {
	for _, c := range []struct {
		in     string
		status int
		squid  string
		bad    bool
	}{
		{in: "HTTP/1.1 200 Connection established\r\n\r\nrest", status: 200},
		{in: "HTTP/1.0 503 Service Unavailable\r\nX-Squid-Error: ERR_CONNECT_FAIL 111\r\nContent-Length: 3\r\n\r\nabc", status: 503, squid: "ERR_CONNECT_FAIL 111"},
		{in: "HTTP/1.1 200\n\n", status: 200},
		{in: "HTTP/2 200\r\n\r\n", bad: true},
		{in: "HTTP/1.1 20x OK\r\n\r\n", bad: true},
		{in: "HTTP/1.1 200 OK\r\nbroken header\r\n\r\n", bad: true},
		{in: "HTTP/1.1 200 OK\r\n", bad: true},
		{in: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: b\r\n", 3000) + "\r\n", bad: true},
	} {
		br := bufio.NewReader(strings.NewReader(c.in))
		status, squid, err := ReadConnectReply(br)
		if (err != nil) != c.bad || (err == nil && (status != c.status || squid != c.squid)) {
			t.Errorf("%.40q: %d %q %v, want %d %q bad=%v", c.in, status, squid, err, c.status, c.squid, c.bad)
		}
		if c.status == 200 && !c.bad {
			if rest, _ := io.ReadAll(br); strings.HasPrefix(c.in, "HTTP/1.1 200 Connection") && string(rest) != "rest" {
				t.Errorf("bytes after the head: %q, want them left for the tunnel", rest)
			}
		}
	}
}

// TestProxyAnswersGarbage: a port that answers something else than HTTP
// is a proxy down (no valid answer), for both modes.
func TestProxyAnswersGarbage(t *testing.T) {
	addr := testenv.ServeLoopback(t, func(c net.Conn) { c.Write([]byte("SSH-2.0-OpenSSH\r\n")) })
	for _, m := range []Mode{Get, Connect} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := Probe(ctx, Config{Proxy: addr, Mode: m, Target: "http://127.0.0.1:1/"})
		cancel()
		var e *Error
		if !errors.As(err, &e) || !e.ProxyDown() {
			t.Errorf("%s: err = %v, want proxy down", m, err)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{Proxy: "x", Target: "http://a/"},
		{Proxy: "127.0.0.1:1", Target: "https://a/"}, // https needs CONNECT
		{Proxy: "127.0.0.1:1", Target: "ftp://a/", Mode: Connect},
		{Proxy: "127.0.0.1:1", Target: "http://u:p@a/"},
		{Proxy: "127.0.0.1:1", Target: "http:///x"},
		{Proxy: "127.0.0.1:1", Target: "http://a/", Mode: "socks"},
		{Proxy: "127.0.0.1:1", Target: "http://a/", Status: 1000},
	} {
		var e *Error
		if _, err := Probe(context.Background(), c); !errors.As(err, &e) || e.Stage != StageConfig {
			t.Errorf("%+v: err = %v, want a config error", c, err)
		}
	}
}

// FuzzReadConnectReply feeds arbitrary replies to the CONNECT reply reader.
func FuzzReadConnectReply(f *testing.F) {
	files, _ := filepath.Glob("testdata/connect-*")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		status, _, err := ReadConnectReply(bufio.NewReader(bytes.NewReader(b)))
		if err == nil && (status < 100 || status > 999) {
			t.Fatalf("status %d accepted", status)
		}
	})
}
