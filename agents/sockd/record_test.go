package sockd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// flipBinary gives the lab a binary symlink to a copy of danted in v1 and
// returns the function that flips it to a copy in v2, as
// update-alternatives does.
func (l *lab) flipBinary() func() {
	l.t.Helper()
	bin, err := os.ReadFile("/usr/sbin/danted")
	if err != nil {
		l.t.Fatal(err)
	}
	for _, v := range []string{"v1", "v2"} {
		if err := os.Mkdir(l.path(v), 0o755); err != nil {
			l.t.Fatal(err)
		}
		if err := os.WriteFile(l.path(v+"/danted"), bin, 0o755); err != nil {
			l.t.Fatal(err)
		}
	}
	link := l.path("sockd")
	if err := os.Symlink(l.path("v1/danted"), link); err != nil {
		l.t.Fatal(err)
	}
	l.env["OCF_RESKEY_sockd"] = link
	return func() {
		l.t.Helper()
		if err := os.Symlink(l.path("v2/danted"), link+".new"); err != nil {
			l.t.Fatal(err)
		}
		if err := os.Rename(link+".new", link); err != nil {
			l.t.Fatal(err)
		}
	}
}

// stateFile returns the lab's one state file.
func (l *lab) stateFile() string {
	l.t.Helper()
	states, _ := filepath.Glob(l.env["HA_RSCTMP"] + "/*.state")
	if len(states) != 1 {
		l.t.Fatalf("state files: %v", states)
	}
	return states[0]
}

// TestLongPathsKeepTheRecord starts an instance whose configuration and
// pidfile have paths of 2,900 characters (legal: PATH_MAX is 4,096), then
// flips its binary symlink: the record of the start must still be read
// back, so that monitor finds the running Dante and stop ends it (N9: the
// record exceeded the 8 KiB the loader read, and stop left an orphan).
func TestLongPathsKeepTheRecord(t *testing.T) {
	l := newLab(t)
	flip := l.flipBinary()
	long := l.dir
	for i := 0; i < 12; i++ {
		long = filepath.Join(long, strings.Repeat("d", 240))
	}
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	l.env["OCF_RESKEY_sockd_config"] = filepath.Join(long, "c.conf")
	l.env["OCF_RESKEY_sockd_pidfile"] = filepath.Join(long, "p.pid")
	l.writeConfig(testenv.DanteConfig{})
	l.start()
	flip()
	r := l.expect(0, "monitor")
	if strings.Contains(r.stderr, "damaged") {
		t.Errorf("monitor: %s", r.stderr)
	}
	l.stopClean()
	l.expect(7, "monitor")
}

