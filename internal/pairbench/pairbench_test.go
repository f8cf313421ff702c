package pairbench

import (
	"errors"
	"os/exec"
	"testing"
	"time"
)

// TestTotals checks the summary's arithmetic.
func TestTotals(t *testing.T) {
	tot := Totals{OursWall: 2 * time.Millisecond, OursCPU: time.Millisecond, ToolWall: 20 * time.Millisecond, ToolCPU: 10 * time.Millisecond, N: 2}
	want := "2 rounds: ours 1ms wall 500µs CPU, tool 10ms wall 5ms CPU per round; ratios wall 0.100 CPU 0.100 (goal <= 0.2)"
	if got := tot.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if ratio(1, 0) != 0 {
		t.Error("ratio over zero is not 0")
	}
}

// BenchmarkTrue runs the mechanism itself: a no-op against /bin/true.
func BenchmarkTrue(b *testing.B) {
	tot := Run(b, Pair{
		Ours:  func() error { return nil },
		Tool:  func() *exec.Cmd { return exec.Command("true") },
		Check: func(out []byte) error { return map[bool]error{true: nil, false: errors.New("output")}[len(out) == 0] },
	})
	if tot.N != b.N || tot.ToolWall <= 0 {
		b.Fatalf("totals %+v after %d rounds", tot, b.N)
	}
}
