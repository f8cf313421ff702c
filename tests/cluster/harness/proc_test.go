package harness

import (
	"os"
	"testing"
)

func TestProcStatSelf(t *testing.T) {
	state, ppid, _, start, err := ProcStat(os.Getpid())
	if err != nil || state == 'Z' || ppid != os.Getppid() || start == 0 {
		t.Fatalf("ProcStat(self) = %c %d %d %v", state, ppid, start, err)
	}
	p, ok := Identify(os.Getpid())
	if !ok || !p.Alive() {
		t.Fatal("Identify(self) is not alive")
	}
	if (Process{PID: p.PID, Start: p.Start + 1}).Alive() {
		t.Error("a different start time must not count as the same process")
	}
}
