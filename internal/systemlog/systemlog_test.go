//go:build linux

package systemlog

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/systemlog/systemlogtest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// at returns a Log whose journal is the socket at path, with notices to
// w.
func at(path string, w *bytes.Buffer) *Log {
	l := New("test", map[string]string{"OCF_RESOURCE": "r1"}).NoticeTo(w)
	l.journalPath, l.syslogPaths = path, nil
	return l
}

// TestStalledJournalDoesNotBlock: a journal that does not read its socket
// (journald hung) made every Send after the queue filled wait for ever,
// and with it the action logging (a stop, before fencing). Now messages
// that find no room are dropped and counted, and the drop is reported once.
func TestStalledJournalDoesNotBlock(t *testing.T) {
	s := systemlogtest.NewStalled(t, t.TempDir())
	var notice bytes.Buffer
	l := at(s.Socket, &notice)
	defer l.Close()
	testenv.NoHang(t, "logging to a stalled journal", func() {
		for i := 0; i < 50; i++ {
			if l.Send(Info, fmt.Sprintf("message %d", i)) {
				t.Errorf("message %d reported as sent to a full journal", i)
			}
		}
	})
	if l.Dropped() != 50 {
		t.Errorf("dropped %d messages, want 50", l.Dropped())
	}
	if got := strings.Count(notice.String(), "not taking messages"); got != 1 {
		t.Errorf("drop notice written %d times, want once: %q", got, notice.String())
	}
	if !strings.Contains(notice.String(), s.Socket) {
		t.Errorf("notice %q does not name the socket", notice.String())
	}
}

// TestStalledSyslog: the same for a syslog socket (/dev/log) nobody reads.
func TestStalledSyslog(t *testing.T) {
	s := systemlogtest.NewStalled(t, t.TempDir())
	var notice bytes.Buffer
	l := New("test", nil).NoticeTo(&notice)
	l.journalPath, l.syslogPaths = filepath.Join(t.TempDir(), "none"), []string{s.Socket}
	defer l.Close()
	testenv.NoHang(t, "logging to a stalled syslog", func() {
		for i := 0; i < 20; i++ {
			l.Send(Warning, "message")
		}
	})
	if l.Dropped() != 20 || strings.Count(notice.String(), "not taking messages") != 1 {
		t.Errorf("dropped %d, notice %q", l.Dropped(), notice.String())
	}
}

// TestStalledJournalChild: the same through the real path
// (/run/systemd/journal/socket), in a child process whose journal is a
// stalled one; the old code hung there.
func TestStalledJournalChild(t *testing.T) {
	if os.Getenv("SYSTEMLOG_CHILD") == "1" {
		l := New("systemlog-child", nil)
		for i := 0; i < 30; i++ {
			l.Send(Error, "child message")
		}
		fmt.Printf("dropped %d\n", l.Dropped())
		return
	}
	s := systemlogtest.NewStalled(t, t.TempDir())
	cmd := s.Command(t, os.Args[0], "-test.run=^TestStalledJournalChild$", "-test.v")
	cmd.Env = append(os.Environ(), "SYSTEMLOG_CHILD=1")
	var out []byte
	var err error
	testenv.NoHang(t, "a program logging to a stalled journal", func() { out, err = cmd.CombinedOutput() })
	if err != nil || !strings.Contains(string(out), "dropped 30") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// TestJournalFormat checks the native protocol fields, a multi-line
// message included, and that a restarted journal (a new socket at the
// same path) is found again.
func TestJournalFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "socket")
	listen := func() *net.UnixConn {
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	r := listen()
	var notice bytes.Buffer
	l := at(path, &notice)
	defer l.Close()
	read := func(r *net.UnixConn) string {
		buf := make([]byte, 65536)
		_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := r.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	if !l.Send(Warning, "one line") {
		t.Fatal("not sent")
	}
	want := "PRIORITY=4\nMESSAGE=one line\nSYSLOG_IDENTIFIER=test\nSYSLOG_FACILITY=3\nOCF_RESOURCE=r1\n"
	if got := read(r); got != want {
		t.Errorf("entry %q, want %q", got, want)
	}
	if !l.Send(Error, "two\nlines") {
		t.Fatal("not sent")
	}
	if got := read(r); !strings.HasPrefix(got, "PRIORITY=3\nMESSAGE\n\x09\x00\x00\x00\x00\x00\x00\x00two\nlines\n") {
		t.Errorf("multi-line entry %q", got)
	}
	// journald restarts: a new socket at the same path.
	r.Close()
	os.Remove(path)
	r = listen()
	defer r.Close()
	if !l.Send(Info, "after restart") || !strings.Contains(read(r), "MESSAGE=after restart\n") {
		t.Error("message after the journal restarted not received")
	}
	if l.Dropped() != 0 || notice.Len() != 0 {
		t.Errorf("dropped %d, notice %q", l.Dropped(), notice.String())
	}
}

// TestSyslogFallback: without a journal, messages go to a syslog socket in
// log/syslog's local format, with the facility.
func TestSyslogFallback(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	r, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l := NewFacility("test", nil, "local3")
	l.journalPath, l.syslogPaths = filepath.Join(dir, "none"), []string{filepath.Join(dir, "absent"), path}
	defer l.Close()
	if !l.Send(Error, "hello") {
		t.Fatal("not sent")
	}
	buf := make([]byte, 4096)
	_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := r.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := string(buf[:n])
	if !strings.HasPrefix(got, "<155>") || !strings.HasSuffix(got, fmt.Sprintf(" test[%d]: hello\n", os.Getpid())) {
		t.Errorf("syslog line %q", got)
	}
}

// TestNoSystemLog: with no socket at all, Send reports false at once.
func TestNoSystemLog(t *testing.T) {
	l := at(filepath.Join(t.TempDir(), "none"), &bytes.Buffer{})
	if l.Send(Info, "x") {
		t.Error("sent to nothing")
	}
}

// TestNoticeDefault shows that a Log whose caller gives no writer still
// says on os.Stderr that it drops messages.
func TestNoticeDefault(t *testing.T) {
	if l := New("test", nil); l.notice != os.Stderr {
		t.Errorf("notice writer %v, want os.Stderr", l.notice)
	}
}
