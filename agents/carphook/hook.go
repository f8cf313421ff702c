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
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
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
	// Plans keeps the plans saved at MASTER; nil saves none (tests).
	Plans *store.Plans
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
// (in plans) from the configuration file path, for the group key selects:
// the way down for a group whose configuration file no longer loads (an
// edit in progress, a typo, a file moved away or made unsafe). Nothing is
// read from the file: the plans are found by its path alone, and each
// names the state directory the group used.
func FromSavedPlans(path, key string, plans *store.Plans, log Logger) (*Hook, error) {
	saved, perr := plans.All(path)
	cfg := &config.File{Path: path + " (plans saved at MASTER in " + plans.Dir + ")", Groups: map[string]*config.Group{}}
	byName := map[string]*store.Plan{}
	for _, p := range saved {
		cfg.Groups[p.Group.Name], byName[p.Group.Name] = p.Group, p
	}
	g, err := cfg.Find(key)
	if err != nil {
		return nil, errors.Join(err, perr)
	}
	plan := byName[g.Name]
	cfg.OCFRoot, cfg.StateDir = plan.OCFRoot, plan.StateDir
	st, err := store.Open(stateDir(cfg))
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = NopLogger{}
	}
	return &Hook{Config: cfg, Store: st, Plans: plans, Log: log, Saved: plan}, nil
}

// savePlan saves the group's plan, for the way down (see Saved). When the
// last plan may still be up (not retired), what it has that the group no
// longer has is kept in the new one: the group is taken down with all it
// brought up. It runs under the group's event lock.
func (h *Hook) savePlan(g *config.Group) error {
	if h.Saved != nil {
		return ErrSavedPlanUp
	}
	if h.Plans == nil {
		return nil
	}
	old, err := h.Plans.Load(h.Config.Path, g.Name)
	if err != nil {
		old = nil // a plan refused is replaced
	}
	if old != nil && old.Retired.IsZero() {
		g, _ = withPlan(g, old.Group)
	}
	return h.Plans.Save(&store.Plan{Config: h.Config.Path, StateDir: stateDir(h.Config), Saved: time.Now(), OCFRoot: h.Config.OCFRoot, Group: g})
}

// downGroup returns the group to take down for a state other than MASTER:
// the group as the configuration has it now, and before it what the plan
// saved at the last MASTER brought up and the configuration no longer has
// (an address renumbered, a role file or unit renamed while MASTER). The
// actions' down runs in reverse order, so those go last. extra describes
// what was added, for the log.
func (h *Hook) downGroup(g *config.Group) (down *config.Group, extra []string, err error) {
	if h.Saved != nil || h.Plans == nil {
		return g, nil, nil
	}
	plan, err := h.Plans.Load(h.Config.Path, g.Name)
	if err != nil || plan == nil || !plan.Retired.IsZero() {
		return g, nil, err
	}
	down, added := withPlan(g, plan.Group)
	for _, a := range added {
		act, err := newAction(a, actionEnv{Group: g.Name, OCFRoot: h.Config.OCFRoot})
		if err != nil {
			return g, nil, err
		}
		extra = append(extra, act.Name())
	}
	return down, extra, nil
}

// withPlan returns a copy of g whose actions are those of the plan's group
// p that g lacks, then g's own; and the ones it took from p.
func withPlan(g, p *config.Group) (*config.Group, []*config.Action) {
	have := map[string]bool{}
	for _, a := range g.Actions {
		have[actionKey(a)] = true
	}
	var added []*config.Action
	for _, a := range p.Actions {
		if k := actionKey(a); !have[k] {
			have[k] = true
			added = append(added, a)
		}
	}
	c := *g
	c.Actions = append(append([]*config.Action{}, added...), g.Actions...)
	return &c, added
}

// actionKey identifies an action by everything it does (not its line).
func actionKey(a *config.Action) string {
	c := *a
	c.Line = 0
	b, _ := json.Marshal(&c)
	return string(b)
}

