//go:build linux

package carphook_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// sdInner is run by unshare as PID 1 of the new namespaces and execs
// systemd, after confining it: its own cgroup subtree, private mounts,
// tmpfs on /tmp, /var/tmp and /run, read-only /proc/sys and /sys, and a unit
// path holding only what the test writes. A plain boot of systemd damages
// the host (tmpfiles, sysusers, wtmp...).
const sdInner = `set -e
for f in $LAB_CGPROCS; do echo 0 > "$f"; done
mount --make-rprivate /
mount --bind "$(tty)" /dev/console
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
mount -t tmpfs -o mode=755 tmpfs /run
mount --bind /proc/sys /proc/sys
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,ro /proc/sys
mount -o remount,bind,ro /sys
mkdir -p /run/systemd/system /run/systemd/system.conf.d
for t in minimal sysinit basic shutdown; do
    printf "[Unit]\nDescription=lab %s\nDefaultDependencies=no\n" $t > /run/systemd/system/$t.target
done
printf "[Manager]\nDefaultCPUAccounting=no\nDefaultIOAccounting=no\nDefaultIPAccounting=no\nDefaultBlockIOAccounting=no\nDefaultMemoryAccounting=no\nDefaultTasksAccounting=no\nDefaultStandardOutput=tty\nDefaultStandardError=tty\n" > /run/systemd/system.conf.d/lab.conf
export SYSTEMD_UNIT_PATH=/run/systemd/system container=lab
exec /lib/systemd/systemd --system --unit=minimal.target --log-target=console --log-level=info`

// privateSystemd is a systemd running as PID 1 of private namespaces.
type privateSystemd struct {
	pid int // host PID of systemd
}

// command returns a command that runs inside all of systemd's namespaces (-u too: without
// it, hostname changes would reach the host).
func (s *privateSystemd) command(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"-t", strconv.Itoa(s.pid), "-m", "-p", "-n", "-u", "-i", name}, args...)...)
}

func (s *privateSystemd) mustRun(t *testing.T, stdin []byte, name string, args ...string) string {
	t.Helper()
	cmd := s.command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("inside systemd: %s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// cgroupDirs returns where the private systemd's cgroup subtree goes: one
// directory under a pure cgroup v2 hierarchy, or one under each of the
// systemd and unified hierarchies of a hybrid layout.
func cgroupDirs(name string) []string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup/" + name}
	}
	var dirs []string
	for _, h := range []string{"systemd", "unified"} {
		if fi, err := os.Stat("/sys/fs/cgroup/" + h); err == nil && fi.IsDir() {
			dirs = append(dirs, "/sys/fs/cgroup/"+h+"/"+name)
		}
	}
	return dirs
}

// descendantNamed returns the first descendant of root whose comm is name.
func descendantNamed(root int, name string) int {
	parent := map[int]int{}
	comm := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 2 {
			continue
		}
		comm[pid] = s[open+1 : close]
		parent[pid], _ = strconv.Atoi(f[1])
	}
	for pid, c := range comm {
		if c != name {
			continue
		}
		for p := parent[pid]; p > 1; p = parent[p] {
			if p == root {
				return pid
			}
		}
	}
	return 0
}

