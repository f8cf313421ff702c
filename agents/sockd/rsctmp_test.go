package sockd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// nobody is the uid and gid of the unprivileged user who plants files.
const nobody = 65534

// forgedRecord starts and stops the lab's instance and returns the record
// of that start with its configuration changed to config: the state file
// an unprivileged user would write to make the agent take another
// daemon for the instance.
func (l *lab) forgedRecord(config string) []byte {
	l.t.Helper()
	l.start()
	b, err := os.ReadFile(l.stateFile())
	if err != nil {
		l.t.Fatal(err)
	}
	l.stopClean()
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		l.t.Fatal(err)
	}
	rec["config"] = config
	if b, err = json.Marshal(rec); err != nil {
		l.t.Fatal(err)
	}
	return b
}

// plant writes a file as the user nobody would have created it.
func plant(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, nobody, nobody); err != nil {
		t.Fatal(err)
	}
}

// holdPlantedLock plants the instance's lock file as nobody's and holds a
// flock on it until the test ends, as that user could.
func holdPlantedLock(t *testing.T, stateFile string) {
	t.Helper()
	path := lockFileName(stateFile)
	plant(t, path, nil, 0o600)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
}

// plantedRsctmp sets the lab's HA_RSCTMP: when unsafe, one everyone can
// write, below a sticky 1777 directory. It returns the state file there.
func (l *lab) plantedRsctmp(unsafe bool) string {
	l.t.Helper()
	if unsafe {
		base := filepath.Dir(safeRsctmp(l.t))
		l.rsctmpDirs = append(l.rsctmpDirs, base)
		public := filepath.Join(base, "public")
		if err := os.Mkdir(public, 0o755); err != nil {
			l.t.Fatal(err)
		}
		if err := os.Chmod(public, 0o1777); err != nil {
			l.t.Fatal(err)
		}
		l.env["HA_RSCTMP"] = filepath.Join(public, "rsctmp")
		if err := os.Mkdir(l.env["HA_RSCTMP"], 0o755); err != nil {
			l.t.Fatal(err)
		}
	} else if err := os.MkdirAll(l.env["HA_RSCTMP"], 0o755); err != nil {
		l.t.Fatal(err)
	}
	return filepath.Join(l.env["HA_RSCTMP"], "ocf-sockd-"+l.env["OCF_RESOURCE_INSTANCE"]+".state")
}

// rsctmpCases runs test once with a HA_RSCTMP below a 1777 directory and
// once with a safe one.
func rsctmpCases(t *testing.T, test func(t *testing.T, unsafe bool)) {
	for _, unsafe := range []bool{true, false} {
		name := "safe HA_RSCTMP"
		if unsafe {
			name = "HA_RSCTMP below a 1777 directory"
		}
		t.Run(name, func(t *testing.T) { test(t, unsafe) })
	}
}

// TestForeignStateSparesOtherDaemon plants, as the user nobody, a state
// file saying that the instance's configuration is the -f file of another
// Dante that runs (adv3 F8): once in a HA_RSCTMP everyone can write, once
// in a safe one. The record is not trusted: the probe and the monitor say
// "not running" (7), stop succeeds (0) and the other Dante lives; in the
// unsafe HA_RSCTMP start refuses with 5 and creates nothing. Before, the
// probe said 1 ("Dante runs") and stop killed the other Dante.
func TestForeignStateSparesOtherDaemon(t *testing.T) {
	rsctmpCases(t, func(t *testing.T, unsafe bool) {
		l := newLab(t)
		other := l.path("other.conf")
		testenv.DanteConfig{Port: 1081, LogFile: l.path("other.log")}.Write(t, other)
		forged := l.forgedRecord(other)
		victim := l.container(l.ns, "/usr/sbin/danted", "-f", other, "-p", l.path("other.pid"))
		plant(t, l.plantedRsctmp(unsafe), forged, 0o644)
		l.expect(7, "monitor")
		l.expect(7, "monitor", recurring)
		l.expect(0, "stop")
		assertAlive(t, "stop with a planted record", victim)
		if unsafe {
			l.expectReason(5, "HA_RSCTMP", "start")
			if entries, _ := os.ReadDir(l.env["HA_RSCTMP"]); len(entries) != 1 {
				t.Errorf("start in an unsafe HA_RSCTMP left %d files, want the one planted", len(entries))
			}
			if left := l.processes(); len(left) > 0 {
				t.Errorf("start in an unsafe HA_RSCTMP started %s", describeProcs(left))
			}
			return
		}
		// In a safe HA_RSCTMP start replaces the record and runs.
		l.start()
		l.expect(0, "monitor", recurring)
		l.stopClean()
		assertAlive(t, "the actions", victim)
	})
}

// TestPlantedLockIgnored plants, as the user nobody, the instance's lock
// file and holds a flock on it (adv3 F6). It is never waited on: monitor
// says "not running" (7) at once and stop succeeds (0); start refuses,
// with 5 in a HA_RSCTMP everyone can write, and with 1 (the lock file is
// refused) in a safe one. Before, monitor failed (1) after waiting for
// the lock, and start failed for it.
func TestPlantedLockIgnored(t *testing.T) {
	rsctmpCases(t, func(t *testing.T, unsafe bool) {
		l := newLab(t)
		holdPlantedLock(t, l.plantedRsctmp(unsafe))
		short := "OCF_RESKEY_CRM_meta_timeout=4000"
		l.expect(7, "monitor", short)
		l.expect(7, "monitor", short, recurring)
		l.expect(0, "stop", short)
		if unsafe {
			l.expectReason(5, "writable by others", "start", short)
		} else {
			l.expectReason(1, "lock file refused", "start", short)
		}
		if left := l.processes(); len(left) > 0 {
			t.Errorf("start started %s", describeProcs(left))
		}
	})
}
