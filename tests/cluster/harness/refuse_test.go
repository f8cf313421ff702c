package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// fatalRecorder is a testing.TB whose Fatal ends only the goroutine and
// records the message, so a test can check why Start refused.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *fatalRecorder) Fatal(args ...any) {
	r.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

// TestStartRefusesOnAClusterMachine runs a process named corosync in this
// machine's network namespace (a copy of sleep: nothing of a real cluster
// is touched) and checks that Start's preflight, which runs once Start
// holds the cluster lock, refuses at once, saying that the machine runs a
// cluster and naming the process.
func TestStartRefusesOnAClusterMachine(t *testing.T) {
	testenv.RequireRoot(t)
	for _, c := range Requirements {
		testenv.RequireCommand(t, c)
	}
	sleep := testenv.RequireCommand(t, "sleep")
	// The fake lives only while this test holds the cluster lock, so that
	// no cluster test of another package takes it for a real cluster.
	t.Cleanup(acquireLock(t, 5*time.Minute))
	fake := filepath.Join(t.TempDir(), "corosync")
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fake, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fake, "1000")
	if err := testenv.StartTied(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testenv.Kill(cmd) })

	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		preflight(rec)
	}()
	<-done
	want := fmt.Sprintf("this machine runs a cluster (corosync pid %d in the host's network namespace", cmd.Process.Pid)
	if !strings.Contains(rec.msg, want) || !strings.Contains(rec.msg, "run the tests on a test machine") {
		t.Fatalf("Start did not refuse as expected:\n got: %q\nwant: %q ... run the tests on a test machine", rec.msg, want)
	}
}

func TestIsClusterDaemon(t *testing.T) {
	for comm, want := range map[string]bool{
		"corosync": true, "pacemakerd": true, "pacemaker-based": true, "pacemaker-execd": true,
		"corosync-qdevi": false, "pcsd": false, "sleep": false,
	} {
		if got := isClusterDaemon(comm); got != want {
			t.Errorf("isClusterDaemon(%q) = %v, want %v", comm, got, want)
		}
	}
}

// TestStartFailsAtOnceWithoutCrmMon hides crm_mon from PATH (a machine
// where pacemaker-cli-utils is missing) and checks that Start fails before
// starting anything, naming crm_mon and its package, instead of waiting for
// a status that can never come.
func TestStartFailsAtOnceWithoutCrmMon(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	for _, c := range Requirements {
		if c == "crm_mon" {
			continue
		}
		if err := os.Symlink(testenv.RequireCommand(t, c), filepath.Join(dir, c)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
	t.Setenv(testenv.StrictEnv, "1")
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(rec, Options{})
	}()
	<-done
	if !strings.Contains(rec.msg, "crm_mon") || !strings.Contains(rec.msg, "pacemaker-cli-utils") {
		t.Fatalf("Start without crm_mon: %q, want a failure naming crm_mon and pacemaker-cli-utils", rec.msg)
	}
	t.Log(rec.msg)
}
