package sockd

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/procstat"
	"github.com/ocfkit/ocfkit/metadata"
)

// TestEveryParameterIsImplemented reads all settings the way the actions
// do and checks that the Go side uses exactly the parameters the meta-data
// declares (an undeclared one would panic).
func TestEveryParameterIsImplemented(t *testing.T) {
	meta, err := metadata.Load("sockd")
	if err != nil {
		t.Fatal(err)
	}
	p := ocf.NewParams(meta, func(string) (string, bool) { return "", false })
	readSettings(p)
	if _, err := readCheckSettings(&ocf.Request{Params: p}); err != nil {
		t.Fatal(err)
	}
	for _, name := range p.Unread() {
		t.Errorf("parameter %s is declared in metadata/sockd.xml but never read", name)
	}
	if got := meta.MonitorDepths(); !reflect.DeepEqual(got, []int{int(DepthProcess), int(DepthNegotiation), int(DepthDataPath)}) {
		t.Errorf("advertised depths %v", got)
	}
}

func TestFind(t *testing.T) {
	danted, other := fileID{Dev: 1, Ino: 100}, fileID{Dev: 7, Ino: 100}
	confA, confB := fileID{Dev: 1, Ino: 200}, fileID{Dev: 1, Ino: 201}
	in := instance{exe: "/usr/sbin/danted", exes: []string{"/usr/sbin/danted"}, exeIDs: []fileID{danted},
		config: "/etc/a.conf", configID: confA, pidNS: "pid:[1]", mntNS: []string{"mnt:[1]", "mnt:[2]"}}
	ids := map[string]fileID{"/etc/a.conf": confA, "/etc/b.conf": confB}
	mother := func(pid int, conf string) Process {
		return Process{PID: pid, PPID: 1, PGID: pid, State: 'S', Exe: in.exe, ExeID: danted, PidNS: "pid:[1]", MntNS: "mnt:[2]", ConfigID: ids[conf],
			Cmdline: []string{"/usr/sbin/danted", "-D", "-f", conf, "-p", "/run/x.pid"}}
	}
	child := func(pid, ppid, pgid int, state byte) Process {
		return Process{PID: pid, PPID: ppid, PGID: pgid, State: state, Exe: in.exe, ExeID: danted, PidNS: "pid:[1]", MntNS: "mnt:[2]", Cmdline: []string{"danted: io-child: 0/32"}}
	}
	marked := func(p Process, conf string) Process { p.Marker = conf; return p }
	forked := func(p Process, ppid, pgid int) Process { p.PPID, p.PGID = ppid, pgid; return p }
	// contained moves a process into a container: another mount
	// namespace, where the same paths name other files.
	contained := func(p Process, exe, conf fileID) Process {
		p.MntNS, p.ExeID = "mnt:[9]", exe
		if p.ConfigID != (fileID{}) {
			p.ConfigID = conf
		}
		return p
	}
	inPidNS := func(p Process, ns string) Process { p.PidNS = ns; return p }
	byUser := func(p Process, uid int) Process { p.UID = uid; return p }
	deleted := func(p Process) Process { p.ExeID, p.Deleted = fileID{Dev: 1, Ino: 99}, true; return p }
	shell := Process{PID: 30, PPID: 1, PGID: 30, State: 'S', Exe: "/usr/bin/dash", ExeID: fileID{Dev: 1, Ino: 5}, PidNS: "pid:[1]", Cmdline: []string{"sh", "-c", "danted -f /etc/b.conf"}}
	for _, tc := range []struct {
		name        string
		procs       []Process
		known       []int
		wantMothers []int
		wantAll     []int
	}{
		{"one mother and children", []Process{mother(10, "/etc/a.conf"), child(11, 10, 10, 'S'), child(12, 10, 10, 'T')}, nil, []int{10}, []int{10, 11, 12}},
		{"two mothers (-N 2)", []Process{mother(10, "/etc/a.conf"), forked(mother(13, "/etc/a.conf"), 10, 10), child(11, 13, 10, 'S')}, nil, []int{10, 13}, []int{10, 11, 13}},
		{"another instance untouched", []Process{mother(10, "/etc/a.conf"), mother(20, "/etc/b.conf"), child(21, 20, 20, 'S')}, nil, []int{10}, []int{10}},
		{"orphans of a dead mother proven by their marker", []Process{marked(child(11, 1, 10, 'T'), "/etc/a.conf"), child(12, 1, 10, 'T')}, nil, nil, []int{11, 12}},
		{"orphans of a mother verified earlier in the action", []Process{child(11, 1, 10, 'T'), child(12, 1, 10, 'T')}, []int{10}, nil, []int{11, 12}},
		{"orphans nothing proves are left alone", []Process{child(11, 1, 10, 'T'), child(12, 1, 10, 'T')}, nil, nil, nil},
		{"orphans of another instance", []Process{marked(child(11, 1, 10, 'T'), "/etc/b.conf"), marked(child(12, 1, 10, 'T'), "/etc/b.conf")}, []int{10}, nil, nil},
		{"another instance's mother carrying this instance's marker", []Process{marked(mother(20, "/etc/b.conf"), "/etc/a.conf"), child(21, 20, 20, 'S')}, nil, nil, nil},
		{"a known group now led by another instance's mother", []Process{mother(20, "/etc/b.conf"), child(21, 20, 20, 'S')}, []int{20}, nil, nil},
		{"a shell's group holding another Dante", []Process{shell, forked(mother(31, "/etc/b.conf"), 30, 30), child(32, 31, 30, 'S')}, nil, nil, nil},
		{"orphans of an exiting mother verified earlier", []Process{{PID: 10, PPID: 1, PGID: 10, State: 'R'}, child(11, 1, 10, 'T')}, []int{10}, nil, []int{10, 11}},
		{"exiting children of a mother count", []Process{mother(10, "/etc/a.conf"), {PID: 11, PPID: 10, PGID: 10, State: 'R'}}, nil, []int{10}, []int{10, 11}},
		{"kernel threads do not count", []Process{{PID: 2, PPID: 0, PGID: 0, State: 'S'}, {PID: 3, PPID: 2, PGID: 0, State: 'I'}}, []int{0}, nil, nil},
		{"zombies do not count", []Process{{PID: 10, PPID: 1, PGID: 10, State: 'Z'}, {PID: 11, PPID: 1, PGID: 10, State: 'Z'}}, []int{10}, nil, nil},
		{"same config, other binary", []Process{{PID: 10, PPID: 1, PGID: 10, State: 'S', Exe: "/usr/local/sbin/sockd", ExeID: fileID{Dev: 1, Ino: 6}, PidNS: "pid:[1]", ConfigID: confA, Cmdline: []string{"sockd", "-f/etc/a.conf"}}}, nil, nil, nil},
		{"same paths, the container's files", []Process{contained(mother(10, "/etc/a.conf"), other, confB), contained(child(11, 10, 10, 'S'), other, confB)}, nil, nil, nil},
		{"same binary, another file under the config's path", []Process{contained(mother(10, "/etc/a.conf"), danted, confB), contained(child(11, 10, 10, 'S'), danted, confB)}, nil, nil, nil},
		{"same files, another PID namespace", []Process{inPidNS(mother(10, "/etc/a.conf"), "pid:[9]"), inPidNS(child(11, 10, 10, 'S'), "pid:[9]")}, nil, nil, nil},
		{"a marker set in another mount namespace", []Process{contained(marked(child(11, 1, 10, 'T'), "/etc/a.conf"), danted, confA)}, nil, nil, nil},
		{"a marker on another binary", []Process{{PID: 11, PPID: 1, PGID: 11, State: 'S', Exe: "/usr/bin/sleep", ExeID: fileID{Dev: 1, Ino: 8}, PidNS: "pid:[1]", MntNS: "mnt:[1]", Marker: "/etc/a.conf"}}, nil, nil, nil},
		{"another user's Dante with the instance's files", []Process{byUser(mother(10, "/etc/a.conf"), 65534), byUser(child(11, 10, 10, 'S'), 65534)}, nil, nil, nil},
		{"a binary replaced by an upgrade", []Process{deleted(mother(10, "/etc/a.conf")), deleted(child(11, 10, 10, 'S'))}, nil, []int{10}, []int{10, 11}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := in.find(tc.procs, tc.known...)
			if got := pids(m.Mothers); !reflect.DeepEqual(got, orEmpty(tc.wantMothers)) {
				t.Errorf("mothers %v, want %v", got, tc.wantMothers)
			}
			if got := pids(m.All); !reflect.DeepEqual(got, orEmpty(tc.wantAll)) {
				t.Errorf("all %v, want %v", got, tc.wantAll)
			}
		})
	}
}

