package anycastprobe

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/ocfkit/ocfkit/action"
	"github.com/ocfkit/ocfkit/internal/duration"
	"github.com/ocfkit/ocfkit/internal/metrics"
)

// hookTimeout bounds an on_up or on_down command.
const hookTimeout = 30 * time.Second

// checkResult is the last outcome of one check.
type checkResult struct {
	name string
	took time.Duration
	err  error
}

// runner probes one service and holds its addresses while it is healthy.
type runner struct {
	svc     *Service
	checks  []Check
	backend []action.Action
	hook    *action.Exec
	logf    func(format string, a ...any)

	mu          sync.Mutex
	up          bool // addresses (routes) held
	good, bad   int  // consecutive results against the state
	last        []checkResult
	lastAt      time.Time
	transitions int
	lastErr     string // the last backend or hook failure

	// For metrics and status --json: probe rounds by outcome, their
	// durations, and the most recent failed check (kept after recovery).
	probesOK, probesFailed uint64
	duration               *metrics.Hist
	failCheck, failStage   string
	failAt                 time.Time
}

// newRunner builds the runner of svc; protocol marks what it adds.
func newRunner(svc *Service, protocol uint8, logf func(string, ...any)) (*runner, error) {
	hist, err := metrics.NewHist()
	if err != nil {
		return nil, err
	}
	r := &runner{svc: svc, logf: logf, duration: hist}
	for _, c := range svc.Checks {
		ck, err := NewCheck(c)
		if err != nil {
			return nil, err
		}
		r.checks = append(r.checks, ck)
	}
	if len(svc.Prefixes) > 0 {
		r.backend = append(r.backend, &action.OwnedAddress{Interface: svc.Interface, Prefixes: svc.Prefixes, Protocol: protocol})
	}
	for _, d := range svc.RouteDests {
		r.backend = append(r.backend, &action.HostRoute{Interface: svc.Interface, Dest: d, Protocol: protocol})
	}
	if len(svc.OnUp) > 0 || len(svc.OnDown) > 0 {
		r.hook = &action.Exec{UpArgv: svc.OnUp, DownArgv: svc.OnDown, Timeout: hookTimeout, Group: svc.Name}
	}
	return r, nil
}

// probe runs every check at once, each bounded by the service's timeout,
// and combines them (all or any).
func (r *runner) probe(ctx context.Context) (bool, []checkResult) {
	res := make([]checkResult, len(r.checks))
	var wg sync.WaitGroup
	for i, c := range r.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, r.svc.Timeout)
			defer cancel()
			start := time.Now()
			err := c.Run(cctx)
			res[i] = checkResult{name: c.Name(), took: time.Since(start), err: err}
		}()
	}
	wg.Wait()
	ok := r.svc.Mode == "all"
	for _, c := range res {
		if r.svc.Mode == "all" && c.err != nil {
			ok = false
		}
		if r.svc.Mode == "any" && c.err == nil {
			ok = true
		}
	}
	return ok, res
}

// step probes once and applies the result to the state.
func (r *runner) step(ctx context.Context) {
	start := time.Now()
	ok, res := r.probe(ctx)
	if ctx.Err() != nil {
		return // stopping: a probe cut short says nothing
	}
	r.duration.Observe(time.Since(start).Seconds())
	r.mu.Lock()
	r.last, r.lastAt = res, time.Now()
	r.count(ok, res)
	up := r.up
	switch {
	case ok && !up:
		r.bad = 0
		r.good++
	case !ok && up:
		r.good = 0
		r.bad++
	default:
		r.good, r.bad = 0, 0
	}
	rise, fall := r.good >= r.svc.Rise, r.bad >= r.svc.Fall
	r.mu.Unlock()
	switch {
	case !up && rise:
		r.raise(ctx, res)
	case up && fall:
		r.withdraw(ctx, "unhealthy: "+summary(res))
	}
}

// count records a probe round's outcome. r.mu is held.
func (r *runner) count(ok bool, res []checkResult) {
	if ok {
		r.probesOK++
	} else {
		r.probesFailed++
	}
	for _, c := range res {
		if c.err != nil {
			r.failCheck, r.failStage, r.failAt = c.name, Stage(c.err), r.lastAt
			break
		}
	}
}

