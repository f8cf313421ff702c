package store

import (
	"errors"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/agents/carphook/config"
	"github.com/ocfkit/ocfkit/agents/carphook/event"
	"github.com/ocfkit/ocfkit/internal/filesafe/filesafetest"
)

func TestMain(m *testing.M) { os.Exit(filesafetest.Main(m)) }

// TestOpenRefusesUnsafeDir: status files are written in the state
// directory as root; one that others can write (state_dir = "/tmp/x") would
// let them redirect those writes.
func TestOpenRefusesUnsafeDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "writable by group and others") {
		t.Errorf("Open(%s, mode 1777): %v", dir, err)
	}
}

// TestNextSeq: at 2^64-1 the sequence wrapped to 0, which means "no event"
// and the event was skipped.
func TestNextSeq(t *testing.T) {
	for in, want := range map[uint64]uint64{0: 1, 1: 2, math.MaxUint64 - 1: math.MaxUint64, math.MaxUint64: 1} {
		if got := NextSeq(in); got != want {
			t.Errorf("NextSeq(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestReadWrite(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Read("g")
	if err != nil || st.Seq != 0 || st.Settled() {
		t.Fatalf("unknown group: %+v, %v", st, err)
	}
	st.Seq, st.Applied, st.Outcome = 3, 3, OutcomeOK
	st.Event = event.Event{Source: "apply", Group: "g", State: event.Master}
	if err := s.Write(st); err != nil {
		t.Fatal(err)
	}
	got, err := s.Read("g")
	if err != nil || !got.Settled() || got.Event.State != event.Master {
		t.Fatalf("read back %+v, %v", got, err)
	}
	for _, o := range []Outcome{OutcomeRunning, OutcomePending} {
		got.Outcome = o
		if got.Settled() {
			t.Errorf("settled while %s", o)
		}
	}
	entries, _ := os.ReadDir(s.Dir)
	if len(entries) != 1 {
		t.Errorf("files left in the state directory: %v", entries)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "bad.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read("bad"); err == nil {
		t.Error("a damaged status file gave no error")
	}
}

func TestLockExcludes(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := s.LockEvent("g")
	if err != nil {
		t.Fatal(err)
	}
	// Probe the lock from a second open file description, without waiting.
	probe := func() error {
		f, err := os.OpenFile(s.path("g", ".event.lock"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err := probe(); err != syscall.EWOULDBLOCK {
		t.Fatalf("probing the held lock: %v, want %v", err, syscall.EWOULDBLOCK)
	}
	unlock()
	if err := probe(); err != nil {
		t.Fatalf("probing the released lock: %v", err)
	}
}

// TestLockTimeout: a stuck holder of the event lock must not hang every
// later front-end (and ucarp or keepalived behind it).
func TestLockTimeout(t *testing.T) {
	p := filepath.Join(t.TempDir(), "l")
	unlock, err := lock(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock(p, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "still held") {
		t.Errorf("second lock: %v", err)
	}
	unlock()
	unlock2, err := lock(p, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock2()
}

// TestPlans: a plan is saved for its owner only, in a directory of its
// configuration file's own under the fixed plan directory, read back for
// that file, and refused once others can write it. Looking for the plans
// of a file that has none creates nothing.
func TestPlans(t *testing.T) {
	p := &Plans{Dir: filepath.Join(t.TempDir(), "plans")}
	if plans, err := p.All("/etc/c.toml"); len(plans) != 0 || err != nil {
		t.Fatalf("no plans yet: %+v, %v", plans, err)
	}
	if _, err := os.Stat(p.Dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("looking for plans created %s: %v", p.Dir, err)
	}
	g := &config.Group{Name: "g", Match: []string{"10.0.0.5"}, Actions: []*config.Action{{Type: "address", Interface: "eth0",
		Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/24")}}}}
	if err := p.Save(&Plan{Config: "/etc/c.toml", StateDir: "/srv/state", Group: g}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(p.dir("/etc/c.toml"), "g.plan.json")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("plan file: %v, %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("plan directory: %v, %v", fi, err)
	}
	plans, err := p.All("/etc/c.toml")
	if err != nil || len(plans) != 1 || plans[0].Group.Actions[0].Prefixes[0] != g.Actions[0].Prefixes[0] || plans[0].StateDir != "/srv/state" {
		t.Fatalf("plans %+v, %v", plans, err)
	}
	if plan, err := p.Load("/etc/c.toml", "g"); err != nil || plan == nil {
		t.Fatalf("Load: %+v, %v", plan, err)
	}
	if plans, _ := p.All("/etc/other.toml"); len(plans) != 0 {
		t.Errorf("a plan of another file: %+v", plans)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if plans, err := p.All("/etc/c.toml"); len(plans) != 0 || err == nil || !strings.Contains(err.Error(), "refusing saved plan") {
		t.Errorf("a plan others can write: %+v, %v", plans, err)
	}
}

// TestStatusPrivate: a status names the commands run and their errors
// (an exec's --password=...), so it is root's alone, like the plan.
func TestStatusPrivate(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(&Status{Group: "g", Seq: 1, Error: "exec /bin/x --password=hunter2 exited with 1"}); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.LockEvent("g")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	for _, name := range []string{"g.json", "g.event.lock"} {
		if fi, err := os.Stat(filepath.Join(s.Dir, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", name, fi, err)
		}
	}
	if st, err := s.Read("g"); err != nil || st.Seq != 1 {
		t.Errorf("reading it back: %+v, %v", st, err)
	}
}
