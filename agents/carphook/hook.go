// Package carphook moves a service with a CARP or VRRP address: the
// front-ends (ucarp, keepalived, devd, ifstated, apply) turn a daemon's
// script arguments into an event, and one engine applies the configured
// group's actions for it.
//
// The caller gets control back fast. Handle records the event, takes the
// critical actions (addresses, role files) down at once unless the new state
// is MASTER, and starts a detached worker (Spawn) that applies the rest.
// Workers are serialised by a lock; each applies the latest recorded event,
// and stops between actions when a newer one arrives, so the last event
// wins. A worker never adds an address after a newer event was recorded.
package carphook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ocfkit/ocfkit/agents/carphook/config"
	"github.com/ocfkit/ocfkit/agents/carphook/engine"
	"github.com/ocfkit/ocfkit/agents/carphook/event"
	"github.com/ocfkit/ocfkit/agents/carphook/store"
)

// DefaultStateDir is used when the configuration sets no state_dir.
const DefaultStateDir = "/var/run/carp-hook"

// criticalTimeout bounds the front-end's work on each critical action.
const criticalTimeout = 2 * time.Second

// Hook ties a configuration to its state directory.
type Hook struct {
	Config *config.File
	Store  *store.Store
	// Log receives one line per outcome.
	Log Logger
	// Spawn starts a detached worker for a group. Nil runs the worker
	// inline (tests).
	Spawn func(group string) error
	// Actions builds a group's actions; nil means groupActions. Tests
	// inject fakes here.
	Actions func(g *config.Group, st event.State) ([]engine.Action, error)
	// Saved is set when the configuration file no longer loads and Config
	// holds the plans saved at MASTER instead (FromSavedPlans): they take
	// groups down, never up.
	Saved *store.Plan
}

// ErrSavedPlanUp refuses to bring a group up from a saved plan.
var ErrSavedPlanUp = errors.New("not bringing a group up from the plan saved at MASTER: the configuration file does not load")

// FromSavedPlans returns a hook that works from the plans saved at MASTER
// from the configuration file path, in the state directory that file
// names, for the group key selects: the way down for a group whose
// configuration file no longer loads (an edit in progress, a typo).
func FromSavedPlans(path, key string, log Logger) (*Hook, error) {
	dir, err := config.StateDirOf(path)
	if err != nil || dir == "" {
		dir = DefaultStateDir
	}
	st, err := store.Open(dir)
	if err != nil {
		return nil, err
	}
	plans, perr := st.Plans(path)
	cfg := &config.File{Path: path + " (plans saved at MASTER in " + dir + ")", StateDir: dir, Groups: map[string]*config.Group{}}
	byName := map[string]*store.Plan{}
	for _, p := range plans {
		cfg.Groups[p.Group.Name], byName[p.Group.Name] = p.Group, p
	}
	g, err := cfg.Find(key)
	if err != nil {
		return nil, errors.Join(err, perr)
	}
	cfg.OCFRoot = byName[g.Name].OCFRoot
	if log == nil {
		log = NopLogger{}
	}
	return &Hook{Config: cfg, Store: st, Log: log, Saved: byName[g.Name]}, nil
}

// savePlan saves the group's plan, for the way down (see Saved).
func (h *Hook) savePlan(g *config.Group) error {
	if h.Saved != nil {
		return ErrSavedPlanUp
	}
	return h.Store.SavePlan(&store.Plan{Config: h.Config.Path, Saved: time.Now(), OCFRoot: h.Config.OCFRoot, Group: g})
}

// stateDir returns the configuration's state directory.
func stateDir(cfg *config.File) string {
	if cfg.StateDir == "" {
		return DefaultStateDir
	}
	return cfg.StateDir
}

// New opens the state directory named by the configuration.
func New(cfg *config.File, log Logger) (*Hook, error) {
	st, err := store.Open(stateDir(cfg))
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = NopLogger{}
	}
	return &Hook{Config: cfg, Store: st, Log: log}, nil
}