// raise adds the addresses, then runs on_up.
func (r *runner) raise(ctx context.Context, res []checkResult) {
	for _, b := range r.backend {
		if err := b.Up(ctx); err != nil {
			r.fail("%s: %v", b.Name(), err)
			for _, b := range r.backend {
				_ = b.Down(context.Background())
			}
			return
		}
	}
	r.mu.Lock()
	r.up, r.good, r.bad = true, 0, 0
	r.transitions++
	r.mu.Unlock()
	r.logf("service %s up: %s; holds %s", r.svc.Name, summary(res), r.holds())
	r.runHook(ctx, true)
}

// withdraw removes the addresses first, then runs on_down. It runs to the
// end even when ctx has ended: an address left behind is the worse fault.
func (r *runner) withdraw(ctx context.Context, why string) {
	r.mu.Lock()
	wasUp := r.up
	r.up, r.good, r.bad = false, 0, 0
	if wasUp {
		r.transitions++
	}
	r.mu.Unlock()
	for _, b := range r.backend {
		if err := b.Down(context.Background()); err != nil {
			r.fail("%s: %v", b.Name(), err)
		}
	}
	if wasUp {
		r.logf("service %s down (%s); released %s", r.svc.Name, why, r.holds())
		r.runHook(context.Background(), false)
	}
}

func (r *runner) runHook(ctx context.Context, up bool) {
	if r.hook == nil {
		return
	}
	var err error
	if up {
		err = r.hook.Up(ctx)
	} else {
		err = r.hook.Down(ctx)
	}
	if err != nil {
		r.fail("%s: %v", r.hook.StepName(up), err)
	}
}

func (r *runner) fail(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.mu.Lock()
	r.lastErr = msg
	r.mu.Unlock()
	r.logf("service %s: %s", r.svc.Name, msg)
}

// pending reports whether a state change is under way.
func (r *runner) pending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.good > 0 || r.bad > 0
}

// isUp reports whether the service holds its addresses.
func (r *runner) isUp() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.up
}

// loop probes until ctx ends: after a random start-up delay within the
// jitter, every interval (the fast interval while a change is pending), and
// at once on a value from now.
func (r *runner) loop(ctx context.Context, now <-chan struct{}) {
	if r.svc.Jitter > 0 {
		if !sleep(ctx, rand.N(r.svc.Jitter), now) {
			return
		}
	}
	for ctx.Err() == nil {
		r.step(ctx)
		d := r.svc.Interval
		if r.pending() {
			d = r.svc.FastInterval
		}
		if !sleep(ctx, d, now) {
			return
		}
	}
}

// sleep waits d, or less if now fires; false when ctx ended.
func sleep(ctx context.Context, d time.Duration, now <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-now:
	}
	return true
}

// holds names what the service holds when up.
func (r *runner) holds() string {
	var s []string
	for _, b := range r.backend {
		s = append(s, b.Name())
	}
	return strings.Join(s, "; ")
}

// summary is one line for the check results.
func summary(res []checkResult) string {
	var s []string
	for _, c := range res {
		if c.err != nil {
			s = append(s, fmt.Sprintf("%s: %v (%s)", c.name, c.err, duration.Format(c.took)))
		} else {
			s = append(s, fmt.Sprintf("%s: ok (%s)", c.name, duration.Format(c.took)))
		}
	}
	return strings.Join(s, ", ")
}

// status is the runner's part of `anycast-probe status`.
func (r *runner) status() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	state := "down"
	if r.up {
		state = "up"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "service %s: %s", r.svc.Name, state)
	if r.good > 0 {
		fmt.Fprintf(&b, " (rising %d/%d)", r.good, r.svc.Rise)
	}
	if r.bad > 0 {
		fmt.Fprintf(&b, " (falling %d/%d)", r.bad, r.svc.Fall)
	}
	fmt.Fprintf(&b, ", transitions %d\n", r.transitions)
	if r.lastAt.IsZero() {
		b.WriteString("  not probed yet\n")
	} else {
		fmt.Fprintf(&b, "  last probe %s: %s\n", r.lastAt.Format("15:04:05.000"), summary(r.last))
	}
	if r.failStage != "" {
		fmt.Fprintf(&b, "  last failure %s: %s at stage %s\n", r.failAt.Format("15:04:05.000"), r.failCheck, r.failStage)
	}
	if r.up {
		fmt.Fprintf(&b, "  holds %s\n", r.holds())
	} else {
		b.WriteString("  holds nothing\n")
	}
	if r.lastErr != "" {
		fmt.Fprintf(&b, "  last error: %s\n", r.lastErr)
	}
	return b.String()
}
