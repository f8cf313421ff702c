package dnsfailover

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestHookStorm: a burst of events (a thousand members failing in one
// check) runs at most hookParallel notify processes at once, queues up to
// hookQueue and drops the rest, saying how many. Before, every event ran
// its process at once: 1,000 members failing made 2,000 processes.
func TestHookStorm(t *testing.T) {
	defer func(p, q int) { hookParallel, hookQueue = p, q }(hookParallel, hookQueue)
	hookParallel, hookQueue = 2, 6
	dir := t.TempDir()
	// The hook leaves a file while it runs, and waits for the test.
	hook := filepath.Join(dir, "hook")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\nf="+dir+"/run.$$\n: > $f\nwhile [ ! -e "+dir+"/go ] && [ -d "+dir+" ]; do sleep 0.01; done\nrm $f\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	release := func() {
		if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.WriteFile(filepath.Join(dir, "go"), nil, 0o600) }) // a failed test leaves no hook waiting
	running := func() int {
		l, _ := filepath.Glob(filepath.Join(dir, "run.*"))
		return len(l)
	}
	log := &testenv.SyncBuffer{}
	l := &logger{stderr: log, notify: []string{hook}}
	r := &Record{Name: "www.z.test"}
	for i := 0; i < 20; i++ {
		l.refusal(r, netip.MustParseAddr(fmt.Sprintf("10.0.0.%d", i+1)), "keeping it")
	}
	testenv.WaitFor(t, 10*time.Second, "the first hooks running", func() error {
		if n := running(); n != hookParallel {
			return fmt.Errorf("%d running", n)
		}
		return nil
	})
	if n := running(); n > hookParallel {
		t.Fatalf("%d hooks at once, want at most %d", n, hookParallel)
	}
	release()
	l.wait()
	text := log.String()
	if !strings.Contains(text, "notify: 6 events waiting for the hook already; dropping the next ones") ||
		!strings.Contains(text, "notify: 14 events dropped") {
		t.Fatalf("the dropped events are not said:\n%s", text)
	}
}

// TestHookDrainAtStop: at the end (wait), events still queued after
// hookDrain are dropped and counted, so a stop after a burst is not held
// up by every hook in turn (a thousand slow hooks would outlast systemd's
// stop timeout).
func TestHookDrainAtStop(t *testing.T) {
	defer func(p, q int, d time.Duration) { hookParallel, hookQueue, hookDrain = p, q, d }(hookParallel, hookQueue, hookDrain)
	hookParallel, hookQueue, hookDrain = 1, 100, 100*time.Millisecond
	dir := t.TempDir()
	hook := filepath.Join(dir, "hook")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\nwhile [ ! -e "+dir+"/go ] && [ -d "+dir+" ]; do sleep 0.01; done\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(filepath.Join(dir, "go"), nil, 0o600) })
	log := &testenv.SyncBuffer{}
	l := &logger{stderr: log, notify: []string{hook}}
	for i := 0; i < 5; i++ {
		l.refusal(&Record{Name: "www.z.test"}, netip.MustParseAddr(fmt.Sprintf("10.0.0.%d", i+1)), "keeping it")
	}
	done := make(chan struct{})
	go func() { l.wait(); close(done) }()
	testenv.WaitFor(t, 10*time.Second, "the drain", func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.dropped != 4 {
			return fmt.Errorf("%d dropped", l.dropped)
		}
		return nil
	})
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	<-done
	if !strings.Contains(log.String(), "notify: 4 events dropped") {
		t.Fatalf("the events dropped at the drain are not said:\n%s", log)
	}
}
