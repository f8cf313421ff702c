// Package pairbench measures an in-process probe against the command-line
// check a script would run for the same thing, in the same benchmark run,
// taking turns, and reports both and their ratios as benchmark metrics.
// It is used only by benchmarks.
package pairbench

import (
	"bytes"
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Pair is one comparison.
type Pair struct {
	// Ours runs the probe once; an error fails the benchmark.
	Ours func() error
	// Tool returns the command to run once (a fresh *exec.Cmd each time);
	// Check, if set, judges its output.
	Tool  func() *exec.Cmd
	Check func(out []byte) error
	// Within, if set, runs fn where the tool must start (a namespace:
	// a child forked from a thread in a network namespace is in it).
	Within func(fn func() error) error
}

// Totals is what a run measured, summed over its iterations.
type Totals struct {
	OursWall, OursCPU, ToolWall, ToolCPU time.Duration
	N                                    int
}

// Run measures the pair b.N times, taking turns, and reports per op:
// ours-ms, ours-cpu-ms, tool-ms, tool-cpu-ms, wall-ratio and cpu-ratio
// (ours over the tool's: below 1 is better).
func Run(b *testing.B, p Pair) Totals {
	b.Helper()
	within := p.Within
	if within == nil {
		within = func(fn func() error) error { return fn() }
	}
	var t Totals
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		self0, start := rusage(syscall.RUSAGE_SELF), time.Now()
		if err := p.Ours(); err != nil {
			b.Fatalf("ours: %v", err)
		}
		t.OursWall += time.Since(start)
		t.OursCPU += rusage(syscall.RUSAGE_SELF) - self0

		var out bytes.Buffer
		cmd := p.Tool()
		cmd.Stdout, cmd.Stderr = &out, &out
		kids0 := rusage(syscall.RUSAGE_CHILDREN)
		start = time.Now()
		err := within(cmd.Run)
		t.ToolWall += time.Since(start)
		t.ToolCPU += rusage(syscall.RUSAGE_CHILDREN) - kids0
		if err == nil && p.Check != nil {
			err = p.Check(out.Bytes())
		}
		if err != nil {
			b.Fatalf("%s: %v\n%s", cmd, err, out.Bytes())
		}
		t.N++
	}
	b.StopTimer()
	t.Report(b)
	return t
}

// Report adds the metrics to b.
func (t Totals) Report(b *testing.B) {
	n := float64(t.N)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / n }
	b.ReportMetric(ms(t.OursWall), "ours-ms")
	b.ReportMetric(ms(t.OursCPU), "ours-cpu-ms")
	b.ReportMetric(ms(t.ToolWall), "tool-ms")
	b.ReportMetric(ms(t.ToolCPU), "tool-cpu-ms")
	b.ReportMetric(ratio(t.OursWall, t.ToolWall), "wall-ratio")
	b.ReportMetric(ratio(t.OursCPU, t.ToolCPU), "cpu-ratio")
	b.Log(t.String())
}

// String is the one-line summary.
func (t Totals) String() string {
	return fmt.Sprintf("%d rounds: ours %v wall %v CPU, tool %v wall %v CPU per round; ratios wall %.3f CPU %.3f (goal <= 0.2)",
		t.N, t.OursWall/time.Duration(t.N), t.OursCPU/time.Duration(t.N), t.ToolWall/time.Duration(t.N), t.ToolCPU/time.Duration(t.N),
		ratio(t.OursWall, t.ToolWall), ratio(t.OursCPU, t.ToolCPU))
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// rusage returns user plus system CPU time of who.
func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
