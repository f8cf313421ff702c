package vipcheck_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// hangGuard bounds every command of the hostile-file tests: far above any
// operation timeout they pass, so reaching it means the command hung.
const hangGuard = 60 * time.Second

// TestOCFAgentHostileFiles runs ocf:ocfkit:vipcheck's actions, and the
// check commands, on the master balancer of a real LVS-DR segment with the
// files an adversary (or a mistake) puts in its way: a resource id too
// long for a file name, HA_RSCTMP naming a regular file, a role file, a
// real-server file and a CA file that are FIFOs, endless devices or
// oversized. None may hang past the operation timeout, exhaust memory, or
// make a stop fail when nothing of the instance runs.
func TestOCFAgentHostileFiles(t *testing.T) {
	testenv.RequireRoot(t)
	l := testenv.NewLVSDR(t, "vhf")
	rsctmp := t.TempDir()
	fakeBin := t.TempDir()
	if err := os.WriteFile(filepath.Join(fakeBin, "attrd_updater"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := t.TempDir()
	fifo := filepath.Join(files, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"HA_RSCTMP=" + rsctmp, "PATH=" + fakeBin + ":" + os.Getenv("PATH"),
		"OCF_ROOT=/usr/lib/ocf", "HA_LOGFACILITY=none", "OCF_RESOURCE_INSTANCE=vh", "OCF_RESKEY_CRM_meta_timeout=2000",
		"OCF_RESKEY_vip=" + l.VIP, "OCF_RESKEY_port=80", "OCF_RESKEY_interface=eth0",
		"OCF_RESKEY_real_servers=" + l.RSAddr[0]}
	// run runs the binary in the master's namespace with args and the
	// environment base plus extra; want is its exit code.
	run := func(t *testing.T, want int, extra []string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		cmd := l.Master.CommandContext(ctx, binary, args...)
		cmd.Env = append(append(os.Environ(), base...), extra...)
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("%v %v hung (killed after %v)\n%s", args, extra, hangGuard, out)
		}
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Errorf("%v %v: exit %d, want %d\n%s", args, extra, code, want, out)
		}
		return string(out)
	}
	action := func(t *testing.T, want int, act string, extra ...string) string {
		t.Helper()
		return run(t, want, extra, act)
	}
	has := func(t *testing.T, what, out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: no %q in:\n%s", what, w, out)
			}
		}
	}
	recurring := "OCF_RESKEY_CRM_meta_interval=10000"

	t.Run("long resource id", func(t *testing.T) {
		// A valid XML ID of 245 characters: the state file's name
		// would be 264 bytes, over NAME_MAX.
		long := "OCF_RESOURCE_INSTANCE=" + strings.Repeat("v", 245)
		action(t, 7, "monitor", long)
		action(t, 0, "stop", long)
		action(t, 0, "start", long)
		action(t, 0, "monitor", long)
		action(t, 0, "monitor", long, recurring)
		names, _ := filepath.Glob(filepath.Join(rsctmp, "ocf-vipcheck-*.state"))
		if len(names) != 1 || len(filepath.Base(names[0])) > 200 {
			t.Errorf("state files while running: %q, want one bounded name", names)
		}
		action(t, 0, "stop", long)
		action(t, 7, "monitor", long, recurring)
		if names, _ := filepath.Glob(filepath.Join(rsctmp, "ocf-vipcheck-*")); len(names) != 0 {
			t.Errorf("left after stop: %q", names)
		}
	})

	t.Run("HA_RSCTMP a regular file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "rsctmp")
		if err := os.WriteFile(file, []byte("not a directory\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, dir := range []string{file, filepath.Join(file, "below")} {
			env := "HA_RSCTMP=" + dir
			out := action(t, 7, "monitor", env)
			has(t, "probe", out, "not a directory")
			action(t, 7, "monitor", env, recurring)
			out = action(t, 0, "stop", env)
			has(t, "stop", out, "WARNING", "was not started here")
			out = action(t, 5, "start", env)
			has(t, "start", out, "ocf-exit-reason:creating the state directory (HA_RSCTMP)", "not a directory")
			action(t, 0, "stop", env)
		}
		if b, err := os.ReadFile(file); err != nil || string(b) != "not a directory\n" {
			t.Errorf("HA_RSCTMP file after the actions: %q, %v", b, err)
		}
	})

	t.Run("state path planted", func(t *testing.T) {
		// Objects start never writes at the state path, as a local
		// user puts them in a HA_RSCTMP others can write (or a
		// stranger's file): never "running", stop 0 and leaves them.
		state := filepath.Join(rsctmp, "ocf-vipcheck-vh.state")
		victim := filepath.Join(files, "victim")
		if err := os.WriteFile(victim, []byte("victim\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		plants := []struct {
			name  string
			plant func() error
		}{
			{"a directory", func() error {
				if err := os.Mkdir(state, 0o755); err != nil {
					return err
				}
				return os.WriteFile(filepath.Join(state, "x"), nil, 0o644)
			}},
			{"a symbolic link", func() error { return os.Symlink(victim, state) }},
			{"a FIFO", func() error { return syscall.Mkfifo(state, 0o644) }},
			{"a stranger's file", func() error {
				if err := os.WriteFile(state, nil, 0o644); err != nil {
					return err
				}
				return os.Chown(state, 65534, 65534)
			}},
			{"a file others can write", func() error {
				if err := os.WriteFile(state, nil, 0o644); err != nil {
					return err
				}
				return os.Chmod(state, 0o666)
			}},
		}
		for _, p := range plants {
			t.Run(p.name, func(t *testing.T) {
				if err := p.plant(); err != nil {
					t.Fatal(err)
				}
				defer os.RemoveAll(state)
				before, _ := os.Lstat(state)
				out := action(t, 7, "monitor")
				has(t, "probe", out, "WARNING", "was not started here")
				action(t, 7, "monitor", recurring)
				out = action(t, 0, "stop")
				has(t, "stop", out, "WARNING", "was not started here")
				if after, err := os.Lstat(state); err != nil || after.Mode() != before.Mode() {
					t.Errorf("stop changed the planted object: %v, %v", after, err)
				}
				if b, err := os.ReadFile(victim); err != nil || string(b) != "victim\n" {
					t.Errorf("victim after the actions: %q, %v", b, err)
				}
			})
		}
		// Started, then the state file's directory becomes writable by
		// others: the record is no longer trusted.
		action(t, 0, "start")
		action(t, 0, "monitor", recurring)
		if err := os.Chmod(rsctmp, 0o1777); err != nil {
			t.Fatal(err)
		}
		out := action(t, 7, "monitor")
		has(t, "probe, HA_RSCTMP 1777", out, "WARNING", "writable by")
		action(t, 0, "stop")
		if err := os.Chmod(rsctmp, 0o755); err != nil {
			t.Fatal(err)
		}
		action(t, 0, "stop")
		if _, err := os.Lstat(state); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("state file after stop: %v", err)
		}
	})

	t.Run("HA_RSCTMP others can write", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "rsctmp")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o1777); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{dir, filepath.Join(dir, "below")} {
			env := "HA_RSCTMP=" + d
			out := action(t, 5, "start", env)
			has(t, "start", out, "ocf-exit-reason:refusing the state directory (HA_RSCTMP)", "writable by")
			action(t, 7, "monitor", env)
			action(t, 0, "stop", env)
		}
		if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) != 0 {
			t.Errorf("start created %q in an unsafe HA_RSCTMP", names)
		}
	})

	t.Run("role file a FIFO", func(t *testing.T) {
		role := filepath.Join(files, "role")
		if err := os.WriteFile(role, []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out := action(t, 6, "validate-all", "OCF_RESKEY_role_file="+fifo)
		has(t, "validate-all", out, "ocf-exit-reason:role_file "+fifo+" is not a regular file (a FIFO)")
		action(t, 6, "start", "OCF_RESKEY_role_file="+fifo)
		action(t, 7, "monitor", "OCF_RESKEY_role_file="+fifo)
		action(t, 0, "start", "OCF_RESKEY_role_file="+role)
		// The role file becomes a FIFO while the resource runs: the
		// monitor fails at once, it does not wait for a writer.
		if err := os.Remove(role); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(role, 0o600); err != nil {
			t.Fatal(err)
		}
		out = action(t, 1, "monitor", "OCF_RESKEY_role_file="+role, recurring)
		has(t, "monitor", out, "not a regular file")
		action(t, 0, "stop", "OCF_RESKEY_role_file="+role)
		out = run(t, 1, nil, "tcp", "-t", "1000", "-r", fifo, "eth0", l.RSAddr[0], l.VIP, "80")
		has(t, "tcp -r FIFO", out, "not a regular file")
		out = run(t, 3, nil, "tcp", "--exit-style", "nagios", "-t", "1000", "-r", "/dev/zero", "eth0", l.RSAddr[0], l.VIP, "80")
		has(t, "tcp -r /dev/zero", out, "VIPCHECK UNKNOWN", "not a regular file")
	})

	t.Run("real-server and CA files", func(t *testing.T) {
		big := filepath.Join(files, "big")
		if err := os.WriteFile(big, []byte(strings.Repeat(l.RSAddr[0]+"\n", (1<<20)/len(l.RSAddr[0]+"\n")+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		list := filepath.Join(files, "list")
		if err := os.WriteFile(list, []byte("# the real servers\n"+l.RSAddr[0]+" # rs1\n"+l.RSAddr[1]+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		action(t, 0, "validate-all", "OCF_RESKEY_real_servers=@"+list)
		for _, bad := range []struct{ file, why string }{
			{fifo, "not a regular file (a FIFO)"},
			{"/dev/urandom", "not a regular file (a character device)"},
			{big, "file too large"},
		} {
			out := action(t, 6, "validate-all", "OCF_RESKEY_real_servers=@"+bad.file)
			has(t, "real_servers=@"+bad.file, out, "ocf-exit-reason:real_servers: reading real servers: ", bad.why)
			action(t, 6, "start", "OCF_RESKEY_real_servers=@"+bad.file)
			out = run(t, 2, nil, "tcp", "-t", "1000", "eth0", "@"+bad.file, l.VIP, "80")
			has(t, "tcp @"+bad.file, out, bad.why)
		}
		https := []string{"OCF_RESKEY_check=https", "OCF_RESKEY_port=8443"}
		for _, bad := range []struct{ file, why string }{
			{fifo, "not a regular file (a FIFO)"},
			{"/dev/zero", "not a regular file (a character device)"},
			{big, "file too large"},
		} {
			out := action(t, 6, "validate-all", append(https, "OCF_RESKEY_tls_ca="+bad.file)...)
			has(t, "tls_ca="+bad.file, out, "ocf-exit-reason:reading the CA file: ", bad.why)
			out = run(t, 2, nil, "http", "--tls", "--ca", bad.file, "eth0", l.RSAddr[0], l.VIP, "8443", "www.example.test", "/")
			has(t, "http --ca "+bad.file, out, bad.why)
		}
	})
}
