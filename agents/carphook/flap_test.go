//go:build linux

package carphook_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// processesOf lists live processes running the executable at path inside
// the network namespace nsName (other tests run the same binary elsewhere).
func processesOf(path, nsName string) []int {
	var fi syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+nsName, &fi); err != nil {
		return nil
	}
	want := fmt.Sprintf("net:[%d]", fi.Ino)
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || exe != path {
			continue
		}
		if netns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && netns == want && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestFlappingEvents sends 20 alternating events as fast as the front-end
// returns, while the actions are slower than that, and checks that the
// last event's actions are the ones in force and nothing is left behind.
func TestFlappingEvents(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	dummy := "/usr/lib/ocf/resource.d/heartbeat/Dummy"
	testenv.RequireCommand(t, dummy)
	hook, _ := binaries(t)
	for _, last := range []string{"MASTER", "BACKUP"} {
		t.Run(last, func(t *testing.T) {
			ns := testenv.NewNS(t, "chf")
			ns.MustRun(t, "ip", "link", "add", "dum0", "type", "veth", "peer", "name", "dum1") // no dummy module here
			ns.MustRun(t, "ip", "link", "set", "dum0", "up")
			dir := t.TempDir()
			conf := filepath.Join(dir, "c.toml")
			marker, dstate, roleFile := filepath.Join(dir, "exec-marker"), filepath.Join(dir, "dummy.state"), filepath.Join(dir, "role")
			writeFile(t, conf, fmt.Sprintf(`state_dir = "%s/state"
[group.g]
[[group.g.action]]
type = "address"
interface = "dum0"
addresses = ["10.213.0.50/24", "fd00:213::50/64"]
[[group.g.action]]
type = "role-file"
path = %q
[[group.g.action]]
type = "exec"
up = ["/bin/sh", "-c", "sleep 0.05; touch %s"]
down = ["/bin/sh", "-c", "sleep 0.05; rm -f %s"]
[[group.g.action]]
type = "ocf"
agent = %q
params = { state = %q }
`, dir, roleFile, marker, marker, dummy, dstate), 0o644)
			t.Cleanup(func() {
				_ = ns.Command(hook, "-c", conf, "apply", "g", "STOP").Run()
				_ = ns.Command(hook, "-c", conf, "status", "--wait", "20s", "g").Run()
			})
			var took []time.Duration
			for i := 0; i < 20; i++ {
				st := "MASTER"
				if (i%2 == 0) == (last == "MASTER") {
					st = "BACKUP"
				}
				t0 := time.Now()
				if out, err := ns.Command(hook, "-c", conf, "apply", "g", st).CombinedOutput(); err != nil {
					t.Fatalf("event %d %s: %v\n%s", i, st, err, out)
				}
				took = append(took, time.Since(t0))
			}
			sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
			t.Logf("front-end incl. ip netns exec: median %v, max %v", took[10].Round(time.Millisecond/10), took[19].Round(time.Millisecond/10))
			stateDir := filepath.Join(dir, "state")
			st := waitSettled(t, stateDir, "g", last)
			if st.Seq != 20 {
				t.Errorf("recorded %d events, want 20", st.Seq)
			}
			testenv.WaitFor(t, 10*time.Second, "every worker to exit", func() error {
				if p := processesOf(hook, ns.Name); len(p) > 0 {
					return fmt.Errorf("carp-hook processes left: %v", p)
				}
				return nil
			})
			master := last == "MASTER"
			addrs := ns.MustRun(t, "ip", "-o", "addr", "show", "dev", "dum0")
			for _, a := range []string{"10.213.0.50/24", "fd00:213::50/64"} {
				if n := strings.Count(addrs, " "+a+" "); (n == 1) != master || n > 1 {
					t.Errorf("%s present %d times, want master=%v:\n%s", a, n, master, addrs)
				}
			}
			want := map[bool]string{true: "1", false: "0"}[master]
			if r := role(roleFile); r != want {
				t.Errorf("role = %q, want %q", r, want)
			}
			for _, f := range []string{marker, dstate} {
				if _, err := os.Stat(f); (err == nil) != master {
					t.Errorf("%s exists: %v, want %v", f, err == nil, master)
				}
			}
			for _, d := range []string{dir, stateDir} {
				entries, _ := os.ReadDir(d)
				for _, e := range entries {
					if strings.Contains(e.Name(), ".tmp") {
						t.Errorf("temporary file left: %s/%s", d, e.Name())
					}
				}
			}
			t.Logf("outcome after 20 events: %s in %v, %d steps", st.Outcome, st.Finished.Sub(st.Started).Round(time.Millisecond), len(st.Steps))
		})
	}
}
