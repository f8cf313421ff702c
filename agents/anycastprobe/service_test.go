package anycastprobe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/metrics"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// fakeCheck answers with the value of ok.
type fakeCheck struct {
	ok    *atomic.Bool
	calls atomic.Int32
	delay time.Duration
}

func (f *fakeCheck) Name() string { return "fake" }

func (f *fakeCheck) Run(ctx context.Context) error {
	f.calls.Add(1)
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.ok.Load() {
		return nil
	}
	return errors.New("down")
}

// fakeRunner is a runner without a backend (nothing to add on a host).
func fakeRunner(mode string, rise, fall int, checks ...Check) *runner {
	svc := &Service{Name: "t", Mode: mode, Rise: rise, Fall: fall, Interval: time.Second, FastInterval: 100 * time.Millisecond, Timeout: 200 * time.Millisecond}
	hist, _ := metrics.NewHist()
	return &runner{svc: svc, checks: checks, logf: func(string, ...any) {}, duration: hist}
}

// TestRiseFall: a service starts DOWN, needs rise good results in a row
// to come up and fall bad ones to go down; a result against the trend
// resets the count, and a change is pending meanwhile.
func TestRiseFall(t *testing.T) {
	ok := &atomic.Bool{}
	r := fakeRunner("all", 3, 2, &fakeCheck{ok: ok})
	ctx := context.Background()
	if r.isUp() {
		t.Fatal("a service must start DOWN")
	}
	ok.Store(true)
	r.step(ctx)
	r.step(ctx)
	if r.isUp() || !r.pending() {
		t.Fatalf("after 2 of 3 good: up=%v pending=%v", r.isUp(), r.pending())
	}
	ok.Store(false)
	r.step(ctx) // resets the rise
	ok.Store(true)
	r.step(ctx)
	r.step(ctx)
	if r.isUp() {
		t.Fatal("up before 3 good results in a row")
	}
	r.step(ctx)
	if !r.isUp() || r.pending() {
		t.Fatalf("after 3 good: up=%v pending=%v", r.isUp(), r.pending())
	}
	ok.Store(false)
	r.step(ctx)
	if !r.isUp() || !r.pending() {
		t.Fatal("down after 1 of 2 bad")
	}
	r.step(ctx)
	if r.isUp() {
		t.Fatal("still up after 2 bad")
	}
}

// TestAllAny: all needs every check, any one of them.
func TestAllAny(t *testing.T) {
	good, bad := &atomic.Bool{}, &atomic.Bool{}
	good.Store(true)
	for mode, want := range map[string]bool{"all": false, "any": true} {
		r := fakeRunner(mode, 1, 1, &fakeCheck{ok: good}, &fakeCheck{ok: bad})
		r.step(context.Background())
		if r.isUp() != want {
			t.Errorf("mode %s with one good, one bad: up=%v", mode, r.isUp())
		}
	}
}

// TestCheckTimeout: a check that hangs is cut at the service's timeout
// and counts as bad; the checks run at once, so two hung checks cost one
// timeout.
func TestCheckTimeout(t *testing.T) {
	ok := &atomic.Bool{}
	ok.Store(true)
	r := fakeRunner("all", 1, 1, &fakeCheck{ok: ok, delay: time.Hour}, &fakeCheck{ok: ok, delay: time.Hour})
	start := time.Now()
	healthy, res := r.probe(context.Background())
	if healthy || len(res) != 2 || !errors.Is(res[0].err, context.DeadlineExceeded) {
		t.Errorf("hung checks: healthy=%v %+v", healthy, res)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("probe took %v with a 200ms timeout", d)
	}
}

// TestLoopFastIntervalAndProbeNow: while a rise is pending the loop
// probes at the fast interval, and a value on now probes at once.
func TestLoopFastIntervalAndProbeNow(t *testing.T) {
	ok := &atomic.Bool{}
	ok.Store(true)
	f := &fakeCheck{ok: ok}
	r := fakeRunner("all", 100, 1, f) // never rises: always pending
	r.svc.Interval = time.Hour
	r.svc.FastInterval = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	now := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() { r.loop(ctx, now); close(done) }()
	if err := testenv.Poll(10*time.Second, func() error {
		if n := f.calls.Load(); n < 5 {
			return fmt.Errorf("%d probes", n)
		}
		return nil
	}); err != nil {
		t.Errorf("pending: %v, want the fast interval", err)
	}
	cancel()
	<-done

	g := &fakeCheck{ok: ok}
	s := fakeRunner("all", 1, 1, g)
	s.svc.Interval, s.svc.FastInterval = time.Hour, time.Hour
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go s.loop(ctx, now)
	calls := func(want int32) func() error {
		return func() error {
			if n := g.calls.Load(); n < want {
				return fmt.Errorf("%d probes", n)
			}
			return nil
		}
	}
	if err := testenv.Poll(10*time.Second, calls(1)); err != nil {
		t.Fatalf("the first round: %v", err)
	}
	now <- struct{}{}
	if err := testenv.Poll(10*time.Second, calls(2)); err != nil {
		t.Errorf("a value on now did not probe at once: %v", err)
	}
}

// TestExecCheckHostile: a check that prints without end costs bounded
// memory and reports a short message; one that exits 0 leaving a child
// with its output open passes at once; one that hangs is killed, with
// its children, at the timeout.
func TestExecCheckHostile(t *testing.T) {
	run := func(script string, timeout time.Duration) (error, time.Duration) {
		c := &execCheck{argv: []string{"/bin/sh", "-c", script}}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		err := c.Run(ctx)
		return err, time.Since(start)
	}
	err, _ := run("head -c 50000000 /dev/zero | tr '\\0' x; exit 3", 20*time.Second)
	if err == nil || len(err.Error()) > 400 || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("flood: %.500v", err)
	}
	if err, d := run("sleep 30 & exit 0", 10*time.Second); err != nil || d > 5*time.Second {
		t.Errorf("exit 0 with a child holding stdout: %v after %v", err, d)
	}
	if err, d := run("sleep 30; exit 0", 300*time.Millisecond); err == nil || d > 5*time.Second {
		t.Errorf("hung check: %v after %v", err, d)
	}
}
