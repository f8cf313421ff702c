package dnsfailover_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// fds counts the open descriptors of process pid.
func fds(t *testing.T, pid int) int {
	t.Helper()
	l, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	must(t, err)
	return len(l)
}

// TestRunWatchHostile drives the real daemon (watch on, interval 1s,
// fast_interval 500ms, fall 1) through the operators' bad days: a member
// killed and started again five times (each death removed by the early
// check of its ended watch, each return put back), then a storm of 200
// HUPs in two seconds. The daemon's descriptors come back to what they
// were (no watch or check leaks one), the storm brings at most a round
// per fast_interval (before, a round per HUP: fall reached in
// milliseconds), and SIGTERM ends it with exit 0.
func TestRunWatchHostile(t *testing.T) {
	l := newLab(t)
	state := filepath.Join(l.dir, "hostile.state")
	var b strings.Builder
	fmt.Fprintf(&b, "primaries = [%q, %q]\nzone = \"mydomain.test\"\ntsig_key = %q\nstate_file = %q\n", primary1, primary2, l.key, state)
	b.WriteString("interval = \"1s\"\nfast_interval = \"500ms\"\ntimeout = \"1s\"\nfall = 1\nwatch = true\n[[record]]\nname = \"www.mydomain.test\"\n")
	b.WriteString("check = { type = \"send-expect\", port = \"http\", send = \"GET /robots.txt HTTP/1.0\", expect = \"httpd is working\" }\n")
	for _, a := range www4 {
		fmt.Fprintf(&b, "[[record.member]]\naddress = %q\n", a)
	}
	conf := filepath.Join(l.dir, "hostile.toml")
	must(t, os.WriteFile(conf, []byte(b.String()), 0o600))
	cmd, out, stop := l.daemonCmd(conf)
	watching := func(n int) {
		t.Helper()
		testenv.WaitFor(t, 20*time.Second, fmt.Sprintf("%d watch openings", n), func() error {
			if got := strings.Count(out.String(), "debug: watching "); got < n {
				return fmt.Errorf("%d so far", got)
			}
			return nil
		})
	}
	watching(3)
	// The watches open, no round or early check running: the base.
	base := fds(t, cmd.Process.Pid)
	victim := www4[0]
	for i := 0; i < 5; i++ {
		l.stop(victim)
		l.gone(www4[1:])
		l.start(victim)
		l.gone(www4)
	}
	if _, early := rounds(t, state); early < 5 {
		t.Fatalf("%d early checks for 5 deaths\n%s", early, out)
	}
	before, _ := rounds(t, state)
	start := time.Now()
	for i := 0; i < 200; i++ {
		must(t, cmd.Process.Signal(syscall.SIGHUP))
		time.Sleep(10 * time.Millisecond) // the storm's pace, not a synchronisation
	}
	elapsed := time.Since(start)
	testenv.WaitFor(t, 10*time.Second, "a round after the storm", func() error {
		if n, _ := rounds(t, state); n <= before {
			return fmt.Errorf("rounds %d", n)
		}
		return nil
	})
	after, _ := rounds(t, state)
	if most := before + int(elapsed/(500*time.Millisecond)) + 3; after > most {
		t.Fatalf("%d rounds in %v of HUPs, want at most %d (one per fast_interval)", after-before, elapsed, most-before)
	}
	// The watches made anew after the storm; the descriptors back to the base.
	n := strings.Count(out.String(), "debug: watching ")
	watching(n + 3)
	testenv.WaitFor(t, 10*time.Second, "the descriptors back to the base", func() error {
		if got := fds(t, cmd.Process.Pid); got > base {
			return fmt.Errorf("%d open, %d at the start", got, base)
		}
		return nil
	})
	if text := out.String(); !strings.Contains(text, "reloaded: ") || strings.Contains(text, "panic") {
		t.Fatalf("reloads:\n%s", text)
	}
	stop()
}

