package sockd

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/ocfkit/ocfkit/internal/filesafe"
	"github.com/ocfkit/ocfkit/internal/procstat"
)

// Process is what the agent reads of one process in /proc.
type Process struct {
	PID, PPID, PGID int
	// State is the one-letter state of /proc/PID/stat: R, S, D, T, Z ...
	State byte
	// Exe is the resolved executable, empty when it cannot be read (a
	// zombie, or a kernel thread). The path is as the agent's mount
	// namespace shows it, which names another file in a container: ExeID
	// says which file runs.
	Exe string
	// ExeID is the device and inode of the file the process runs, zero
	// when unreadable.
	ExeID fileID
	// Deleted says the executable was removed or replaced since the
	// process started (a package upgrade).
	Deleted bool
	// UID is the real user ID, -1 when unreadable. Dante changes only its
	// effective user, so every process of an instance keeps the real user
	// of the agent that started it.
	UID int
	// PidNS and MntNS name the process's PID and mount namespaces
	// ("pid:[4026531836]"), empty when unreadable; MntNS also when not
	// read (readIdentity).
	PidNS, MntNS string
	// ConfigID is the identity of the -f configuration file as the
	// process itself sees it (through /proc/PID/root, in its own mount
	// namespace), zero without an absolute -f or when it does not exist.
	ConfigID fileID
	// Cmdline is the argument vector. Dante's children rewrite theirs to a
	// title such as "danted: io-child: 0/32".
	Cmdline []string
	// Marker is the value of the instanceMarker variable in the process's
	// environment, set by the agent when it starts Dante and inherited by
	// every child: what proves a child whose mother is gone. Empty when
	// absent, unreadable or not read (readIdentity).
	Marker string
}

// Zombie reports whether the process has exited and waits to be reaped.
func (p Process) Zombie() bool { return p.State == 'Z' || p.State == 'X' }

// procRoot is where the process table is read; tests point it elsewhere.
var procRoot = "/proc"

// table is one scan of the process table.
type table struct {
	// Procs are the processes read.
	Procs []Process
	// Hidden are the PIDs whose executable could not be read for lack of
	// permission: any of them could be the instance's.
	Hidden []int
}

// listProcesses reads the processes of the process table that may run the
// instance's binary (every process for nil). The executable is read first, with one
// readlink and no file opened, so that a scan costs little on a busy host.
// Processes that exit while they are read are skipped; those whose
// executable may not be read are listed apart.
func listProcesses(in *instance) (table, error) {
	var t table
	names, err := readDirNames(procRoot)
	if err != nil {
		return t, fmt.Errorf("reading the process table: %w", err)
	}
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		p, err := readProcess(pid, in)
		switch {
		case err == nil:
			t.Procs = append(t.Procs, p)
		case errors.Is(err, errHidden):
			t.Hidden = append(t.Hidden, pid)
		}
	}
	return t, nil
}

// errOtherExe skips a process that runs another executable.
var errOtherExe = errors.New("another executable")

// errHidden is a process whose executable may not be read (another user's
// process, for an agent not run as root): it is in doubt, not foreign.
var errHidden = errors.New("executable not readable")

// readExe returns the resolved executable of a process, "" for a kernel
// thread or a zombie, and whether the file was deleted since it started.
// A permission error wraps errHidden.
func readExe(dir string) (string, bool, error) {
	target, err := os.Readlink(filepath.Join(dir, "exe"))
	if errors.Is(err, fs.ErrPermission) {
		return "", false, fmt.Errorf("%s/exe: %w (%w)", dir, errHidden, err)
	}
	path, deleted := strings.CutSuffix(target, " (deleted)")
	return path, deleted, nil
}

// commIs reports whether the command name of a process (readable by every
// user, unlike its executable) is that of the executable exe; the kernel
// keeps 15 bytes of it.
func commIs(dir, exe string) bool {
	b, err := readProcFile(filepath.Join(dir, "comm"))
	if err != nil {
		return false
	}
	name := filepath.Base(exe)
	if len(name) > 15 {
		name = name[:15]
	}
	return strings.TrimSuffix(string(b), "\n") == name
}

// readProcess reads one process; with in set, only if it may run the
// instance's binary.
func readProcess(pid int, in *instance) (Process, error) {
	p, err := readIdentity(pid, in)
	if err != nil {
		return p, err
	}
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	p.MntNS, _ = os.Readlink(filepath.Join(dir, "ns", "mnt"))
	if env, err := readProcFile(filepath.Join(dir, "environ")); err == nil {
		p.Marker = envValue(env, instanceMarker)
	}
	return p, nil
}

