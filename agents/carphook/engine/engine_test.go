package engine

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fake records calls into a shared log and fails where told.
type fake struct {
	name     string
	log      *[]string
	failUp   bool
	failDown bool
	critical bool
}

func (f *fake) Name() string { return f.name }
func (f *fake) Up(context.Context) error {
	*f.log = append(*f.log, "up "+f.name)
	if f.failUp {
		return errors.New("boom")
	}
	return nil
}
func (f *fake) Down(context.Context) error {
	*f.log = append(*f.log, "down "+f.name)
	if f.failDown {
		return errors.New("boom")
	}
	return nil
}
func (f *fake) Critical() bool { return f.critical }

func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		policy     Policy
		master     bool
		failUp     string
		failDown   string
		supersede  int // supersede before the nth check (1-based), 0 = never
		guardDeny  bool
		want       []string
		wantErr    bool
		superseded bool
	}{
		{name: "master in order", master: true, want: []string{"up a", "up b", "up c"}},
		{name: "backup in reverse", master: false, want: []string{"down c", "down b", "down a"}},
		{name: "continue past failure", policy: Continue, master: true, failUp: "b",
			want: []string{"up a", "up b", "up c"}, wantErr: true},
		{name: "stop at failure", policy: Stop, master: true, failUp: "b",
			want: []string{"up a", "up b"}, wantErr: true},
		{name: "revert on failure", policy: Revert, master: true, failUp: "b",
			want: []string{"up a", "up b", "down b", "down a"}, wantErr: true},
		{name: "down is best effort", master: false, failDown: "b",
			want: []string{"down c", "down b", "down a"}, wantErr: true},
		{name: "newer event stops master", master: true, supersede: 2,
			want: []string{"up a"}, superseded: true},
		{name: "newer event stops backup", master: false, supersede: 3,
			want: []string{"down c", "down b"}, superseded: true},
		{name: "guard refuses guarded up", master: true, guardDeny: true,
			want: []string{"up a"}, superseded: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log []string
			var acts []Action
			for _, n := range []string{"a", "b", "c"} {
				acts = append(acts, &fake{name: n, log: &log, failUp: n == tt.failUp,
					failDown: n == tt.failDown, critical: n == "b"})
			}
			checks := 0
			e := &Engine{Policy: tt.policy,
				Superseded: func() bool { checks++; return tt.supersede > 0 && checks >= tt.supersede },
				Guard: func(f func() error) error {
					if tt.guardDeny {
						return ErrSuperseded
					}
					return f()
				}}
			res := e.Run(context.Background(), acts, tt.master)
			if !reflect.DeepEqual(log, tt.want) {
				t.Errorf("calls = %q, want %q", log, tt.want)
			}
			if (res.Err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error: %v", res.Err, tt.wantErr)
			}
			if res.Superseded != tt.superseded {
				t.Errorf("superseded = %v, want %v", res.Superseded, tt.superseded)
			}
			if tt.wantErr && !strings.Contains(res.Err.Error(), "boom") {
				t.Errorf("error %q does not wrap the action's error", res.Err)
			}
		})
	}
}

func TestCriticalDown(t *testing.T) {
	var log []string
	acts := []Action{&fake{name: "a", log: &log, critical: true}, &fake{name: "b", log: &log},
		&fake{name: "c", log: &log, critical: true, failDown: true}}
	err := CriticalDown(context.Background(), acts, time.Minute)
	if want := []string{"down c", "down a"}; !reflect.DeepEqual(log, want) {
		t.Errorf("calls = %q, want %q", log, want)
	}
	if err == nil {
		t.Error("the failing Down was not reported")
	}
}

// hung is a critical action whose Down never returns (a role file on a hung
// file system).
type hung struct {
	fake
	called chan struct{}
}

func (h *hung) Down(ctx context.Context) error {
	*h.log = append(*h.log, "down "+h.name)
	close(h.called)
	select {} // never returns
}

// TestCriticalDownBounded: a hung critical action must not hang the
// front-end (and its caller), nor keep the other critical actions in force.
func TestCriticalDownBounded(t *testing.T) {
	var log []string
	acts := []Action{&fake{name: "address", log: &log, critical: true},
		&hung{fake{name: "role", log: &log, critical: true}, make(chan struct{})}}
	done := make(chan error, 1)
	go func() { done <- CriticalDown(context.Background(), acts, 50*time.Millisecond) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "down role: not done within 50ms") {
			t.Errorf("error %v", err)
		}
	case <-time.After(30 * time.Second): // a hang guard, not a speed assertion
		t.Fatal("CriticalDown hangs")
	}
	<-acts[1].(*hung).called
	if want := []string{"down role", "down address"}; !reflect.DeepEqual(log, want) {
		t.Errorf("calls = %q, want %q", log, want)
	}
}

// repeater sends a round through step every interval until count rounds
// or ctx ends, like an announcement.
type repeater struct {
	fake
	rounds   atomic.Int32
	interval time.Duration
	sent     chan struct{}
	after    func() // after each round, if set
}

func (r *repeater) UpEach(ctx context.Context, step func(func() error) error) error {
	for i := 0; i < 1000; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(r.interval):
			}
		}
		if err := step(func() error { r.rounds.Add(1); r.sent <- struct{}{}; return nil }); err != nil {
			return err
		}
		if r.after != nil {
			r.after()
		}
	}
	return nil
}

// TestRepeatingStopsOnNewerEvent: an announcement kept going after a
// newer event (BACKUP) until the group timed out. A newer event now ends
// it at once, no round is sent after it is recorded (the guard), and the
// transition is superseded.
func TestRepeatingStopsOnNewerEvent(t *testing.T) {
	var newer atomic.Bool
	var log []string
	r := &repeater{fake: fake{name: "announce", log: &log}, interval: time.Hour, sent: make(chan struct{}, 1000)}
	e := &Engine{
		Superseded: newer.Load,
		Guard: func(f func() error) error {
			if newer.Load() {
				return ErrSuperseded
			}
			return f()
		},
	}
	done := make(chan Result, 1)
	go func() { done <- e.Run(context.Background(), []Action{r, &fake{name: "after", log: &log}}, true) }()
	<-r.sent // the first round is out; the next one is an hour away
	newer.Store(true)
	var res Result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second): // hang guard
		t.Fatal("the announcement goes on after a newer event")
	}
	if !res.Superseded || res.Err != nil || r.rounds.Load() != 1 || len(log) != 0 {
		t.Errorf("result %+v, rounds %d, log %v; want superseded after 1 round, nothing after", res, r.rounds.Load(), log)
	}

	// A round due after the event was recorded is refused by the guard,
	// even before the engine notices.
	newer.Store(false)
	r2 := &repeater{fake: fake{name: "announce", log: &log}, sent: make(chan struct{}, 1000),
		after: func() { newer.Store(true) }} // recorded right after the first round
	res = e.Run(context.Background(), []Action{r2}, true)
	if !res.Superseded || r2.rounds.Load() != 1 {
		t.Errorf("result %+v after %d rounds; want superseded after 1", res, r2.rounds.Load())
	}
}
