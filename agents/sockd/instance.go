package sockd

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ocfkit/ocfkit/agents/ocf"
)

// instance identifies the processes of one resource instance: those running
// the Dante binary with this configuration file, in this PID namespace.
// Paths alone prove nothing: a container (another mount namespace) shows
// its own /usr/sbin/danted and /etc/danted.conf under the same names, so
// the files themselves are compared.
type instance struct {
	// exe is the binary's resolved path, as /proc/PID/exe shows it; exes
	// are every path accepted (exe and the one recorded at start).
	exe  string
	exes []string
	// exeIDs are the identities of the binary accepted: the file the
	// binary names now and the one it named at start (an upgrade or a
	// flipped symlink changes the first, not the running process).
	exeIDs []fileID
	// config is the absolute configuration path given with -f, and
	// configID the file's identity (zero when it does not exist).
	config   string
	configID fileID
	// pidNS is the agent's PID namespace: a process of another (a
	// container's) is never the instance's.
	pidNS string
	// uid is the agent's real user: a process another user started with
	// the instance's files is not the instance's.
	uid int
	// mntNS are the mount namespaces a process proven only by its marker
	// may live in: the agent's and the one Dante was started in.
	mntNS []string
}

// instanceMarker is the environment variable the agent starts Dante with,
// holding the configuration path: Dante's children inherit it, so a child
// whose mother is gone still proves which instance it belongs to.
const instanceMarker = "OCFKIT_SOCKD_CONFIG"

// members are the processes of an instance found in one scan.
type members struct {
	// Mothers run with this instance's command line, oldest first.
	Mothers []Process
	// All are the mothers and every other live process of the instance:
	// their descendants and the members of their process groups, and
	// children that lost their mother but carry the instance's marker.
	All []Process
	// Pidfile is the PID in the pidfile, 0 when missing or empty. It is
	// compared with the mothers found, and never makes a process a member.
	Pidfile int
	// Hidden are processes whose executable could not be read: while
	// nothing of the instance is found, they leave its state in doubt.
	Hidden []int
}

// mayRun reports whether an executable read from /proc may be the
// instance's binary: the same file, or, deleted since it started, the same
// path (a package upgrade replaced it). It is the cheap first filter of a
// scan; runsExe decides.
func (in instance) mayRun(id fileID, path string, deleted bool) bool {
	return (id != fileID{} && slices.Contains(in.exeIDs, id)) || (deleted && slices.Contains(in.exes, path))
}

// runsExe reports whether p runs the instance's binary in the agent's PID
// namespace, started by the agent's user.
func (in instance) runsExe(p Process) bool {
	return p.Exe != "" && p.PidNS != "" && p.PidNS == in.pidNS && p.UID == in.uid && in.mayRun(p.ExeID, p.Exe, p.Deleted)
}

// isMother reports whether p is a live mother process of the instance: the
// same executable file (not a reused PID, not a container's), and this
// configuration on its command line, naming the same file as the process
// sees it.
func (in instance) isMother(p Process) bool {
	return !p.Zombie() && in.runsExe(p) && configArg(p.Cmdline) == in.config && p.ConfigID == in.configID
}

// isForeignMother reports whether p is the mother of another Dante instance:
// it runs the binary with another configuration, or with one of the same
// name that is another file (a bind mount in another mount namespace).
func (in instance) isForeignMother(p Process) bool {
	return !p.Zombie() && in.runsExe(p) && configArg(p.Cmdline) != "" && !in.isMother(p)
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

// find picks the instance's processes out of a process table scan. A
// process belongs to the instance only when its own identity proves it: a
// mother (this executable and this -f configuration), a process carrying
// the instance's marker in its environment, or a process of this
// executable that descends from such a process or shares the process group
// of a mother or marked process. knownGroups are the groups of members found by earlier scans of
// the same action, so that children left behind by a mother that exited
// meanwhile are still found; a known group whose leader now lives and is
// not a member is left alone, as its PID was reused.
func (in instance) find(procs []Process, knownGroups ...int) members {
	var m members
	knownGroups = slices.Clone(knownGroups)
	byPID := map[int]Process{}
	ours := map[int]bool{}   // PIDs of the instance
	groups := map[int]bool{} // process groups of the instance
	for _, p := range procs {
		byPID[p.PID] = p
		switch {
		case in.isMother(p):
			m.Mothers = append(m.Mothers, p)
			ours[p.PID] = true
			groups[p.PGID] = true
		case in.isMarked(p):
			ours[p.PID] = true
			knownGroups = append(knownGroups, p.PGID)
		}
	}
	slices.SortFunc(m.Mothers, func(a, b Process) int { return a.PID - b.PID })
	// A known group, or that of a marked process, is the instance's while
	// its leader is gone (or exiting) or is a member.
	for _, g := range knownGroups {
		if leader, alive := byPID[g]; g > 0 && (!alive || leader.Zombie() || leader.Exe == "" || ours[g]) {
			groups[g] = true
		}
	}
	// Descendants of a member and same-binary (or exiting) members of a
	// group are members; repeat until nothing changes, since the table is unordered.
	for changed := true; changed; {
		changed = false
		for _, p := range procs {
			if ours[p.PID] || p.Zombie() || !in.mayBeOurs(p) || in.isForeignMother(p) || in.isForeignMarked(p) {
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

// mayBeOurs reports whether p runs this executable, or no longer shows
// one: a process that is exiting (its memory is gone, its sockets may not
// be) is the instance's when its parent or group is.
func (in instance) mayBeOurs(p Process) bool {
	return p.Exe == "" || in.runsExe(p)
}

// ledElsewhere reports whether the process group g now has a live leader
// running another executable: its PID was reused, and the group is not the
// instance's. A leader that is exiting shows no executable, and is not
// another's.
func (in instance) ledElsewhere(g int) bool {
	p, err := readProcess(g, nil)
	return err == nil && !p.Zombie() && p.Exe != "" && !in.runsExe(p)
}

// isMarked reports whether p is a live process of this executable that
// carries this instance's marker, and is not another instance's mother
// (whose command line names its own configuration). Any process may set
// the variable: it counts only for the binary's own file, in the mount
// namespace of the agent or of the start.
func (in instance) isMarked(p Process) bool {
	return !p.Zombie() && in.runsExe(p) && p.Marker == in.config && !in.isForeignMother(p) &&
		p.MntNS != "" && slices.Contains(in.mntNS, p.MntNS)
}

// isForeignMarked reports whether p carries another instance's marker.
func (in instance) isForeignMarked(p Process) bool {
	return p.Marker != "" && p.Marker != in.config
}

// inDoubt returns an error when nothing of the instance was found but some
// processes could not be read: any of them could be its.
func (m members) inDoubt() error {
	if len(m.All) > 0 || len(m.Hidden) == 0 {
		return nil
	}
	return hiddenError(len(m.Hidden))
}

// hiddenError says why the agent cannot tell whether Dante runs.
func hiddenError(n int) error {
	what := "a process named like Dante"
	if n > 1 {
		what = fmt.Sprintf("%d processes named like Dante", n)
	}
	return ocf.Errorf(ocf.ErrGeneric, "cannot tell whether Dante runs: the executable of %s is not readable (permission denied); run the agent as root", what)
}

// pids returns the PIDs of processes.
func pids(procs []Process) []int {
	out := make([]int, len(procs))
	for i, p := range procs {
		out[i] = p.PID
	}
	return out
}