// retirePlan marks the group's plan as taken down: a later transition
// need not take down what it has beyond the configuration. It runs under
// the group's event lock.
func (h *Hook) retirePlan(group string) error {
	if h.Plans == nil {
		return nil
	}
	path := h.Config.Path
	if h.Saved != nil {
		path = h.Saved.Config
	}
	plan, err := h.Plans.Load(path, group)
	if err != nil || plan == nil || !plan.Retired.IsZero() {
		return err
	}
	plan.Retired = time.Now()
	return h.Plans.Save(plan)
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
	return &Hook{Config: cfg, Store: st, Plans: &store.Plans{Dir: store.DefaultPlanDir}, Log: log}, nil
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
	down, _ := h.forState(g, ev, h.Log.Errorf)
	acts, err := h.actions(down, ev.State, &n)
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
		target, ev, done, err := h.claim(g.Name)
		if err != nil || done {
			if err != nil {
				return err
			}
			return lastErr
		}
		state := ev.State
		var n notes
		down, others := h.forState(g, ev, h.Log.Debugf)
		acts, err := h.actions(down, state, &n)
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
		if h.finish(g.Name, target, state, res) {
			h.retireOthers(g.Name, others)
		}
	}
}

// forState returns the group whose actions apply for ev's state: for
// MASTER the group as configured, otherwise with what the plan saved at
// MASTER brought up too (downGroup), and what other groups' plans that
// ev takes down brought up (otherPlans), which it returns too: they are
// retired once the way down succeeded. What is added goes to logf.
func (h *Hook) forState(g *config.Group, ev event.Event, logf func(string, ...any)) (*config.Group, []*store.Plan) {
	if ev.State == event.Master {
		return g, nil
	}
	down, extra, err := h.downGroup(g)
	if err != nil {
		h.Log.Errorf("group %s: the plan saved at MASTER: %v; taking down what the configuration has", g.Name, err)
	}
	if len(extra) > 0 {
		logf("group %s: the configuration changed since MASTER: also taking down what the plan saved at MASTER has and the configuration no longer has: %s",
			g.Name, strings.Join(extra, "; "))
	}
	others, why, err := h.otherPlans(g, ev.Group)
	if err != nil {
		h.Log.Errorf("group %s: plans saved at MASTER: %v", g.Name, err)
	}
	for i, p := range others {
		var added []*config.Action
		down, added = withPlan(down, ownInstances(p.Group))
		names := make([]string, 0, len(added))
		for _, a := range added {
			if act, err := newAction(a, actionEnv{Group: p.Group.Name, OCFRoot: h.Config.OCFRoot}); err == nil {
				names = append(names, act.Name())
			}
		}
		logf("group %s: also taking down the plan saved at MASTER for group %s (%s): %s",
			g.Name, p.Group.Name, why[i], strings.Join(names, "; "))
	}
	return down, others
}

// otherPlans returns the saved plans of the configuration, other than g's
// own and not retired, that an event with key (not MASTER) takes down too:
// a group no longer in the file, or one whose saved match selects key (a
// group renamed, or a key moved to another group, while MASTER: no event
// will ever select the old group again). why says which, for each.
func (h *Hook) otherPlans(g *config.Group, key string) (plans []*store.Plan, why []string, err error) {
	if h.Saved != nil || h.Plans == nil {
		return nil, nil, nil
	}
	all, err := h.Plans.All(h.Config.Path)
	for _, p := range all {
		if p.Group.Name == g.Name || !p.Retired.IsZero() {
			continue
		}
		switch _, inFile := h.Config.Groups[p.Group.Name]; {
		case !inFile:
			plans, why = append(plans, p), append(why, "no longer in the configuration")
		case selects(p.Group, key):
			plans, why = append(plans, p), append(why, fmt.Sprintf("its saved match selects %q", key))
		}
	}
	return plans, why, err
}

// selects reports whether key selects the group g (by name or match).
func selects(g *config.Group, key string) bool {
	return key != "" && (g.Name == key || slices.Contains(g.Match, key))
}