// bootPrivateSystemd boots systemd as PID 1 of new PID, mount, UTS and IPC
// namespaces inside a new network namespace, confined by sdInner, and kills
// it (and with it the PID namespace) when the test ends.
func bootPrivateSystemd(t *testing.T) *privateSystemd {
	t.Helper()
	testenv.RequireRoot(t)
	for _, c := range []string{"nsenter", "script", "unshare"} {
		testenv.RequireCommand(t, c)
	}
	testenv.RequireCommand(t, "/lib/systemd/systemd")
	ns := testenv.NewNS(t, "chsd")
	cgname := "carphook-sd-" + testenv.RandomSuffix()
	var procs []string
	dirs := cgroupDirs(cgname)
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, d+"/cgroup.procs")
	}
	console := filepath.Join(t.TempDir(), "console.log")
	cmd := exec.Command("nsenter", "--net=/run/netns/"+ns.Name, "script", "-qfec",
		`unshare --pid --fork --mount --mount-proc --uts --ipc --propagation private bash -c "$LAB_INNER"`, console)
	cmd.Env = append(os.Environ(), "LAB_INNER="+sdInner, "LAB_CGPROCS="+strings.Join(procs, " "))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &privateSystemd{}
	t.Cleanup(func() {
		if s.pid > 0 {
			_ = syscall.Kill(s.pid, syscall.SIGKILL) // PID 1: the whole namespace goes
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-done
		}
		for _, d := range dirs { // empty cgroups left by systemd, depth first
			_ = testenv.Poll(2*time.Second, func() error {
				_ = exec.Command("find", d, "-depth", "-type", "d", "-exec", "rmdir", "{}", ";").Run()
				if _, err := os.Stat(d); err == nil {
					return fmt.Errorf("cgroup %s remains", d)
				}
				return nil
			})
			if _, err := os.Stat(d); err == nil {
				t.Errorf("could not remove cgroup %s", d)
			}
		}
		if t.Failed() {
			b, _ := os.ReadFile(console)
			t.Logf("systemd console:\n%s", b)
		}
	})
	testenv.WaitFor(t, 5*time.Second, "systemd to start", func() error {
		if s.pid = descendantNamed(cmd.Process.Pid, "systemd"); s.pid == 0 {
			return errNotYet
		}
		return nil
	})
	testenv.WaitFor(t, 10*time.Second, "systemd to be running", func() error {
		out, _ := s.command("systemctl", "is-system-running").Output()
		if strings.TrimSpace(string(out)) != "running" {
			return fmt.Errorf("is-system-running: %s", out)
		}
		return nil
	})
	return s
}

func TestSystemdAction(t *testing.T) {
	t.Parallel()
	sd := bootPrivateSystemd(t)
	hook, _ := binaries(t)
	bin, err := os.ReadFile(hook)
	if err != nil {
		t.Fatal(err)
	}
	// Host files under /tmp are invisible inside: copy what is needed into
	// the namespace's own /run.
	sd.mustRun(t, bin, "sh", "-c", "cat > /run/carp-hook && chmod 755 /run/carp-hook")
	sd.mustRun(t, []byte("[Unit]\nDescription=carp-hook test\n[Service]\nExecStart=/bin/sleep 300\n"),
		"sh", "-c", "cat > /run/systemd/system/chtest.service")
	sd.mustRun(t, []byte("[Unit]\nDescription=carp-hook failing test\n[Service]\nType=oneshot\nExecStart=/bin/false\n"),
		"sh", "-c", "cat > /run/systemd/system/chfail.service")
	sd.mustRun(t, []byte(`state_dir = "/run/carp-hook.state"
[group.svc]
[[group.svc.action]]
type = "role-file"
path = "/run/role"
[[group.svc.action]]
type = "systemd"
unit = "chtest.service"
timeout = "10s"

[group.bad]
[[group.bad.action]]
type = "systemd"
unit = "chfail.service"
timeout = "10s"
`), "sh", "-c", "cat > /run/carp-hook.toml")
	sd.mustRun(t, nil, "systemctl", "daemon-reload")

	apply := func(group, state string) (string, error) {
		sd.mustRun(t, nil, "/run/carp-hook", "-c", "/run/carp-hook.toml", "apply", group, state)
		out, err := sd.command("/run/carp-hook", "-c", "/run/carp-hook.toml", "status", "--wait", "15s", group).CombinedOutput()
		return string(out), err
	}
	isActive := func(unit string) string {
		out, _ := sd.command("systemctl", "is-active", unit).Output()
		return strings.TrimSpace(string(out))
	}
	out, err := apply("svc", "MASTER")
	if err != nil || !strings.Contains(out, "up   systemd start chtest.service: ok") {
		t.Fatalf("MASTER: %v\n%s", err, out)
	}
	if s := isActive("chtest.service"); s != "active" {
		t.Errorf("after MASTER chtest.service is %s", s)
	}
	if r := sd.mustRun(t, nil, "cat", "/run/role"); r != "1" {
		t.Errorf("role = %q", r)
	}
	out, err = apply("svc", "BACKUP")
	if err != nil || !strings.Contains(out, "down systemd start chtest.service: ok") {
		t.Fatalf("BACKUP: %v\n%s", err, out)
	}
	if s := isActive("chtest.service"); s != "inactive" {
		t.Errorf("after BACKUP chtest.service is %s", s)
	}
	// A unit that fails: the outcome says so and status exits 1.
	out, err = apply("bad", "MASTER")
	var ee *exec.ExitError
	if !strings.Contains(out, "failed") || !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("failing unit: %v\n%s", err, out)
	}
	t.Logf("failing unit reported as:\n%s", out)
}
