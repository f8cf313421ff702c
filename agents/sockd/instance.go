package sockd

import (
	"slices"
	"strings"
)

// instance identifies the processes of one resource instance: those running
// the Dante binary with this configuration file.
type instance struct {
	// exe is the binary's resolved path, as /proc/PID/exe shows it.
	exe string
	// config is the absolute configuration path given with -f.
	config string
}

// members are the processes of an instance found in one scan.
type members struct {
	// Mothers run with this instance's command line, oldest first.
	Mothers []Process
	// All are the mothers and every other live process of the instance:
	// their descendants and the members of their process groups, including
	// children that lost their mother.
	All []Process
	// Pidfile is the PID in the pidfile, 0 when missing or empty.
	Pidfile int
}

// isMother reports whether p is a live mother process of the instance: the
// same executable (not a reused PID) and this configuration on its command
// line.
func (in instance) isMother(p Process) bool {
	if p.Zombie() || p.Exe != in.exe {
		return false
	}
	return configArg(p.Cmdline) == in.config
}

// isForeignMother reports whether p is the mother of another Dante instance.
func (in instance) isForeignMother(p Process) bool {
	return !p.Zombie() && p.Exe == in.exe && configArg(p.Cmdline) != "" && configArg(p.Cmdline) != in.config
}

// configArg returns the value of -f on a Dante command line, or "".
func configArg(argv []string) string {
	for i, a := range argv {
		switch {
		case a == "-f" && i+1 < len(argv):
			return argv[i+1]
		case strings.HasPrefix(a, "-f") && len(a) > 2:
			return a[2:]
		}
	}
	return ""
}

// find picks the instance's processes out of a process table scan.
// pidfilePID (0 if none) and knownGroups add process groups of mothers
// that are gone, so that children they left behind (possibly SIGSTOPped,
// possibly still exiting) are found, unless such a group's leader PID now
// belongs to another Dante instance.
func (in instance) find(procs []Process, pidfilePID int, knownGroups ...int) members {
	m := members{Pidfile: pidfilePID}
	byPID := map[int]Process{}
	for _, p := range procs {
		byPID[p.PID] = p
		if in.isMother(p) {
			m.Mothers = append(m.Mothers, p)
		}
	}
	slices.SortFunc(m.Mothers, func(a, b Process) int { return a.PID - b.PID })

	ours := map[int]bool{}   // PIDs of the instance
	groups := map[int]bool{} // process groups of the instance
	for _, p := range m.Mothers {
		ours[p.PID] = true
		groups[p.PGID] = true
	}
	for _, g := range append(knownGroups, pidfilePID) {
		if p, alive := byPID[g]; g > 0 && (!alive || !in.isForeignMother(p)) {
			groups[g] = true
		}
	}
	// Descendants of a member and same-binary members of a group are
	// members; repeat until nothing changes, since the table is unordered.
	for changed := true; changed; {
		changed = false
		for _, p := range procs {
			if ours[p.PID] || p.Zombie() || p.Exe != in.exe || in.isForeignMother(p) {
				continue
			}
			if ours[p.PPID] || groups[p.PGID] {
				ours[p.PID] = true
				changed = true
			}
		}
	}
	for _, p := range procs {
		if ours[p.PID] {
			m.All = append(m.All, p)
		}
	}
	slices.SortFunc(m.All, func(a, b Process) int { return a.PID - b.PID })
	return m
}

// pids returns the PIDs of processes.
func pids(procs []Process) []int {
	out := make([]int, len(procs))
	for i, p := range procs {
		out[i] = p.PID
	}
	return out
}
