package sockd

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Process is what the agent reads of one process in /proc.
type Process struct {
	PID, PPID, PGID int
	// State is the one-letter state of /proc/PID/stat: R, S, D, T, Z ...
	State byte
	// Exe is the resolved executable, empty when it cannot be read (a
	// zombie, or a kernel thread).
	Exe string
	// Cmdline is the argument vector. Dante's children rewrite theirs to a
	// title such as "danted: io-child: 0/32".
	Cmdline []string
}

// Zombie reports whether the process has exited and waits to be reaped.
func (p Process) Zombie() bool { return p.State == 'Z' || p.State == 'X' }

// procRoot is where the process table is read; tests point it elsewhere.
var procRoot = "/proc"

// listProcesses reads the processes of the process table whose executable
// is exe ("" for every process). The executable is read first, with one
// readlink and no file opened, so that a scan costs little on a busy host.
// Processes that exit while they are read are skipped.
func listProcesses(exe string) ([]Process, error) {
	dir, err := os.Open(procRoot)
	if err != nil {
		return nil, fmt.Errorf("reading the process table: %w", err)
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the process table: %w", err)
	}
	var procs []Process
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		if p, err := readProcess(pid, exe); err == nil {
			procs = append(procs, p)
		}
	}
	return procs, nil
}

// errOtherExe skips a process that runs another executable.
var errOtherExe = errors.New("another executable")

// readProcess reads one process; with exe set, only if it runs exe.
func readProcess(pid int, exe string) (Process, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	target, _ := os.Readlink(filepath.Join(dir, "exe"))
	target = strings.TrimSuffix(target, " (deleted)")
	if exe != "" && target != exe {
		return Process{}, errOtherExe
	}
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return Process{}, err
	}
	p, err := parseStat(stat)
	if err != nil {
		return Process{}, fmt.Errorf("%s/stat: %w", dir, err)
	}
	p.Exe = target
	if cmd, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		p.Cmdline = parseCmdline(cmd)
	}
	return p, nil
}

// parseStat reads pid, state, ppid and pgrp from /proc/PID/stat. The
// command name in parentheses may itself contain spaces and parentheses, so
// the fields after it are found from the last ')'.
func parseStat(b []byte) (Process, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return Process{}, fmt.Errorf("malformed stat %q", truncate(b))
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return Process{}, fmt.Errorf("malformed pid in stat %q", truncate(b))
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 3 || len(f[0]) != 1 {
		return Process{}, fmt.Errorf("malformed stat %q", truncate(b))
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgid, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return Process{}, fmt.Errorf("malformed ppid or pgrp in stat %q", truncate(b))
	}
	return Process{PID: pid, PPID: ppid, PGID: pgid, State: f[0][0]}, nil
}

// parseCmdline splits /proc/PID/cmdline on NUL bytes. A process that
// rewrote its title with spaces (setproctitle) gives one element.
func parseCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

func truncate(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// readPidfile returns the PID in a pidfile, or 0 when the file is missing
// or empty (Dante truncates it at exit).
func readPidfile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading pidfile: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return 0, nil
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pidfile %s holds %q, not a PID", path, truncate(b))
	}
	return pid, nil
}
