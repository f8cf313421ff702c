package sockd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// container starts a Dante in the network namespace box with the command
// argv, which puts it in namespaces of its own (as a container would run
// it), and returns its processes once its children run; the lab never
// counts them as its own.
func (l *lab) container(box *testenv.NS, argv ...string) []Process {
	l.t.Helper()
	cmd := box.Start(l.t, argv[0], argv[1:]...)
	group := cmd.Process.Pid
	l.foreign[group] = true
	var procs []Process
	testenv.WaitFor(l.t, 10*time.Second, "the container's Dante children", func() error {
		procs = groupProcesses(l.t, group)
		for _, p := range procs {
			if strings.Contains(strings.Join(p.Cmdline, " "), "io-child") {
				return nil
			}
		}
		return fmt.Errorf("none yet: %s", describeProcs(procs))
	})
	return procs
}

// inMountNS returns the command that runs Dante in a mount namespace of its
// own, with the shell commands setup run first there and env added to
// Dante's environment.
func inMountNS(setup, env, conf, pidfile string) []string {
	script := fmt.Sprintf("%s exec env %s /usr/sbin/danted -f %s -p %s", setup, env, conf, pidfile)
	return []string{"unshare", "-m", "--propagation", "private", "sh", "-c", script}
}

// groupProcesses returns the live processes of a process group.
func groupProcesses(t *testing.T, group int) []Process {
	t.Helper()
	table, err := listProcesses(nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []Process
	for _, p := range table.Procs {
		if p.PGID == group && !p.Zombie() {
			out = append(out, p)
		}
	}
	return out
}

// assertAlive fails the test for each process that no longer runs.
func assertAlive(t *testing.T, what string, procs []Process) {
	t.Helper()
	for _, p := range procs {
		if !alive(p.PID) {
			t.Errorf("%s: process %d (%s) was ended", what, p.PID, strings.Join(p.Cmdline, " "))
		}
	}
}

// TestContainerDanteIsNotOurs runs Dantes in other mount namespaces, as
// containers do, whose command lines name the resource's own paths: one
// with another file bind-mounted over the resource's configuration path,
// one with its own configuration carrying the resource's marker in its
// environment, one running the resource's very files in a PID namespace of
// its own, one running the resource's configuration with its own binary
// file under the same path. None is the resource's: the probe says
// stopped, start starts the resource's own Dante, and stop ends only that.
func TestContainerDanteIsNotOurs(t *testing.T) {
	l := newLab(t)
	testenv.RequireCommand(t, "unshare")
	box := testenv.NewNS(t, "skc")
	conf := l.env["OCF_RESKEY_sockd_config"]
	other, marked := l.path("container.conf"), l.path("marked.conf")
	testenv.DanteConfig{Port: 1081, LogFile: l.path("container.log")}.Write(t, other)
	testenv.DanteConfig{Port: 1082, LogFile: l.path("marked.log")}.Write(t, marked)
	bound := l.container(box, inMountNS(fmt.Sprintf("mount --bind %s %s &&", other, conf), "", conf, l.path("container.pid"))...)
	forged := l.container(box, inMountNS("", instanceMarker+"="+conf, marked, l.path("marked.pid"))...)
	// The very same files, in a PID namespace of its own.
	pidNS := l.container(box, "unshare", "-p", "-f", "/usr/sbin/danted", "-f", conf, "-p", l.path("pidns.pid"))
	// The very configuration file, but another binary file under the
	// binary's path (a container image's own danted).
	bin, err := os.ReadFile("/usr/sbin/danted")
	if err != nil {
		t.Fatal(err)
	}
	image := l.path("image-danted")
	if err := os.WriteFile(image, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	ownBinary := l.container(testenv.NewNS(t, "skc"), inMountNS(fmt.Sprintf("mount --bind %s /usr/sbin/danted &&", image), "", conf, l.path("image.pid"))...)
	containers := slices.Concat(bound, forged, pidNS, ownBinary)

	l.expect(7, "monitor")
	l.expect(7, "monitor", recurring)
	l.expect(0, "stop")
	assertAlive(t, "stop of a stopped resource", containers)
	l.start()
	l.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=10")
	l.stopClean()
	assertAlive(t, "stop of the resource", containers)
	l.expect(7, "monitor")
}

// TestStartRecordsWhatRuns changes, under a running instance, what its
// parameters resolve to: the binary's symlink flipped to another version,
// as update-alternatives does. Monitor and stop still find the Dante that
// start started, and stop ends it.
func TestStartRecordsWhatRuns(t *testing.T) {
	l := newLab(t)
	bin, err := os.ReadFile("/usr/sbin/danted")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1", "v2"} {
		if err := os.Mkdir(l.path(v), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(l.path(v+"/danted"), bin, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := l.path("sockd")
	if err := os.Symlink(l.path("v1/danted"), link); err != nil {
		t.Fatal(err)
	}
	l.env["OCF_RESKEY_sockd"] = link
	l.start()
	l.expect(0, "monitor", recurring)
	if err := os.Symlink(l.path("v2/danted"), link+".new"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(link+".new", link); err != nil {
		t.Fatal(err)
	}
	l.expect(0, "monitor")
	l.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=10")
	l.expect(0, "start")
	l.waitMothers(1)
	l.stopClean()
	l.expect(7, "monitor")
	// Started anew, the instance runs the version the link names now.
	l.start()
	l.expect(0, "monitor", recurring)
	l.stopClean()
}

// TestDefaultConfigAppears leaves sockd_config unset, so start uses
// /etc/danted.conf (/etc/sockd.conf, the default, does not exist); then
// /etc/sockd.conf appears under the running instance. Monitor still finds
// it, and stop ends it. /etc is an overlay in a mount namespace the test
// holds, so the host's is untouched.
func TestDefaultConfigAppears(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "danted")
	testenv.RequireCommand(t, "nsenter")
	if _, err := os.Stat("/etc/sockd.conf"); err == nil {
		t.Skip("/etc/sockd.conf exists on this host")
	}
	ns := testenv.NewNS(t, "sk")
	over := testenv.SharedTempDir(t, "etc")
	for _, d := range []string{"up", "work"} {
		if err := os.Mkdir(over+"/"+d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ready := over + "/ready"
	holder := ns.Start(t, "unshare", "-m", "--propagation", "private", "sh", "-c",
		fmt.Sprintf("mount -t overlay overlay -o lowerdir=/etc,upperdir=%s/up,workdir=%s/work /etc && touch %s && exec sleep 600", over, over, ready))
	testenv.WaitFor(t, 10*time.Second, "the /etc overlay", func() error { _, err := os.Stat(ready); return err })
	l := newLabIn(t, ns)
	pid := strconv.Itoa(holder.Process.Pid)
	enter := func(name string, args ...string) *exec.Cmd {
		return exec.Command("nsenter", append([]string{"-t", pid, "-m", "-n", name}, args...)...)
	}
	conf := l.env["OCF_RESKEY_sockd_config"]
	install := func(path string) {
		t.Helper()
		if out, err := enter("cp", conf, path).CombinedOutput(); err != nil {
			t.Fatalf("cp to %s: %v: %s", path, err, out)
		}
	}
	l.command = enter
	install("/etc/danted.conf")
	delete(l.env, "OCF_RESKEY_sockd_config")
	l.start()
	l.expect(0, "monitor", recurring)
	install("/etc/sockd.conf")
	l.expect(0, "monitor")
	l.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=10")
	l.expect(0, "reload")
	l.stopClean()
	l.expect(7, "monitor")
	if len(l.processes()) > 0 {
		t.Errorf("left: %s", describeProcs(l.processes()))
	}
}

// TestBinaryUpgradedInPlace replaces the binary under a running instance,
// as a package upgrade does (a new file renamed over the old): the running
// Dante still runs the old, deleted file, and is still found, with the
// start's record and without it (an instance started by an older agent).
func TestBinaryUpgradedInPlace(t *testing.T) {
	l := newLab(t)
	bin, err := os.ReadFile("/usr/sbin/danted")
	if err != nil {
		t.Fatal(err)
	}
	path := l.path("danted")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	l.env["OCF_RESKEY_sockd"] = path
	l.start()
	if err := os.WriteFile(path+".new", bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	l.expect(0, "monitor")
	l.expect(0, "monitor", recurring)
	states, _ := filepath.Glob(l.env["HA_RSCTMP"] + "/*.state")
	if len(states) != 1 {
		t.Fatalf("state files: %v", states)
	}
	if err := os.Remove(states[0]); err != nil {
		t.Fatal(err)
	}
	l.expect(0, "monitor")
	l.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=10")
	l.stopClean()
}

// TestPidfileNamesAnotherMother writes the PID of another instance's
// mother (same binary, another configuration) into the pidfile: that may be
// this resource's Dante started with other paths, so a monitor is in doubt
// (1), never "stopped"; a start replaces the pidfile and starts, and stop
// leaves the other instance alone.
func TestPidfileNamesAnotherMother(t *testing.T) {
	a := newLab(t)
	b := newLabIn(t, a.ns)
	b.writeConfig(testenv.DanteConfig{Port: 1081})
	b.start()
	before := b.processes()
	writeFile(t, a.env["OCF_RESKEY_sockd_pidfile"], strconv.Itoa(b.mothers()[0].PID)+"\n")
	a.expectReason(1, "names PID", "monitor")
	a.expectReason(1, "names PID", "monitor", recurring)
	a.start()
	a.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=10")
	a.stopClean()
	assertAlive(t, "stop of the other instance", before)
	b.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=10")
}

// TestOtherUsersDanteIsNotOurs has an unprivileged user run the binary
// with the resource's own configuration file (readable by all): that
// Dante is not the resource's, so it can neither fail the resource's
// monitor nor block its start, and stop leaves it.
func TestOtherUsersDanteIsNotOurs(t *testing.T) {
	setpriv := testenv.RequireCommand(t, "setpriv")
	l := newLab(t)
	box := testenv.NewNS(t, "sku")
	dir := l.path("nobody")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	conf := l.env["OCF_RESKEY_sockd_config"]
	forged := l.container(box, setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/sbin/danted", "-f", conf, "-p", dir+"/danted.pid")
	l.expect(7, "monitor")
	l.expect(0, "stop")
	l.start()
	l.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=10")
	l.stopClean()
	assertAlive(t, "stop of the resource", forged)
}

// TestBinaryParameterChanged changes sockd under a running instance, as a
// cluster configuration update does: Pacemaker reloads (sockd is not
// unique) and, when that fails, stops with the new value. The running
// Dante is still found: monitor succeeds, reload says a restart is needed,
// and stop ends it. The same for sockd_args.
func TestBinaryParameterChanged(t *testing.T) {
	l := newLab(t)
	bin, err := os.ReadFile("/usr/sbin/danted")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.path("danted"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	l.start()
	l.env["OCF_RESKEY_sockd"] = l.path("danted")
	l.expect(0, "monitor", recurring)
	l.expectReason(1, "restarted", "reload")
	l.stopClean()
	// Arguments, too, are Dante's from its start on.
	l.start("OCF_RESKEY_sockd_args=-n")
	l.expect(0, "reload", "OCF_RESKEY_sockd_args=-n")
	l.expectReason(1, "restarted", "reload")
	l.stopClean()
	l.start()
	l.expect(0, "reload")
	l.expect(0, "monitor", recurring)
	l.stopClean()
}
