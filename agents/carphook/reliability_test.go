//go:build linux

package carphook_test

// Reliability under a hostile host, end to end through the built binary: a
// system log that stalls, announcements outliving MASTER, addresses of
// other groups in the same subnet, a configuration broken while MASTER.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/systemlog/systemlogtest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestStalledJournal: with a journal that does not read its socket, the
// front-end hung in its "event recorded" log line before starting the
// worker (keepalived's notify script never returned; the non-critical
// actions never ran). Messages are dropped now, and events are applied.
func TestStalledJournal(t *testing.T) {
	testenv.RequireRoot(t)
	hook, _ := binaries(t)
	dir := testenv.SharedTempDir(t, "stalled")
	s := systemlogtest.NewStalled(t, dir)
	state, roleFile := filepath.Join(dir, "state"), filepath.Join(dir, "role")
	conf := filepath.Join(dir, "c.toml")
	writeFile(t, conf, fmt.Sprintf("state_dir = %q\n[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = %q\n", state, roleFile), 0o644)
	code, out := cmdRun(t, s.Command(t, hook, "-c", conf, "apply", "g", "MASTER"))
	if code != 0 || !strings.Contains(out, "not taking messages") {
		t.Fatalf("MASTER with a stalled journal: exit %d:\n%s", code, out)
	}
	waitSettled(t, state, "g", "MASTER")
	if r := role(roleFile); r != "1" {
		t.Fatalf("role %q after MASTER", r)
	}
	code, out = cmdRun(t, s.Command(t, hook, "-c", conf, "keepalived", "INSTANCE", "g", "BACKUP", "100"))
	if code != 0 || strings.Count(out, "not taking messages") != 1 {
		t.Fatalf("BACKUP with a stalled journal: exit %d, want 0 and one drop notice:\n%s", code, out)
	}
	waitSettled(t, state, "g", "BACKUP")
	if r := role(roleFile); r != "0" {
		t.Fatalf("role %q after BACKUP", r)
	}
}