// TestDamagedStateIsDoubt damages the state file under a running instance
// whose binary symlink was flipped: without the record the current
// parameters match nothing, yet Dante runs. Monitor and start must be in
// doubt (1), never "not running" (7), and stop must end the Dante the
// start marked.
func TestDamagedStateIsDoubt(t *testing.T) {
	for _, damage := range []struct {
		name  string
		bytes func() []byte
	}{
		{"garbage", func() []byte { return []byte("{not json") }},
		{"oversized", func() []byte { return []byte(strings.Repeat(" ", maxState+1)) }},
	} {
		t.Run(damage.name, func(t *testing.T) {
			l := newLab(t)
			flip := l.flipBinary()
			l.start()
			flip()
			if err := os.WriteFile(l.stateFile(), damage.bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			l.expectReason(1, "in doubt", "monitor")
			l.expectReason(1, "in doubt", "monitor", recurring)
			l.expectReason(1, "in doubt", "start")
			l.expectReason(1, "in doubt", "reload")
			l.stopClean()
			l.expect(7, "monitor")
		})
	}
}

// TestParameterBounds gives start parameters whose record could not be
// read back: paths beyond PATH_MAX and sockd_args of thousands of words
// are refused (6) before anything starts.
func TestParameterBounds(t *testing.T) {
	l := newLab(t)
	tooLong := "/" + strings.Repeat("x", maxPath)
	for _, tc := range []struct{ name, value, reason string }{
		{"sockd_config", tooLong, "PATH_MAX"},
		{"sockd_pidfile", tooLong, "PATH_MAX"},
		{"sockd", tooLong, "PATH_MAX"},
		{"sockd_args", strings.Repeat("-n ", 2000), "words"},
		{"sockd_args", "-d " + strings.Repeat("9", maxArgsSize), "bytes long"},
	} {
		for _, action := range []string{"validate-all", "start"} {
			r := l.run(action, "OCF_RESKEY_"+tc.name+"="+tc.value)
			if r.code != 6 || !strings.Contains(r.reason(), tc.reason) {
				t.Errorf("%s with %s of %d bytes: exit %d, want 6 saying %q", action, tc.name, len(tc.value), r.code, tc.reason)
			}
		}
	}
	if left := l.processes(); len(left) > 0 {
		t.Errorf("started: %s", describeProcs(left))
	}
	l.expect(0, "validate-all", "OCF_RESKEY_sockd_args="+strings.TrimSpace(strings.Repeat("-n ", maxArgs)))
}

// TestLargestRecordFits writes the largest record parameters within their
// bounds can give, every byte one JSON escapes, and reads it back; a
// record beyond the limit is refused by saveState, not written.
func TestLargestRecordFits(t *testing.T) {
	path := "/" + strings.Repeat("\x01", maxPath-1)
	word := strings.Repeat("<", maxArgsSize/maxArgs-1)
	st := &startState{Params: [3]string{path, path, path}, Binary: path, Config: path, MntNS: "mnt:[4026531841]",
		Exe: fileID{Dev: ^uint64(0), Ino: ^uint64(0)}}
	for i := 0; i < maxArgs; i++ {
		st.Args = append(st.Args, word)
	}
	file := filepath.Join(t.TempDir(), "x.state")
	if err := saveState(file, st); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(file)
	if err != nil || got == nil || got.Config != path || len(got.Args) != maxArgs {
		t.Fatalf("read back: %v", err)
	}
	st.Binary += strings.Repeat("\x01", maxState)
	if err := saveState(file, st); !errors.Is(err, errStateTooLarge) {
		t.Errorf("oversized record: %v, want errStateTooLarge", err)
	}
}

// holdLock takes the lab's instance lock in the test process until the
// returned function is called. A monitor creates the lock file.
func (l *lab) holdLock() func() {
	l.t.Helper()
	l.run("monitor")
	locks, _ := filepath.Glob(l.env["HA_RSCTMP"] + "/*.lock")
	if len(locks) != 1 {
		l.t.Fatalf("lock files: %v", locks)
	}
	f, err := os.OpenFile(locks[0], os.O_RDWR, 0)
	if err != nil {
		l.t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		l.t.Fatal(err)
	}
	return func() { f.Close() }
}

// TestInstanceLock holds the instance's lock as another action would: start,
// monitor and reload give up within their deadline (1, with the reason),
// starting nothing; stop succeeds all the same, ending what runs. Freed,
// two starts at once give one Dante (N11: both failed, leaving one).
func TestInstanceLock(t *testing.T) {
	l := newLab(t)
	short := "OCF_RESKEY_CRM_meta_timeout=2000"
	release := l.holdLock()
	l.expectReason(1, "holds its lock", "start", short)
	if left := l.processes(); len(left) > 0 {
		t.Errorf("start without the lock started %s", describeProcs(left))
	}
	l.expectReason(1, "holds its lock", "monitor", short)
	l.expect(0, "stop", short)
	release()

	l.start()
	release = l.holdLock()
	l.expectReason(1, "holds its lock", "reload", short)
	l.expect(0, "stop", short)
	l.assertNothingLeft()
	release()

	var wg sync.WaitGroup
	codes := make([]result, 3)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = l.run("start")
		}()
	}
	wg.Wait()
	for i, r := range codes {
		if r.code != 0 {
			t.Errorf("concurrent start %d: exit %d: %s", i, r.code, r.stderr)
		}
	}
	// Each Dante started leads a session and group of its own; a child
	// not yet retitled still shows its mother's command line.
	groups := map[int]bool{}
	for _, p := range l.mothers() {
		groups[p.PGID] = true
	}
	if len(groups) != 1 {
		t.Errorf("Dantes after concurrent starts: %s", describeProcs(l.mothers()))
	}
	for _, p := range l.mothers() {
		l.groups[p.PGID] = true
	}
	l.expect(0, "monitor", recurring)
	l.stopClean()
}

