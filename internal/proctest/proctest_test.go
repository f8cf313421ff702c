package proctest

import (
	"os/exec"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestStopCont stops a real process, sees it stopped, continues it, and
// sees it exit once killed.
func TestStopCont(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	if Exited(pid) || AllStopped(pid) == nil {
		t.Fatal("a running process reads as exited or stopped")
	}
	Stop(t, pid)
	Cont(t, pid)
	testenv.WaitFor(t, 5*time.Second, "running again", func() error {
		if AllStopped(pid) == nil {
			return errTest
		}
		return nil
	})
	cmd.Process.Kill()
	testenv.WaitFor(t, 5*time.Second, "exited", func() error {
		if !Exited(pid) {
			return errTest
		}
		return nil
	})
}

var errTest = errorString("not yet")

type errorString string

func (e errorString) Error() string { return string(e) }