// actions builds a group's actions for a state; what they repair on their
// way goes to notes, logged later (never under the event lock).
func (h *Hook) actions(g *config.Group, st event.State, n *notes) ([]engine.Action, error) {
	if h.Actions != nil {
		return h.Actions(g, st)
	}
	return groupActions(g, actionEnv{Group: g.Name, State: string(st), OCFRoot: h.Config.OCFRoot, Log: n.add})
}

// notes keeps actions' messages until they can be logged.
type notes struct {
	mu    sync.Mutex
	lines []string
}

func (n *notes) add(format string, a ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lines = append(n.lines, fmt.Sprintf(format, a...))
}

// flush logs the messages kept so far, as errors: each is something an
// action found wrong and repaired.
func (n *notes) flush(log Logger, group string) {
	n.mu.Lock()
	lines := n.lines
	n.lines = nil
	n.mu.Unlock()
	for _, l := range lines {
		log.Errorf("group %s: %s", group, l)
	}
}

// Handle is the front-end's work for one event: find the group, record the
// event, take critical actions down unless the state is MASTER, and hand
// over to a worker. It returns the group and the sequence number recorded.
func (h *Hook) Handle(ctx context.Context, ev event.Event) (*config.Group, uint64, error) {
	g, err := h.Config.Find(ev.Group)
	if err != nil {
		return nil, 0, err
	}
	var n notes
	defer n.flush(h.Log, g.Name)
	acts, err := h.actions(g, ev.State, &n)
	if err != nil {
		return g, 0, err
	}
	unlock, err := h.Store.LockEvent(g.Name)
	if err != nil {
		return g, 0, err
	}
	// Nothing is logged while the event lock is held (the system log
	// may be slow): problems are kept and logged after.
	var problems []string
	st, err := h.Store.Read(g.Name)
	if err != nil {
		// A damaged status file must not block failover: start afresh.
		problems = append(problems, fmt.Sprintf("group %s: %v; starting a new status", g.Name, err))
		st = &store.Status{Group: g.Name}
	}
	if workerGone(st) {
		// The worker applying the last event died: that event is
		// abandoned, and this one is applied by a new worker.
		problems = append(problems, fmt.Sprintf("group %s: worker %d applying event %d is gone; event abandoned", g.Name, st.WorkerPID, st.Applied))
		st.Outcome = store.OutcomePending
	}
	if ev.State == event.Master {
		if err := h.savePlan(g); errors.Is(err, ErrSavedPlanUp) {
			unlock()
			return g, 0, err
		} else if err != nil {
			problems = append(problems, fmt.Sprintf("group %s: %v (the way down will need a configuration file that loads)", g.Name, err))
		}
	}
	st.Seq = store.NextSeq(st.Seq)
	st.Event, st.EventTime = ev, time.Now()
	st.CriticalError = ""
	if ev.State != event.Master {
		if err := engine.CriticalDown(ctx, acts, criticalTimeout); err != nil {
			st.CriticalError = err.Error()
		}
	}
	if st.Outcome != store.OutcomeRunning {
		st.Outcome = store.OutcomePending
	}
	werr := h.Store.Write(st)
	seq := st.Seq
	unlock()
	for _, p := range problems {
		h.Log.Errorf("%s", p)
	}
	n.flush(h.Log, g.Name)
	if werr != nil {
		return g, seq, werr
	}
	h.Log.Infof("group %s: event %d %s from %s recorded", g.Name, seq, ev.State, ev.Source)
	if st.CriticalError != "" {
		h.Log.Errorf("group %s: taking critical actions down: %s", g.Name, st.CriticalError)
	}
	if h.Spawn == nil {
		return g, seq, h.Work(ctx, g.Name)
	}
	if err := h.Spawn(g.Name); err != nil {
		return g, seq, fmt.Errorf("starting worker: %w", err)
	}
	if st.CriticalError != "" {
		return g, seq, errors.New(st.CriticalError)
	}
	return g, seq, nil
}

