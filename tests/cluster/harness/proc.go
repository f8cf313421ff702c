package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocfkit/ocfkit/internal/procstat"
)

// proc is a process the harness started and reaps.
type proc struct {
	pid  int
	cmd  *exec.Cmd
	done chan struct{}
}

func newProc(cmd *exec.Cmd) *proc {
	p := &proc{pid: cmd.Process.Pid, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) signal(sig syscall.Signal) {
	if !p.exited() {
		_ = p.cmd.Process.Signal(sig)
	}
}

// waitExit waits up to d for the process to end and be reaped.
func (p *proc) waitExit(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// kill SIGKILLs the process and its process group, and reaps it.
func (p *proc) kill() {
	if !p.exited() {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// Process names a process that is not our child by PID and start time, so a
// reused PID is never mistaken for it.
type Process struct {
	PID   int
	Start uint64
}

// ProcStat reads the state letter, parent PID, process group and start time
// (clock ticks since boot) of a process from /proc/PID/stat (procstat).
func ProcStat(pid int) (state byte, ppid, pgrp int, start uint64, err error) {
	st, err := procstat.Read(pid)
	if err == nil && !st.HasStart {
		err = fmt.Errorf("/proc/%d/stat: no start time", pid)
	}
	if err != nil {
		return 0, 0, 0, 0, err
	}
	return st.State, st.PPID, st.PGRP, st.Start, nil
}

// Identify returns the Process of a live process.
func Identify(pid int) (Process, bool) {
	state, _, _, start, err := ProcStat(pid)
	if err != nil || state == 'Z' {
		return Process{}, false
	}
	return Process{PID: pid, Start: start}, true
}

// alive reports whether the process still exists and is not a zombie
// (orphans are reaped late on some machines).
func (p Process) Alive() bool {
	state, _, _, start, err := ProcStat(p.PID)
	return err == nil && start == p.Start && state != 'Z'
}

func (p Process) Kill() {
	if p.Alive() {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
}

func (p Process) Cmdline() string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// Signal sends sig to the process if it is still the same process.
func (p Process) Signal(sig syscall.Signal) error {
	if !p.Alive() {
		return fmt.Errorf("process %d is gone", p.PID)
	}
	return syscall.Kill(p.PID, sig)
}

// Children lists the live children of the process.
func (p Process) Children() []Process { return childrenOf(p.PID) }

// waitGone waits up to d for the process to end.
func waitGone(p Process, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for p.Alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// allPIDs lists the numeric entries of /proc.
func allPIDs() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// childrenOf lists the live children of pid.
func childrenOf(pid int) []Process {
	var out []Process
	for _, p := range allPIDs() {
		state, ppid, _, start, err := ProcStat(p)
		if err == nil && ppid == pid && state != 'Z' {
			out = append(out, Process{PID: p, Start: start})
		}
	}
	return out
}

// processesInNetNS lists live processes whose network namespace is the named
// one (/run/netns/NAME).
func processesInNetNS(name string) []Process {
	var want syscall.Stat_t
	if err := syscall.Stat(filepath.Join("/run/netns", name), &want); err != nil {
		return nil
	}
	self := os.Getpid()
	var out []Process
	for _, pid := range allPIDs() {
		if pid == self {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) != nil {
			continue
		}
		if st.Ino == want.Ino && st.Dev == want.Dev {
			if id, ok := Identify(pid); ok {
				out = append(out, id)
			}
		}
	}
	return out
}

// foreignClusterDaemons lists live corosync and Pacemaker daemons (the
// harness's own are stopped before the lock is released, and those of dead
// test processes were reaped): each is a cluster the tests must not touch.
func foreignClusterDaemons() []string {
	var out []string
	for _, pid := range allPIDs() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue
		}
		comm := strings.TrimSpace(string(b))
		if !isClusterDaemon(comm) {
			continue
		}
		if _, ok := Identify(pid); ok {
			out = append(out, fmt.Sprintf("%s pid %d in %s", comm, pid, netnsOf(pid)))
		}
	}
	return out
}

// isClusterDaemon reports whether a process name (/proc/PID/comm, at most
// 15 bytes) is corosync's or one of Pacemaker's daemons.
func isClusterDaemon(comm string) bool {
	return comm == "corosync" || comm == "pacemakerd" || strings.HasPrefix(comm, "pacemaker-")
}

// netnsOf names the network namespace of a process: "the host's network
// namespace" (the one this test process runs in), "namespace NAME" for one
// under /run/netns, or its inode.
func netnsOf(pid int) string {
	var st, host syscall.Stat_t
	if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) != nil {
		return "an unknown network namespace"
	}
	if syscall.Stat("/proc/self/ns/net", &host) == nil && host.Ino == st.Ino && host.Dev == st.Dev {
		return "the host's network namespace"
	}
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		var ns syscall.Stat_t
		if syscall.Stat(filepath.Join("/run/netns", e.Name()), &ns) == nil && ns.Ino == st.Ino && ns.Dev == st.Dev {
			return "namespace " + e.Name()
		}
	}
	return fmt.Sprintf("network namespace %d", st.Ino)
}
