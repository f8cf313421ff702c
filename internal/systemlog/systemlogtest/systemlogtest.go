//go:build linux

// Package systemlogtest gives tests a system log that has stalled: a
// journald socket that nobody reads, its queue already full, seen by a
// program run in a private mount namespace as /run/systemd/journal/socket.
// A program whose logging blocks hangs there for ever.
package systemlogtest

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// Stalled is a journal socket nobody reads.
type Stalled struct {
	// Dir stands for /run/systemd: it holds journal/socket.
	Dir string
	// Socket is the socket's path.
	Socket string
	conn   *net.UnixConn
}

// NewStalled binds a journal socket in a new directory under dir and fills
// its queue. The socket is closed when the test ends.
func NewStalled(t testing.TB, dir string) *Stalled {
	t.Helper()
	s := &Stalled{Dir: filepath.Join(dir, "systemd")}
	if err := os.MkdirAll(filepath.Join(s.Dir, "journal"), 0o755); err != nil {
		t.Fatal(err)
	}
	s.Socket = filepath.Join(s.Dir, "journal", "socket")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.Socket, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s.conn = c
	t.Cleanup(func() { c.Close() })
	s.Fill(t)
	return s
}

// Fill sends datagrams to the socket until its queue is full.
func (s *Stalled) Fill(t testing.TB) {
	t.Helper()
	w, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: s.Socket, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; i < 100000; i++ {
		// A short deadline: a full queue does not block the test.
		_ = w.SetWriteDeadline(time.Now().Add(time.Millisecond))
		if _, err := w.Write([]byte("MESSAGE=filler\n")); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.EAGAIN) {
				return
			}
			t.Fatal(err)
		}
	}
	t.Fatal("the journal socket never filled up")
}

// Command returns a command that runs name in a private mount namespace
// where s.Dir is /run/systemd, so that its journal is the stalled one.
func (s *Stalled) Command(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	testenv.RequireRoot(t)
	unshare := testenv.RequireCommand(t, "unshare")
	if fi, err := os.Stat("/run/systemd"); err != nil || !fi.IsDir() {
		t.Skip("no /run/systemd to mount over")
	}
	return exec.Command(unshare, append([]string{"--mount", "--propagation", "private", "/bin/sh", "-c",
		`mount --bind "$0" /run/systemd && exec "$@"`, s.Dir, name}, args...)...)
}
