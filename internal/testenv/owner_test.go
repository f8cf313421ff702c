package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const tiedHelperEnv = "OCFKIT_TEST_TIED_HELPER"

// TestDaemonsDieWithTestProcess kills a test process the way go test
// -timeout does (SIGKILL: no cleanup runs) while it has a daemon running in
// a namespace, and checks that the daemon dies with it (StartTied), and
// that the next ReapLeftovers removes the namespace and ends the daemon's
// own child, which no signal reached.
func TestDaemonsDieWithTestProcess(t *testing.T) {
	if os.Getenv(tiedHelperEnv) == "1" {
		tiedHelper(t)
		return
	}
	RequireRoot(t)
	RequireCommand(t, "ip")
	RequireCommand(t, "sh")
	RequireCommand(t, "sleep")
	helper := exec.Command(os.Args[0], "-test.run=^TestDaemonsDieWithTestProcess$")
	helper.Env = append(os.Environ(), tiedHelperEnv+"=1")
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Kill(helper) })
	var ns string
	var pids []int
	s := bufio.NewScanner(out)
	for s.Scan() {
		if f := strings.Fields(s.Text()); len(f) >= 3 && f[0] == "tied" {
			ns = f[1]
			for _, p := range f[2:] {
				n, _ := strconv.Atoi(p)
				pids = append(pids, n)
			}
			break
		}
	}
	if ns == "" {
		t.Fatalf("the helper test process reported no namespace: %v", s.Err())
	}
	daemon, child := pids[0], pids[1]
	t.Logf("helper %d: namespace %s, daemon %d, its child %d; killing the helper", helper.Process.Pid, ns, daemon, child)
	_ = helper.Process.Kill()
	_ = helper.Wait()
	WaitFor(t, 10*time.Second, "the daemon to die with the test process", func() error {
		if alive(daemon) {
			return fmt.Errorf("daemon %d still runs", daemon)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
		t.Fatalf("namespace %s is gone before any reaping (the test cannot show the reaping): %v", ns, err)
	}
	reaped, err := ReapLeftovers()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(reaped, ns) {
		t.Fatalf("ReapLeftovers removed %v, not %s", reaped, ns)
	}
	if _, err := os.Stat(filepath.Join("/run/netns", ns)); err == nil {
		t.Errorf("namespace %s still exists", ns)
	}
	WaitFor(t, 10*time.Second, "the daemon's child to be ended", func() error {
		if alive(child) {
			return fmt.Errorf("child %d still runs", child)
		}
		return nil
	})
}

// tiedHelper is the test process that gets killed: it starts a daemon that
// forks a child, reports "tied NS DAEMON CHILD" and waits to be killed.
func tiedHelper(t *testing.T) {
	ns := NewNS(t, "tied")
	cmd := ns.Start(t, "sh", "-c", "sleep 1000 & wait")
	var child int
	WaitFor(t, 10*time.Second, "the daemon's child", func() error {
		out, err := exec.Command("ip", "netns", "pids", ns.Name).Output()
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(string(out)) {
			if p, _ := strconv.Atoi(f); p != cmd.Process.Pid {
				child = p
				return nil
			}
		}
		return fmt.Errorf("no child yet")
	})
	fmt.Printf("tied %s %d %d\n", ns.Name, cmd.Process.Pid, child)
	time.Sleep(time.Hour) // until killed
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
