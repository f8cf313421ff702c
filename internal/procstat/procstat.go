// Package procstat parses Linux's /proc/PID/stat, the one parser the
// programs and the test harness share.
//
// The second field is the command name in parentheses; it is whatever the
// process set (prctl, a rewritten argv[0]) and may hold spaces, parentheses
// and ')' itself, so the fields after it are found after the LAST ')' in
// the line. Splitting the whole line on white space, or stopping at the
// first ')', misreads every field of such a process.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// States are the process state letters the kernel shows in /proc/PID/stat,
// over its versions (fs/proc/array.c).
const States = "RSDZTtWXxKPI"

// ErrMalformed marks content that is not a /proc/PID/stat line.
var ErrMalformed = errors.New("malformed /proc/PID/stat")

// Stat is what the programs read of one process.
type Stat struct {
	PID int
	// Comm is the command name, without its parentheses.
	Comm string
	// State is one of States: R running, S sleeping, Z zombie...
	State byte
	// PPID is the parent's PID, PGRP the process group (0 for kernel
	// threads and for the parentless).
	PPID, PGRP int
	// Start is the start time in clock ticks since boot (field 22), valid
	// when HasStart: with the PID, it names a process across PID reuse.
	Start    uint64
	HasStart bool
}

// Zombie reports whether the process has exited and waits to be reaped
// (or is being torn down).
func (s Stat) Zombie() bool { return s.State == 'Z' || s.State == 'X' || s.State == 'x' }

// Parse reads one /proc/PID/stat line. It needs the fields up to the
// process group (5); the start time is read when the line has it.
func Parse(b []byte) (Stat, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return Stat{}, malformed(b, "no (command name)")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil || pid <= 0 || b[open-1] != ' ' {
		return Stat{}, malformed(b, "bad PID")
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 3 {
		return Stat{}, malformed(b, "too few fields")
	}
	if len(f[0]) != 1 || !strings.Contains(States, f[0]) {
		return Stat{}, malformed(b, "bad state")
	}
	st := Stat{PID: pid, Comm: string(b[open+1 : end]), State: f[0][0]}
	st.PPID, err = strconv.Atoi(f[1])
	if err != nil || st.PPID < 0 {
		return Stat{}, malformed(b, "bad parent PID")
	}
	st.PGRP, err = strconv.Atoi(f[2])
	if err != nil || st.PGRP < 0 {
		return Stat{}, malformed(b, "bad process group")
	}
	// f[0] is field 3 (state): field 22 (starttime) is f[19].
	if len(f) >= 20 {
		if st.Start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
			return Stat{}, malformed(b, "bad start time")
		}
		st.HasStart = true
	}
	return st, nil
}

// Read parses /proc/PID/stat of process pid. An error wrapping
// fs.ErrNotExist means no such process (or no procfs, as on the BSDs).
func Read(pid int) (Stat, error) {
	p := "/proc/" + strconv.Itoa(pid) + "/stat"
	b, err := os.ReadFile(p)
	if err != nil {
		return Stat{}, err
	}
	st, err := Parse(b)
	if err != nil {
		return Stat{}, fmt.Errorf("%s: %w", p, err)
	}
	return st, nil
}

// malformed describes bad content, quoting at most its start.
func malformed(b []byte, why string) error {
	const max = 64
	q := b
	if len(q) > max {
		q = q[:max]
	}
	return fmt.Errorf("%w: %s in %q", ErrMalformed, why, q)
}