// ownInstances returns a copy of g whose ocf actions name their instance:
// the group's name, which is their default, not that of the group taking
// them down.
func ownInstances(g *config.Group) *config.Group {
	c := *g
	c.Actions = make([]*config.Action, len(g.Actions))
	for i, a := range g.Actions {
		if a.Type == config.TypeOCF && a.Instance == "" {
			ca := *a
			ca.Instance = g.Name
			a = &ca
		}
		c.Actions[i] = a
	}
	return &c
}

// retireOthers retires the other groups' plans a way down of group took
// down (see otherPlans), each under its group's event lock and only if it
// is still the plan that was taken down.
func (h *Hook) retireOthers(group string, plans []*store.Plan) {
	for _, p := range plans {
		if err := h.retireOther(p); err != nil {
			h.Log.Errorf("group %s: retiring the plan saved at MASTER for group %s: %v", group, p.Group.Name, err)
			continue
		}
		h.Log.Infof("group %s: the plan saved at MASTER for group %s is taken down and retired", group, p.Group.Name)
	}
}

func (h *Hook) retireOther(p *store.Plan) error {
	unlock, err := h.Store.LockEvent(p.Group.Name)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := h.Plans.Load(h.Config.Path, p.Group.Name)
	if err != nil || cur == nil || !cur.Retired.IsZero() || !cur.Saved.Equal(p.Saved) {
		return err // gone, retired or saved again since: nothing to do
	}
	cur.Retired = time.Now()
	return h.Plans.Save(cur)
}

// claim marks the latest event as being applied by this process.
func (h *Hook) claim(group string) (seq uint64, ev event.Event, done bool, err error) {
	unlock, err := h.Store.LockEvent(group)
	if err != nil {
		return 0, ev, false, err
	}
	defer unlock()
	st, err := h.Store.Read(group)
	if err != nil {
		return 0, ev, false, err
	}
	if st.Seq == 0 || (st.Applied == st.Seq && st.Outcome != store.OutcomeRunning && st.Outcome != store.OutcomePending) {
		return 0, ev, true, nil
	}
	st.Applied, st.AppliedState = st.Seq, st.Event.State
	st.Outcome, st.Error, st.Steps = store.OutcomeRunning, "", nil
	st.WorkerPID, st.Started, st.Finished = os.Getpid(), time.Now(), time.Time{}
	st.WorkerStart = procStart(st.WorkerPID)
	return st.Seq, st.Event, false, h.Store.Write(st)
}

// newer reports whether an event after seq was recorded.
func (h *Hook) newer(group string, seq uint64) bool {
	st, err := h.Store.Read(group)
	return err == nil && st.Seq != seq
}

// finish records and logs a transition's outcome, and reports whether it
// retired the group's plan (a clean way down, the last event). Nothing is
// logged while the event lock is held: every front-end waits for that
// lock.
func (h *Hook) finish(group string, seq uint64, state event.State, res engine.Result) (retired bool) {
	started, retired, err := h.record(group, seq, state, res)
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
	return retired
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
// claimed since, and returns when it started. A group taken down without
// error, with no event after, retires its plan (see retirePlan); retired
// says so.
func (h *Hook) record(group string, seq uint64, state event.State, res engine.Result) (started time.Time, retired bool, err error) {
	unlock, err := h.Store.LockEvent(group)
	if err != nil {
		return time.Now(), false, err
	}
	defer unlock()
	st, err := h.Store.Read(group)
	if err != nil {
		return time.Now(), false, err
	}
	if st.Applied == seq {
		st.Outcome, st.Steps, st.Finished = outcome(res), res.Steps, time.Now()
		st.Error = ""
		if res.Err != nil {
			st.Error = res.Err.Error()
		}
		if err := h.Store.Write(st); err != nil {
			return st.Started, false, err
		}
	}
	if st.Seq == seq && state != event.Master && res.Err == nil && !res.Superseded {
		if err := h.retirePlan(group); err != nil {
			return st.Started, false, fmt.Errorf("retiring the plan saved at MASTER: %w", err)
		}
		return st.Started, true, nil
	}
	return st.Started, false, nil
}