func orEmpty(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

func TestParseStat(t *testing.T) {
	p, err := parseStat([]byte("4242 (danted: io-child) (x)) T 4200 4200 4200 0 -1 4194560 0 0"))
	if err != nil || p.PID != 4242 || p.PPID != 4200 || p.PGID != 4200 || p.State != 'T' {
		t.Errorf("got %+v, %v", p, err)
	}
	for _, bad := range []string{"", "42", "x (a) S 1 1", "42 (a) S x 1", "42 (a) SS 1 1", "42 (a", "0()\x00 0 0", "42 (a) \x00 1 1", "42 (a) Q 1 1", "0 (a) S 1 1", "-4 (a) S 1 1"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

func TestReadPidfile(t *testing.T) {
	dir := t.TempDir()
	for text, want := range map[string]int{"": 0, "\n": 0, "4242\n": 4242, " 17 ": 17} {
		f := filepath.Join(dir, "p")
		if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := readPidfile(f); err != nil || got != want {
			t.Errorf("pidfile %q: %d, %v", text, got, err)
		}
	}
	if got, err := readPidfile(filepath.Join(dir, "missing")); err != nil || got != 0 {
		t.Errorf("missing pidfile: %d, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad"), []byte("-3"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readPidfile(filepath.Join(dir, "bad")); err == nil {
		t.Error("a negative PID is accepted")
	}
}

func TestLogProblems(t *testing.T) {
	log := "Nov 22 02:50:01 (1763779801.1) danted[42]: info: Dante/server[1/1] v1.4.2 running\n" +
		"Nov 22 02:50:01 (1763779801.2) danted[42]: error: /etc/d.conf: problem on line 5 near token \"f\": syntax error\n" +
		"Nov 22 02:50:01 (1763779801.3) danted[42]: alert: mother[1/1]: shutting down\n"
	var got []string
	for _, l := range logProblems([]byte(log)) {
		got = append(got, l.text)
	}
	want := []string{`error: /etc/d.conf: problem on line 5 near token "f": syntax error`, "alert: mother[1/1]: shutting down"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
}

func TestSettings(t *testing.T) {
	for args, want := range map[string]int{"": 1, "-N 2": 2, "-N3": 3, "-d 1 -N 4": 4, "-N x": 1} {
		s := settings{args: strings.Fields(args)}
		if got := s.mothersWanted(); got != want {
			t.Errorf("%q: %d mothers, want %d", args, got, want)
		}
	}
	if got := unescape(`GET / HTTP/1.0\r\n\r\n\\`); got != "GET / HTTP/1.0\r\n\r\n\\" {
		t.Errorf("unescape: %q", got)
	}
	for args, want := range map[string]string{"h": "h:1080", "h:99": "h:99", "::1": "[::1]:1080", "[::1]:5": "[::1]:5", "2001:db8::1": "[2001:db8::1]:1080", "[::1:1080]": "[::1:1080]:1080"} {
		if got, err := proxyFromArgs([]string{args}); err != nil || got != want {
			t.Errorf("proxyFromArgs(%q) = %q, %v", args, got, err)
		}
	}
	if got, _ := proxyFromArgs([]string{"vip", "80", "rip", "1080"}); got != "rip:1080" {
		t.Errorf("ldirectord order: %q", got)
	}
}

// FuzzParseStat checks that no /proc/PID/stat content makes the parser
// panic.
func TestParseStatusUID(t *testing.T) {
	if uid, ok := parseStatusUID([]byte("Name:\tdanted\nUmask:\t0022\nUid:\t0\t65534\t0\t65534\nGid:\t0\n")); !ok || uid != 0 {
		t.Errorf("root: %d, %v", uid, ok)
	}
	if uid, ok := parseStatusUID([]byte("Uid:\t65534\t0\t0\t0\n")); !ok || uid != 65534 {
		t.Errorf("nobody: %d, %v", uid, ok)
	}
	for _, bad := range []string{"", "Uid:\n", "Uid:\t-1\t0\n", "Uid:\tx\n", "Uid:\t99999999999\n", "Gid:\t0\n"} {
		if uid, ok := parseStatusUID([]byte(bad)); ok {
			t.Errorf("%q gives %d", bad, uid)
		}
	}
}

// FuzzParseStatusUID checks that no status content makes the parser panic
// or return a negative user.
func FuzzParseStatusUID(f *testing.F) {
	f.Add([]byte("Uid:\t0\t65534\t0\t65534\n"))
	f.Add([]byte("Uid:"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if uid, ok := parseStatusUID(b); ok && uid < 0 {
			t.Errorf("%q gives %d", b, uid)
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("4242 (danted) S 1 4242 4242 0 -1"))
	f.Add([]byte("1 ((a) b)) Z 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := parseStat(b); err == nil && (!strings.ContainsRune(procstat.States, rune(p.State)) || p.PID <= 0) {
			t.Errorf("invalid state or PID accepted: %+v", p)
		}
	})
}