// Work applies recorded events for a group until the last one is applied.
// Only one worker runs per group at a time; others wait for the lock and
// then find nothing left to do.
func (h *Hook) Work(ctx context.Context, group string) error {
	g, err := h.Config.Find(group)
	if err != nil {
		return err
	}
	unlockWork, err := h.Store.LockWork(g.Name)
	if err != nil {
		return err
	}
	defer unlockWork()
	var lastErr error
	for {
		target, state, done, err := h.claim(g.Name)
		if err != nil || done {
			if err != nil {
				return err
			}
			return lastErr
		}
		var n notes
		acts, err := h.actions(g, state, &n)
		if err == nil && h.Saved != nil && state == event.Master {
			err = ErrSavedPlanUp
		}
		if err != nil {
			h.finish(g.Name, target, state, engine.Result{Err: err})
			return err
		}
		eng := &engine.Engine{
			Policy:     g.OnError,
			Superseded: func() bool { return h.newer(g.Name, target) },
			Guard: func(f func() error) error {
				unlock, err := h.Store.LockEvent(g.Name)
				if err != nil {
					return err
				}
				defer unlock()
				if h.newer(g.Name, target) {
					return engine.ErrSuperseded
				}
				return f()
			},
		}
		tctx, cancel := context.WithTimeout(ctx, g.Timeout)
		res := eng.Run(tctx, acts, state == event.Master)
		cancel()
		n.flush(h.Log, g.Name)
		lastErr = res.Err
		h.finish(g.Name, target, state, res)
	}
}

// claim marks the latest event as being applied by this process.
func (h *Hook) claim(group string) (seq uint64, state event.State, done bool, err error) {
	unlock, err := h.Store.LockEvent(group)
	if err != nil {
		return 0, "", false, err
	}
	defer unlock()
	st, err := h.Store.Read(group)
	if err != nil {
		return 0, "", false, err
	}
	if st.Seq == 0 || (st.Applied == st.Seq && st.Outcome != store.OutcomeRunning && st.Outcome != store.OutcomePending) {
		return 0, "", true, nil
	}
	st.Applied, st.AppliedState = st.Seq, st.Event.State
	st.Outcome, st.Error, st.Steps = store.OutcomeRunning, "", nil
	st.WorkerPID, st.Started, st.Finished = os.Getpid(), time.Now(), time.Time{}
	st.WorkerStart = procStart(st.WorkerPID)
	return st.Seq, st.Event.State, false, h.Store.Write(st)
}

// newer reports whether an event after seq was recorded.
func (h *Hook) newer(group string, seq uint64) bool {
	st, err := h.Store.Read(group)
	return err == nil && st.Seq != seq
}

// finish records and logs a transition's outcome. Nothing is logged while
// the event lock is held: every front-end waits for that lock.
func (h *Hook) finish(group string, seq uint64, state event.State, res engine.Result) {
	started, err := h.record(group, seq, res)
	if err != nil {
		h.Log.Errorf("group %s: %v", group, err)
	}
	for _, s := range res.Steps {
		h.Log.Debugf("group %s: event %d: %s %s: %v %s", group, seq, s.Dir, s.Action, s.Duration.Round(time.Millisecond), s.Error)
	}
	msg := fmt.Sprintf("group %s: event %d %s: %s in %v", group, seq, state, outcome(res), time.Since(started).Round(time.Millisecond))
	if res.Err != nil {
		h.Log.Errorf("%s: %v", msg, res.Err)
	} else {
		h.Log.Infof("%s", msg)
	}
}

// outcome names a transition's result.
func outcome(res engine.Result) store.Outcome {
	switch {
	case res.Superseded:
		return store.OutcomeSuperseded
	case res.Err != nil:
		return store.OutcomeFailed
	}
	return store.OutcomeOK
}

// record stores a transition's outcome, if no later transition was
// claimed since, and returns when it started.
func (h *Hook) record(group string, seq uint64, res engine.Result) (time.Time, error) {
	unlock, err := h.Store.LockEvent(group)
	if err != nil {
		return time.Now(), err
	}
	defer unlock()
	st, err := h.Store.Read(group)
	if err != nil {
		return time.Now(), err
	}
	if st.Applied == seq {
		st.Outcome, st.Steps, st.Finished = outcome(res), res.Steps, time.Now()
		st.Error = ""
		if res.Err != nil {
			st.Error = res.Err.Error()
		}
		if err := h.Store.Write(st); err != nil {
			return st.Started, err
		}
	}
	return st.Started, nil
}