// TestRunReloadHostileFiles: SIGHUP with files an attacker or a bad day
// left: a configuration others can write, a key replaced by a FIFO (the
// read must not hang the daemon), a key others can read, a key whose
// syntax is broken around its secret. Each reload is refused with the
// running configuration kept and no secret in the log; a good file then
// reloads.
func TestRunReloadHostileFiles(t *testing.T) {
	l := newLab(t)
	key := filepath.Join(l.dir, "hostile.key")
	good, err := os.ReadFile(l.key)
	must(t, err)
	must(t, os.WriteFile(key, good, 0o600))
	conf := l.config("rh.toml", key, "", "interval = \"30s\"")
	state := filepath.Join(l.dir, "rh.toml.state")
	cmd, out, stop := l.daemonCmd(conf)
	testenv.WaitFor(t, 20*time.Second, "the first round", func() error {
		if n, _ := rounds(t, state); n != 1 {
			return fmt.Errorf("rounds %d", n)
		}
		return nil
	})
	refused := 0
	hup := func(what string) {
		t.Helper()
		refused++
		must(t, cmd.Process.Signal(syscall.SIGHUP))
		testenv.WaitFor(t, 10*time.Second, what+" refused", func() error {
			if n := strings.Count(out.String(), "reload refused, the running configuration stays: "); n < refused {
				return fmt.Errorf("%d refusals", n)
			}
			return nil
		})
	}
	must(t, os.Chmod(conf, 0o666))
	hup("a configuration others can write")
	must(t, os.Chmod(conf, 0o600))
	must(t, os.Remove(key))
	must(t, syscall.Mkfifo(key, 0o600))
	hup("a key that is a FIFO")
	must(t, os.Remove(key))
	must(t, os.WriteFile(key, good, 0o644))
	hup("a key others can read")
	must(t, os.Chmod(key, 0o600))
	const secret = "c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhaw=="
	must(t, os.WriteFile(key, []byte("key \"dns-failover\" {\n algorithm hmac-sha256;\n secret \""+secret+"\"\n}\n"), 0o600))
	hup("a key with broken syntax")
	must(t, os.WriteFile(key, good, 0o600))
	must(t, cmd.Process.Signal(syscall.SIGHUP))
	testenv.WaitFor(t, 10*time.Second, "the good reload and its round", func() error {
		if n, _ := rounds(t, state); n < 2 || !strings.Contains(out.String(), "reloaded: ") {
			return fmt.Errorf("rounds %d", n)
		}
		return nil
	})
	if text := out.String(); strings.Contains(text, secret) || strings.Contains(text, "c2VjcmV0") {
		t.Fatalf("the secret reached the log:\n%s", text)
	}
	if n, _ := rounds(t, state); n > 2 {
		t.Fatalf("%d rounds: the refused reloads brought rounds", n)
	}
	stop()
}

// TestRunStopDuringEarlyCheck: SIGTERM while an early check waits on a
// member (its process killed, closing the watch; its host then silent,
// so the check hangs until the timeout) ends the daemon with exit 0, and
// the cut check judges nobody: the state file still has the member up
// with no failure. Before, the cut check counted as the member failing,
// and with fall = 1 it was saved down.
func TestRunStopDuringEarlyCheck(t *testing.T) {
	testenv.RequireCommand(t, "nft")
	l := newLab(t)
	state := filepath.Join(l.dir, "stop.toml.state")
	conf := l.config("stop.toml", l.key, "", "interval = \"30s\"\ntimeout = \"20s\"\nfall = 1\nwatch = true")
	_, out, stop := l.daemonCmd(conf)
	victim := www4[1]
	testenv.WaitFor(t, 20*time.Second, "the watch of "+victim, func() error {
		if !strings.Contains(out.String(), "watching "+www+" "+victim+" at ") {
			return fmt.Errorf("not watched yet")
		}
		return nil
	})
	// Its host drops what comes in, then its server dies: the FIN still
	// leaves, the early check's SYN goes unanswered.
	l.members[victim].ns.MustRun(t, "nft", "add table inet silent; add chain inet silent in { type filter hook input priority 0; policy drop; }")
	l.stop(victim)
	testenv.WaitFor(t, 10*time.Second, "the watch's end", func() error {
		if !strings.Contains(out.String(), "watch of "+www+" "+victim+" ended") {
			return fmt.Errorf("not ended yet")
		}
		return nil
	})
	stop() // SIGTERM, exit 0 wanted
	data, err := os.ReadFile(state)
	must(t, err)
	var st struct {
		Members map[string]struct {
			Up   bool `json:"up"`
			Fail int  `json:"fail"`
		} `json:"members"`
	}
	must(t, json.Unmarshal(data, &st))
	if m := st.Members[www+" A "+victim]; !m.Up || m.Fail != 0 {
		t.Fatalf("%s judged by the early check SIGTERM cut: %+v\n%s", victim, m, out)
	}
}