// readIdentity reads what proves a process a mother of the instance
// (instance.isMother), without the mount namespace and marker that only a
// scan of the process table needs: the depth-0 monitor of a pidfile naming
// the mother reads two files less. With in set, only a process that may
// run the instance's binary is read.
func readIdentity(pid int, in *instance) (Process, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	target, deleted, err := readExe(dir)
	if err != nil {
		// Only a process named like the binary is in doubt; the others
		// (PID 1 of a container, other users' programs) cannot be Dante.
		if in != nil && !commIs(dir, in.exe) {
			return Process{}, errOtherExe
		}
		return Process{}, err
	}
	var id fileID
	if target != "" {
		// The file itself, whatever path names it in the process's
		// mount namespace.
		id, _ = statID(filepath.Join(dir, "exe"))
	}
	// No executable is a kernel thread, a zombie or a process in the
	// middle of exiting, which may still hold its sockets: it is read, and
	// judged by its place among the others.
	if in != nil && target != "" && !in.mayRun(id, target, deleted) {
		return Process{}, errOtherExe
	}
	stat, err := readProcFile(filepath.Join(dir, "stat"))
	if err != nil {
		return Process{}, err
	}
	p, err := parseStat(stat)
	if err != nil {
		return Process{}, fmt.Errorf("%s/stat: %w", dir, err)
	}
	p.Exe, p.ExeID, p.Deleted = target, id, deleted
	if cmd, err := readProcFile(filepath.Join(dir, "cmdline")); err == nil {
		p.Cmdline = parseCmdline(cmd)
	}
	p.UID = -1
	if status, err := readProcFile(filepath.Join(dir, "status")); err == nil {
		if uid, ok := parseStatusUID(status); ok {
			p.UID = uid
		}
	}
	p.PidNS, _ = os.Readlink(filepath.Join(dir, "ns", "pid"))
	if conf := configArg(p.Cmdline); filepath.IsAbs(conf) {
		// Through the process's root, a path is looked up in its own
		// mount namespace: a container's bind mount shows there.
		p.ConfigID, _ = statID(filepath.Join(dir, "root", conf))
	}
	return p, nil
}

// parseStat reads pid, state, ppid and pgrp from /proc/PID/stat through
// the one parser of the project (internal/procstat).
func parseStat(b []byte) (Process, error) {
	st, err := procstat.Parse(b)
	if err != nil {
		return Process{}, err
	}
	return Process{PID: st.PID, PPID: st.PPID, PGID: st.PGRP, State: st.State}, nil
}

// parseStatusUID returns the real user ID of the "Uid:" line of
// /proc/PID/status ("Uid:\treal\teffective\tsaved\tfs").
func parseStatusUID(b []byte) (int, bool) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("Uid:")); ok {
			f := strings.Fields(string(rest))
			if len(f) == 0 {
				return 0, false
			}
			uid, err := strconv.ParseUint(f[0], 10, 32)
			return int(uid), err == nil
		}
	}
	return 0, false
}

// envValue returns the value of the variable name in a NUL-separated
// environment block, "" when absent.
func envValue(env []byte, name string) string {
	for _, kv := range bytes.Split(env, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(name+"=")); ok {
			return string(v)
		}
	}
	return ""
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

// maxPidfile bounds what the agent reads of a pidfile: a PID and a newline
// are a few bytes.
const maxPidfile = 64

// readPidfile returns the PID in a pidfile, or 0 when the file is missing
// or empty (Dante truncates it at exit). Anything but a regular file
// holding one PID is an error, and a named pipe never blocks the agent. A
// symlink is not followed, and the content of a file that holds no PID is
// never quoted: the pidfile could name a secret (/etc/shadow).
func readPidfile(path string) (int, error) {
	b, more, err := filesafe.ReadRegular(path, syscall.O_NOFOLLOW, maxPidfile)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading pidfile: %w", err)
	}
	pid, ok := parsePidfile(b, more)
	if !ok {
		return 0, fmt.Errorf("pidfile %s does not hold a PID", path)
	}
	return pid, nil
}

// parsePidfile reads the content of a pidfile: one PID from 1 to maxPID
// with white space around it, or nothing (0). more says the file went on
// past what was read.
func parsePidfile(b []byte, more bool) (int, bool) {
	s := strings.TrimSpace(string(b))
	if s == "" && !more {
		return 0, true
	}
	if more || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 || pid > maxPID {
		return 0, false
	}
	return pid, true
}

// maxPID is the largest PID Linux hands out (PID_MAX_LIMIT).
const maxPID = 1 << 22

// fileID is the identity of a file: its device and inode.
type fileID struct{ Dev, Ino uint64 }

// statID returns the identity of the file path names, following links.
func statID(path string) (fileID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileID{}, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	return fileID{Dev: uint64(st.Dev), Ino: st.Ino}, nil
}

// ownNamespace returns the agent's own namespace of a kind ("pid",
// "mnt"), "" when unreadable.
func ownNamespace(kind string) string {
	ns, _ := os.Readlink(filepath.Join(procRoot, "self", "ns", kind))
	return ns
}

// readProcFile reads a file of /proc whole. Unlike os.ReadFile it makes no
// attempt to register the descriptor with the runtime's poller (three
// system calls more per file, refused for these files anyway) and reads
// into one buffer that grows only for a large file (an environment): a
// monitor reads five such files of the mother process.
func readProcFile(path string) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	b := make([]byte, 0, 1024)
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, cap(b))
		}
		n, err := syscall.Read(fd, b[len(b):cap(b)])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return b, nil
		}
		b = b[:len(b)+n]
	}
}

// readDirNames returns the names in a directory, unsorted.
func readDirNames(path string) ([]string, error) {
	d, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}
