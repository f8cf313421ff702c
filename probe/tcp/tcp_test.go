package tcp

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

func listen(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	return testenv.ServeLoopback(t, serve)
}

func stageOf(err error) Stage {
	var e *Error
	if errors.As(err, &e) {
		return e.Stage
	}
	return ""
}

// TestProbe: a banner that holds the expected text passes; a wrong
// banner, a server that never answers, and a closed port fail at the
// stage named, within the context.
func TestProbe(t *testing.T) {
	echo := listen(t, func(c net.Conn) {
		b := make([]byte, 64)
		n, _ := c.Read(b)
		_, _ = c.Write(append([]byte("+OK "), b[:n]...))
	})
	mute := listen(t, func(c net.Conn) { time.Sleep(2 * time.Second) })
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		cfg  Config
		want Stage
	}{
		{Config{Address: echo, Send: []byte("PING\r\n"), Expect: []byte("+OK PING")}, ""},
		{Config{Address: echo}, ""},
		{Config{Address: echo, Send: []byte("PING"), Expect: []byte("PONG")}, StageExpect},
		{Config{Address: mute, Expect: []byte("hello")}, StageExpect},
		{Config{Address: closed}, StageConnect},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		_, err := Probe(ctx, tc.cfg)
		cancel()
		if got := stageOf(err); got != tc.want {
			t.Errorf("%+v: stage %q (%v), want %q", tc.cfg, got, err, tc.want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%+v: took %v", tc.cfg, d)
		}
	}
}
