package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// OwnerDir holds one file per network namespace a test made, named after
// it, with the PID and start time of the test process that made it. A later
// run removes the namespaces whose test process is gone (killed by go test
// -timeout, or by a signal, before its cleanups ran), and only those: they
// are provably leftovers of the harness.
const OwnerDir = "/run/ocfkit-test"

// owner is this process, as recorded in OwnerDir.
var owner = func() string {
	start, err := startTime(os.Getpid())
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%d %d\n", os.Getpid(), start)
}()

// startTime returns the start time of a process (clock ticks since boot,
// field 22 of /proc/PID/stat), which tells a reused PID apart.
func startTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// recordOwner notes that this process made namespace name.
func recordOwner(name string) error {
	if err := os.MkdirAll(OwnerDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(OwnerDir, name), []byte(owner), 0o644)
}

// forgetOwner removes the record of namespace name.
func forgetOwner(name string) { _ = os.Remove(filepath.Join(OwnerDir, name)) }

// ownerAlive reports whether the process recorded as "PID START" still runs.
func ownerAlive(record string) bool {
	f := strings.Fields(record)
	if len(f) != 2 {
		return false
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	now, err := startTime(pid)
	return err == nil && now == start
}

// ReapLeftovers removes what earlier test processes that died left behind:
// for every namespace recorded in OwnerDir whose process is gone, it kills
// the processes in the namespace (daemons started there, such as a
// cluster's corosync and pacemakerd) and deletes the namespace. It returns
// the names it removed. Namespaces of running test processes, and any
// namespace not recorded, are never touched.
func ReapLeftovers() ([]string, error) {
	ents, err := os.ReadDir(OwnerDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var reaped []string
	var errs []error
	for _, e := range ents {
		rec, err := os.ReadFile(filepath.Join(OwnerDir, e.Name()))
		if err != nil || ownerAlive(string(rec)) {
			continue
		}
		name := e.Name()
		if _, err := os.Stat(filepath.Join("/run/netns", name)); err == nil {
			killNetNS(name)
			if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("removing leftover namespace %s: %w: %s", name, err, out))
				continue
			}
		}
		forgetOwner(name)
		reaped = append(reaped, name)
	}
	return reaped, errors.Join(errs...)
}

// killNetNS SIGKILLs every process in namespace name.
func killNetNS(name string) {
	out, _ := exec.Command("ip", "netns", "pids", name).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

var reapOnce sync.Once

// reapAtStart runs ReapLeftovers once per test process, before its first
// namespace, and reports what it removed through logf.
func reapAtStart(logf func(string, ...any)) {
	reapOnce.Do(func() {
		reaped, err := ReapLeftovers()
		if len(reaped) > 0 {
			logf("removed %d namespace(s) left by dead test processes: %s", len(reaped), strings.Join(reaped, " "))
		}
		if err != nil {
			logf("%v", err)
		}
	})
}

// spawner is a goroutine locked to its OS thread for the life of the
// process: processes are started from it, because the kernel sends the
// parent-death signal when the thread that forked a child ends, not the
// process, and Go ends the threads of some goroutines (those that lock
// their thread and exit, as NS.Within does).
var spawner = func() chan func() {
	c := make(chan func())
	go func() {
		runtime.LockOSThread()
		for f := range c {
			f()
		}
	}()
	return c
}()

// StartTied starts cmd so that it dies with the test process: it gets
// SIGKILL when the test binary ends in any way (go test -timeout, a signal,
// a crash), when cleanups cannot run. Only the started process itself is
// tied; a daemon's own children are reached through its namespace
// (ReapLeftovers) or its process group.
func StartTied(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	done := make(chan error, 1)
	spawner <- func() { done <- cmd.Start() }
	return <-done
}
