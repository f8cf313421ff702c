package syslog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/servicelabtest"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in, text string
		version  int
		bad      bool
	}{
		{in: "<13>1 2026-11-27T19:00:00Z host app 1 - - hello tok", text: "hello tok", version: 1},
		{in: "<13>1 2026-11-27T19:00:00Z host app 1 - [a b=\"x\\\"]y\"][c] \xef\xbb\xbftok", text: "tok", version: 1},
		{in: "<13>1 2026-11-27T19:00:00Z host app 1 - -", text: "", version: 1},
		{in: "<13>Nov 27 17:16:08 localhost labprobe: probe TOKEN", text: "Nov 27 17:16:08 localhost labprobe: probe TOKEN"},
		{in: "<191>x", text: "x"},
		{in: "<192>x", bad: true},
		{in: "<013>x", bad: true},
		{in: "13>x", bad: true},
		{in: "<13", bad: true},
		{in: "<13>1 a b c", bad: true},
		{in: "<13>1 a b c d e [unterminated", bad: true},
		{in: "<13>1 a b c d e -x", bad: true},
	} {
		p, err := Parse([]byte(c.in))
		if (err != nil) != c.bad {
			t.Errorf("Parse(%q) err = %v, want bad=%v", c.in, err, c.bad)
			continue
		}
		if err == nil && (string(p.Text) != c.text || p.Version != c.version) {
			t.Errorf("Parse(%q) = text %q v%d, want %q v%d", c.in, p.Text, p.Version, c.text, c.version)
		}
	}
}

// TestMessageRoundTrip checks that what the probe sends parses with its
// token, framed both ways.
func TestMessageRoundTrip(t *testing.T) {
	for _, f := range []Format{RFC5424, RFC3164} {
		tok := NewToken()
		msg := Message(&Config{Format: f}, tok, time.Now())
		if _, ok := Carries(msg, []byte(tok)); !ok {
			t.Errorf("%s: %q does not carry its token", f, msg)
		}
		for _, oc := range []bool{false, true} {
			stream := append(Frame([]byte("<13>other"), oc), Frame(msg, oc)...)
			sc := bufio.NewScanner(bytes.NewReader(stream))
			sc.Split(SplitFrames)
			var found bool
			for sc.Scan() {
				if _, ok := Carries(sc.Bytes(), []byte(tok)); ok {
					found = true
				}
			}
			if !found || sc.Err() != nil {
				t.Errorf("%s octet=%v: token not found in %q (%v)", f, oc, stream, sc.Err())
			}
		}
	}
	// Back to back without LF (rsyslog's UDP forwarding): one datagram.
	if _, ok := Carries([]byte("<13>Nov 27 17:16:21 vm x: other<13>Nov 27 vm x: tok"), []byte("tok")); !ok {
		t.Error("token in a second message without LF not found")
	}
}

// TestFileTail checks the file mode: only what is appended counts, a
// rotated file is read from its start, the read is bounded, and a
// symlink or a directory is refused.
func TestFileTail(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "log")
	servicelabtest.WriteFile(t, p, "old ocfkit-probe-stale\n")
	tl, err := openTail(p, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	if line, err := tl.scan([]byte("ocfkit-probe-stale")); line != nil || err != nil {
		t.Fatalf("a token already in the file counted: %q %v", line, err)
	}
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("a line\nnew ocfkit-pro")
	if line, _ := tl.scan([]byte("ocfkit-probe-1")); line != nil {
		t.Fatal("half a token counted")
	}
	f.WriteString("be-1 end\n")
	f.Close()
	if line, err := tl.scan([]byte("ocfkit-probe-1")); string(line) != "new ocfkit-probe-1 end" || err != nil {
		t.Fatalf("scan = %q, %v", line, err)
	}
	// Rotation: a new, shorter file.
	os.Rename(p, p+".1")
	servicelabtest.WriteFile(t, p, "x ocfkit-probe-2\n")
	if line, err := tl.scan([]byte("ocfkit-probe-2")); line == nil || err != nil {
		t.Fatalf("after rotation: %q, %v", line, err)
	}

	small, err := openTail(p, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	f, _ = os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(strings.Repeat("y", 100) + "\n")
	f.Close()
	var fe *fileError
	if _, err := small.scan([]byte("tok")); !errors.As(err, &fe) {
		t.Fatalf("over the bound: err = %v, want a file error", err)
	}

	os.Symlink(p, filepath.Join(dir, "link"))
	if _, err := openTail(filepath.Join(dir, "link"), 10); err == nil {
		t.Error("a symlink was followed")
	}
	if _, err := openTail(dir, 10); err == nil {
		t.Error("a directory was accepted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	tl2, _ := openTail(p, 1<<20)
	defer tl2.Close()
	if _, err := tl2.wait(ctx, "never"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait = %v, want the deadline", err)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{Server: "x", Relay: "127.0.0.1:1"},
		{Server: "127.0.0.1:1"},
		{Server: "127.0.0.1:1", Relay: "127.0.0.1:2", File: "/x"},
		{Server: "127.0.0.1:1", Relay: "127.0.0.1:2", OctetCounting: true},
		{Server: "127.0.0.1:1", Relay: "127.0.0.1:2", Network: "sctp"},
		{Server: "127.0.0.1:1", Relay: "127.0.0.1:2", Format: "json"},
		{Server: "127.0.0.1:1", Relay: "127.0.0.1:2", Hostname: "a b"},
		{Server: "127.0.0.1:1", Relay: "127.0.0.1:2", RelayNetwork: "x"},
	} {
		var e *Error
		if _, err := Probe(context.Background(), c); !errors.As(err, &e) || e.Stage != StageConfig {
			t.Errorf("%+v: err = %v, want a config error", c, err)
		}
	}
}

func seeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/msg-*")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParse feeds arbitrary messages to Parse and Carries.
func FuzzParse(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err == nil && (p.Priority < 0 || p.Priority > 191 || len(p.Text) > len(b)) {
			t.Fatalf("Parse(%q) = %+v", b, p)
		}
		if m, ok := Carries(b, []byte("tok")); ok && !bytes.Contains(m, []byte("tok")) {
			t.Fatalf("Carries returned %q without the token", m)
		}
	})
}

// FuzzSplitFrames feeds arbitrary TCP streams to the frame splitter.
func FuzzSplitFrames(f *testing.F) {
	seeds(f)
	f.Add([]byte("12 <13>1 a b c\n5 hello"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 16), MaxMessage+16)
		sc.Split(SplitFrames)
		total := 0
		for sc.Scan() {
			if len(sc.Bytes()) > MaxMessage {
				t.Fatalf("frame of %d bytes", len(sc.Bytes()))
			}
			total += len(sc.Bytes())
		}
		if total > len(b) {
			t.Fatalf("frames hold %d bytes of a %d-byte stream", total, len(b))
		}
	})
}

// TestTCPRelay checks the relay listener over TCP: frames of other
// tokens are skipped, the right one is found in a later frame, and Close
// returns with the relay's connection still open.
func TestTCPRelay(t *testing.T) {
	for _, oc := range []bool{false, true} {
		l, err := listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", l.ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		tok := NewToken()
		old := Message(&Config{}, NewToken(), time.Now())
		msg := Message(&Config{Format: RFC3164}, tok, time.Now())
		c.Write(append(Frame(old, oc), Frame(msg, oc)...))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		got, err := l.wait(ctx, tok)
		cancel()
		if err != nil || !bytes.Contains(got, []byte(tok)) {
			t.Errorf("octet=%v: wait = %q, %v", oc, got, err)
		}
		l.Close()
		c.Close()
	}
}
