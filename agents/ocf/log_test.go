//go:build linux

package ocf

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocfkit/ocfkit/internal/systemlog/systemlogtest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestLogFileFIFO: $HA_LOGFILE naming a FIFO made every action hang in
// its first log line (opening a FIFO nobody reads waits for a reader;
// writing to a full one waits for room). Only a regular file is written
// now; anything else is refused, said once on stderr, and the action goes
// on.
func TestLogFileFIFO(t *testing.T) {
	dir := t.TempDir()
	noReader := filepath.Join(dir, "no-reader")
	full := filepath.Join(dir, "full")
	for _, p := range []string{noReader, full} {
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A reader that never reads, and a pipe already full (raw system
	// calls: the os package would wait in its poller).
	fd, err := syscall.Open(full, syscall.O_RDWR|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	for {
		if _, err := syscall.Write(fd, bytes.Repeat([]byte("x"), 4096)); err != nil {
			break
		}
	}
	for _, file := range []string{noReader, full, "/dev/null"} {
		var stderr bytes.Buffer
		l := newLogger("ocf-test", "proxy", &stderr, envOf(map[string]string{"HA_LOGFILE": file, "HA_LOGFACILITY": "none"}), true)
		testenv.NoHang(t, "logging to HA_LOGFILE="+file, func() {
			l.Infof("one")
			l.Errorf("two")
		})
		want := "ocf-test(proxy)[INFO]: one\nocf-test(proxy)[WARNING]: HA_LOGFILE " + file +
			" is not a regular file: not writing to it\nocf-test(proxy)[ERROR]: two\n"
		if stderr.String() != want {
			t.Errorf("HA_LOGFILE=%s: stderr %q, want %q", file, stderr.String(), want)
		}
	}
}

// TestStalledSystemLog: an action logging to a journal that does not read
// its socket hung for ever once the queue was full (a stop, before
// signalling Dante: stop timeout, fencing). The logger runs here in a
// child whose /run/systemd/journal/socket is such a journal. Its stderr
// has the 30 messages and the one notice that the system log drops them.
func TestStalledSystemLog(t *testing.T) {
	if os.Getenv("OCF_LOG_CHILD") == "1" {
		var stderr bytes.Buffer
		l := newLogger("ocf-test", "proxy", &stderr, envOf(nil), true)
		for i := 0; i < 30; i++ {
			l.Infof("message %d", i)
		}
		l.Close()
		fmt.Printf("stderr lines %d, drop notices %d\n", strings.Count(stderr.String(), "\n"),
			strings.Count(stderr.String(), "is not taking messages: dropping them"))
		return
	}
	s := systemlogtest.NewStalled(t, t.TempDir())
	cmd := s.Command(t, os.Args[0], "-test.run=^TestStalledSystemLog$", "-test.v")
	cmd.Env = append(os.Environ(), "OCF_LOG_CHILD=1")
	var out []byte
	var err error
	testenv.NoHang(t, "an action logging to a stalled journal", func() { out, err = cmd.CombinedOutput() })
	if err != nil || !strings.Contains(string(out), "stderr lines 31, drop notices 1") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