// TestStartNeedsItsRecord makes the state file unwritable (a directory
// holds its name): start refuses (1) before Dante starts, since without the
// record a later action could lose it; stop of nothing succeeds.
func TestStartNeedsItsRecord(t *testing.T) {
	l := newLab(t)
	if err := os.Mkdir(l.stateFileOrNone(), 0o755); err != nil {
		t.Fatal(err)
	}
	l.expectReason(1, "cannot record the start", "start")
	if left := l.processes(); len(left) > 0 {
		t.Errorf("started without a record: %s", describeProcs(left))
	}
	l.expect(7, "monitor")
	l.expect(0, "stop")
}

// TestDamagedStateSparesForgedMarker runs, beside the instance, a
// container's Dante whose environment carries the instance's marker (with
// its own configuration, in its own mount namespace), then damages the
// state file: monitor is in doubt because of the instance's own Dante, and
// stop ends that one only.
func TestDamagedStateSparesForgedMarker(t *testing.T) {
	l := newLab(t)
	testenv.RequireCommand(t, "unshare")
	box := testenv.NewNS(t, "skc")
	conf, marked := l.env["OCF_RESKEY_sockd_config"], l.path("marked.conf")
	testenv.DanteConfig{Port: 1082, LogFile: l.path("marked.log")}.Write(t, marked)
	forged := l.container(box, inMountNS("", instanceMarker+"="+conf, marked, l.path("marked.pid"))...)
	if err := os.WriteFile(l.stateFileOrNone(), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	l.expect(7, "monitor")
	l.expect(0, "stop")
	assertAlive(t, "stop with a damaged record and nothing of the instance running", forged)
	flip := l.flipBinary()
	l.start()
	flip()
	if err := os.WriteFile(l.stateFile(), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	l.expectReason(1, "in doubt", "monitor")
	l.stopClean()
	assertAlive(t, "stop with a damaged record", forged)
	l.expect(7, "monitor")
}

// stateFileOrNone returns the lab's state file path, whether or not it
// exists: the one a monitor's lock file is named after.
func (l *lab) stateFileOrNone() string {
	l.t.Helper()
	l.run("monitor")
	locks, _ := filepath.Glob(l.env["HA_RSCTMP"] + "/*.lock")
	if len(locks) != 1 {
		l.t.Fatalf("lock files: %v", locks)
	}
	return strings.TrimSuffix(locks[0], ".lock") + ".state"
}

// TestStartRacesStop runs start and stop of one instance at once, a few
// times: whichever runs first, each succeeds and the instance is left in a
// state monitor tells truly, 0 with one Dante or 7 with none (N11: start
// returned 0 after stop had ended what it started).
func TestStartRacesStop(t *testing.T) {
	l := newLab(t)
	for i := 0; i < 4; i++ {
		var wg sync.WaitGroup
		var start, stop result
		wg.Add(2)
		go func() { defer wg.Done(); start = l.run("start") }()
		go func() { defer wg.Done(); stop = l.run("stop") }()
		wg.Wait()
		if start.code != 0 || stop.code != 0 {
			t.Fatalf("round %d: start %d, stop %d: %s%s", i, start.code, stop.code, start.stderr, stop.stderr)
		}
		for _, p := range l.mothers() {
			l.groups[p.PGID] = true
		}
		switch r := l.run("monitor"); r.code {
		case 0:
		case 7:
			l.assertNothingLeft()
		default:
			t.Fatalf("round %d: monitor %d: %s", i, r.code, r.stderr)
		}
		l.stopClean()
	}
}
