//go:build linux

package carphook_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// keepalived is one running keepalived: the parent and its VRRP child.
type keepalived struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once the parent has exited and been reaped
}

// exited reports whether the parent has exited and been reaped.
func (k *keepalived) exited() bool {
	select {
	case <-k.done:
		return true
	default:
		return false
	}
}

func (k *keepalived) pids() []int {
	return append([]int{k.cmd.Process.Pid}, childPIDs(k.cmd.Process.Pid)...)
}

// startKeepalived runs keepalived in the node's namespace with carp-hook as
// its generic notify script and its own pidfiles.
func startKeepalived(t *testing.T, n *node, vip string, prio int) *keepalived {
	t.Helper()
	dir := filepath.Dir(n.conf)
	conf := filepath.Join(dir, "keepalived.conf")
	writeFile(t, conf, fmt.Sprintf(`global_defs {
    router_id %s
    script_user root
    enable_script_security
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority %d
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass chpass
    }
    virtual_ipaddress {
        %s/24 dev eth0
    }
    notify "%s -c %s keepalived"
}
`, n.name, prio, vip, n.hook, n.conf), 0o644)
	k := &keepalived{log: filepath.Join(dir, "keepalived.log")}
	logf, err := os.OpenFile(k.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	k.cmd = n.ns.Command(testenv.RequireCommand(t, "keepalived"), "-n", "-l", "-D", "-P", "-f", conf,
		"-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid"), "-c", filepath.Join(dir, "checkers.pid"))
	k.cmd.Stdout, k.cmd.Stderr = logf, logf
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	k.done = make(chan struct{})
	go func() {
		_ = k.cmd.Wait()
		close(k.done)
	}()
	t.Cleanup(func() {
		// Graceful first (it sends priority 0 and calls notify STOP), then
		// SIGKILL whatever is left. Nothing is signalled by a PID once the
		// parent is reaped: the PID (and its process group) may be reused.
		if !k.exited() {
			pids := k.pids()
			_ = k.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-k.done:
			case <-time.After(5 * time.Second):
			}
			for _, p := range pids[1:] {
				if alive(p) {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			}
			if !k.exited() {
				_ = syscall.Kill(-pids[0], syscall.SIGKILL)
				_ = k.cmd.Process.Kill()
			}
			<-k.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(k.log)
			t.Logf("%s keepalived log:\n%s", n.name, b)
		}
	})
	// keepalived -n: the parent forks one VRRP child; record it.
	testenv.WaitFor(t, 5*time.Second, "keepalived's VRRP child", func() error {
		if len(childPIDs(k.cmd.Process.Pid)) == 0 {
			return errNotYet
		}
		return nil
	})
	return k
}

func TestKeepalivedPair(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "keepalived")
	testenv.RequireCommand(t, "danted")
	l := newCarpLab(t, "chk", "10.212.0")
	vip := l.ip(60)
	n1 := newNode(t, l, "n1", vip, false)
	n2 := newNode(t, l, "n2", vip, false)

	k1 := startKeepalived(t, n1, vip, 150)
	waitSettled(t, n1.stateDir, "dante", "MASTER")
	startKeepalived(t, n2, vip, 100)
	testenv.WaitFor(t, 10*time.Second, "n2's BACKUP notify", func() error {
		if status(t, n2.stateDir, "dante").Seq == 0 {
			return errNotYet
		}
		return nil
	})
	checkMaster(t, l, n1, n2, vip)
	if ev := status(t, n1.stateDir, "dante").Event; ev.Source != "keepalived" || ev.Priority != 150 {
		t.Errorf("n1's event = %+v", ev)
	}

	// Graceful stop of the master: keepalived calls notify STOP, carp-hook
	// stops danted and writes role 0; the backup takes over.
	t0 := time.Now()
	if err := syscall.Kill(k1.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	checkMaster(t, l, n2, n1, vip)
	if st := status(t, n1.stateDir, "dante"); st.Event.State != "STOP" {
		t.Errorf("n1's last event after SIGTERM = %s, want STOP", st.Event.State)
	}
	t.Logf("graceful stop: n2 serving, n1 clean after %v", time.Since(t0).Round(time.Millisecond))
	select {
	case <-k1.done:
	case <-time.After(10 * time.Second):
		t.Fatal("keepalived did not exit after SIGTERM")
	}

	// n1 comes back and preempts (higher priority).
	t0 = time.Now()
	k1 = startKeepalived(t, n1, vip, 150)
	checkMaster(t, l, n1, n2, vip)
	t.Logf("preemption: n1 serving, n2 clean after %v", time.Since(t0).Round(time.Millisecond))

	// Crash: SIGKILL parent and child by recorded PID, link down.
	t0 = time.Now()
	for _, p := range k1.pids() {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	l.n1.MustRun(t, "ip", "link", "set", "eth0", "down")
	checkServing(t, l, n2, vip)
	t.Logf("crash failover: n2 serving after %v", time.Since(t0).Round(time.Millisecond))
	l.n1.MustRun(t, "ip", "link", "set", "eth0", "up")
}
