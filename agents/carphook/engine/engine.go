// Package engine holds carp-hook's policy: which actions run, in which order
// and direction, and what happens when one fails or a newer event arrives.
// It knows nothing of what the actions do, so it is tested with fakes.
package engine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ocfkit/ocfkit/action"
)

// Action is one step of a group (see package action). Up brings it into
// force on a MASTER; Down takes it out for every other state. Down runs on
// every action of a group, whether or not its Up ran.
type Action = action.Action

// Critical is implemented by fast actions that decide safety (an address, a
// role file). Their Up must never run once a newer event has been recorded,
// so the engine runs it through Engine.Guard; and the front-end takes them
// down at once (CriticalDown) before handing the rest to the worker.
type Critical = action.Critical

func isCritical(a Action) bool {
	c, ok := a.(Critical)
	return ok && c.Critical()
}

// CriticalDown takes down only the critical actions, in reverse order, best
// effort, each within timeout. The front-end calls it for every state but
// MASTER. An action that overruns its timeout (a hung file system) is left
// behind and reported, and the next one is taken down: the caller (ucarp,
// keepalived) must not hang, and the worker takes every action down again.
func CriticalDown(ctx context.Context, actions []Action, timeout time.Duration) error {
	var errs []error
	for i := len(actions) - 1; i >= 0; i-- {
		if !isCritical(actions[i]) {
			continue
		}
		if err := bounded(ctx, timeout, actions[i].Down); err != nil {
			errs = append(errs, fmt.Errorf("down %s: %w", actions[i].Name(), err))
		}
	}
	return errors.Join(errs...)
}

// bounded runs f and returns its error, or an error when timeout passes
// first (f is then left to finish on its own, with its context ended).
func bounded(ctx context.Context, timeout time.Duration, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("not done within %v: %w", timeout, ctx.Err())
	}
}

// Repeating is implemented by actions whose Up is a series of steps over
// time (announcements). Every step runs through the engine's Guard, so no
// step is taken once a newer event was recorded, and the context given
// ends as soon as the engine sees one (within SupersededPoll): the Up
// stops at once rather than when the group times out.
type Repeating = action.Repeating

// SupersededPoll is how often the engine looks for a newer event while a
// Repeating action is up.
const SupersededPoll = 50 * time.Millisecond

// watch returns a context that ends with ctx or when a newer event is
// recorded, and reports which.
func (e *Engine) watch(ctx context.Context) (wctx context.Context, superseded func() bool, stop func()) {
	wctx, cancel := context.WithCancel(ctx)
	if e.Superseded == nil {
		return wctx, func() bool { return false }, cancel
	}
	var seen atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(SupersededPoll)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				if e.Superseded() {
					seen.Store(true)
					cancel()
					return
				}
			}
		}
	}()
	return wctx, seen.Load, func() { cancel(); <-done }
}

// upRepeating runs a Repeating action's Up; it returns ErrSuperseded when a
// newer event ended it.
func (e *Engine) upRepeating(ctx context.Context, r Repeating) error {
	wctx, superseded, stop := e.watch(ctx)
	step := e.Guard
	if step == nil {
		step = func(f func() error) error { return f() }
	}
	err := r.UpEach(wctx, step)
	stop()
	if err != nil && superseded() && !errors.Is(err, ErrSuperseded) {
		return fmt.Errorf("%w (%v)", ErrSuperseded, err)
	}
	return err
}

// StepNamer is implemented by actions that do different things in each
// direction (an exec action's up and down commands): a step is named by
// what ran.
type StepNamer = action.StepNamer

func stepName(a Action, up bool) string {
	if n, ok := a.(StepNamer); ok {
		return n.StepName(up)
	}
	return a.Name()
}

// ErrSuperseded is returned by a Guard when a newer event was recorded.
var ErrSuperseded = errors.New("superseded by a newer event")

// Policy says what to do when an Up fails.
type Policy string

// Policies.
const (
	Continue Policy = "continue" // run the remaining Ups
	Stop     Policy = "stop"     // skip the remaining Ups
	Revert   Policy = "revert"   // run Down on everything up to the failed action, in reverse
)

// Direction is which way a step went.
type Direction string

// Directions of a step.
const (
	DirUp   Direction = "up"
	DirDown Direction = "down"
)

// Step is the outcome of one action call.
type Step struct {
	Action   string        `json:"action"`
	Dir      Direction     `json:"dir"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Result is the outcome of one transition.
type Result struct {
	Master     bool   `json:"master"`
	Steps      []Step `json:"steps"`
	Superseded bool   `json:"superseded"`
	Err        error  `json:"-"`
}

// Engine runs transitions. Its hooks are injected so the policy can be
// tested without root.
type Engine struct {
	Policy Policy
	// Superseded reports whether a newer event was recorded; it is checked
	// before every action. Nil means never.
	Superseded func() bool
	// Guard runs f in a section where no newer event can be recorded, and
	// returns ErrSuperseded without running f if one already was. Nil runs f
	// directly.
	Guard func(f func() error) error
}

// Run brings actions up in order (master) or down in reverse order.
func (e *Engine) Run(ctx context.Context, actions []Action, master bool) Result {
	res := Result{Master: master}
	var errs []error
	call := func(a Action, up bool) error {
		start := time.Now()
		dir := DirDown
		var err error
		if up {
			dir = DirUp
			run := func() error { return a.Up(ctx) }
			if r, ok := a.(Repeating); ok {
				err = e.upRepeating(ctx, r)
			} else if isCritical(a) && e.Guard != nil {
				err = e.Guard(run)
			} else {
				err = run()
			}
		} else {
			err = a.Down(ctx)
		}
		st := Step{Action: stepName(a, up), Dir: dir, Duration: time.Since(start)}
		if err != nil {
			st.Error = err.Error()
			if !errors.Is(err, ErrSuperseded) {
				errs = append(errs, fmt.Errorf("%s %s: %w", dir, a.Name(), err))
			}
		}
		res.Steps = append(res.Steps, st)
		return err
	}
	superseded := func() bool {
		if e.Superseded != nil && e.Superseded() {
			res.Superseded = true
		}
		return res.Superseded
	}
	if master {
		for i, a := range actions {
			if superseded() {
				break
			}
			err := call(a, true)
			if errors.Is(err, ErrSuperseded) {
				res.Superseded = true
				break
			}
			if err == nil || e.Policy == Continue || e.Policy == "" {
				continue
			}
			if e.Policy == Revert {
				for j := i; j >= 0; j-- {
					_ = call(actions[j], false)
				}
			}
			break
		}
	} else {
		// Down is best effort: every action is taken down even if one fails,
		// so nothing is left in force.
		for i := len(actions) - 1; i >= 0; i-- {
			if superseded() {
				break
			}
			_ = call(actions[i], false)
		}
	}
	res.Err = errors.Join(errs...)
	return res
}
