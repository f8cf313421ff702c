package vip

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/fakeconn"
)

// stuckConn is a socket that refuses read deadlines: only Close ends a
// blocked read.
type stuckConn struct{ *fakeconn.Inbox }

func (stuckConn) SetReadDeadline(time.Time) error { return errors.New("deadline refused") }

func (stuckConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }

// TestPathsCloseWhenDeadlineFails shows that Close ends even where the
// socket refuses the read deadline that stops the bridge's reader: it
// closes the socket instead of waiting forever, and says what failed.
func TestPathsCloseWhenDeadlineFails(t *testing.T) {
	cfg := Config{Interface: &net.Interface{Name: "fake0", MTU: 1500, HardwareAddr: localMAC}, Source: src, VIP: vipAddr, Port: 80}
	cfg.defaults()
	p, err := newPaths(cfg, stuckConn{fakeconn.NewInbox(1)}, []Target{{Addr: src, MAC: macUp}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Close hid the refused deadline")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close still blocked after 30 s")
	}
}
