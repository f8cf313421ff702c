package action

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/agents/carphook/config"
)

func TestRoleFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "role")
	r := &RoleFile{Path: p}
	ctx := context.Background()
	for _, step := range []struct {
		up   bool
		want string
	}{{true, "1"}, {true, "1"}, {false, "0"}, {false, "0"}, {true, "1"}} {
		var err error
		if step.up {
			err = r.Up(ctx)
		} else {
			err = r.Down(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != step.want {
			t.Fatalf("role file = %q, %v; want %q", b, err, step.want)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := (&RoleFile{Path: "/nonexistent/dir/role"}).Up(ctx); err == nil {
		t.Error("no error for a missing directory")
	}
}

func TestExec(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	e := &Exec{UpArgv: []string{"/bin/sh", "-c", `echo "$CARP_GROUP $CARP_STATE $0" > ` + out, "up"},
		DownArgv: []string{"/bin/sh", "-c", "echo failing >&2; exit 3"}, Timeout: 5 * time.Second, Group: "g", State: "MASTER"}
	if err := e.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "g MASTER up\n" {
		t.Errorf("up wrote %q", b)
	}
	err := e.Down(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exited with 3: failing") {
		t.Errorf("down error = %v", err)
	}
	slow := &Exec{UpArgv: []string{"/bin/sleep", "10"}, Timeout: 50 * time.Millisecond}
	if err := slow.Up(context.Background()); err == nil || !strings.Contains(err.Error(), "killed after") {
		t.Errorf("slow command: %v", err)
	}
	// A command that leaves a child holding its output must not hang the
	// action: waiting for the child would outlast Timeout and fail Up.
	daemon := &Exec{UpArgv: []string{"/bin/sh", "-c", "sleep 5 & echo started"}, Timeout: 2 * time.Second}
	if err := daemon.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestOCF(t *testing.T) {
	dir := t.TempDir()
	agent, _ := filepath.Abs("testdata/fake-agent")
	log := filepath.Join(dir, "log")
	cfg := &config.Action{Type: config.TypeOCF, Agent: agent, Timeout: 7 * time.Second,
		Params: map[string]string{"log": log, "state": "/s"}}
	a, err := New(cfg, Env{Group: "dante", OCFRoot: "/usr/lib/ocf"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Down(ctx); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(log)
	want := "start root=/usr/lib/ocf inst=dante timeout=7000 state=/s\nstop root=/usr/lib/ocf inst=dante timeout=7000 state=/s\n"
	if string(b) != want {
		t.Errorf("agent saw:\n%s\nwant:\n%s", b, want)
	}
	// stop returning 7 (not running) is success; start returning 7 is not.
	cfg.Params["stop_rc"], cfg.Params["start_rc"] = "7", "7"
	a, _ = New(cfg, Env{Group: "dante"})
	if err := a.Down(ctx); err != nil {
		t.Errorf("stop rc 7: %v", err)
	}
	if err := a.Up(ctx); err == nil {
		t.Error("start rc 7 accepted")
	}
	cfg.Params["start_rc"] = "1"
	a, _ = New(cfg, Env{Group: "dante"})
	if err := a.Up(ctx); err == nil || !strings.Contains(err.Error(), "fake start failed") {
		t.Errorf("start rc 1: %v, want the exit reason", err)
	}
}
