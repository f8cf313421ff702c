package carphook

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/action"
	"github.com/ocfkit/ocfkit/agents/carphook/config"
	"github.com/ocfkit/ocfkit/agents/carphook/engine"
	"github.com/ocfkit/ocfkit/agents/carphook/event"
	"github.com/ocfkit/ocfkit/agents/carphook/store"
)

// world is the state fake actions act on.
type world struct {
	mu    sync.Mutex
	up    map[string]bool
	calls []string
}

func (w *world) set(name string, v bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.up[name] = v
	w.calls = append(w.calls, fmt.Sprintf("%s=%v", name, v))
}

type fakeAction struct {
	w        *world
	name     string
	critical bool
	delay    time.Duration
}

func (f *fakeAction) Name() string   { return f.name }
func (f *fakeAction) Critical() bool { return f.critical }
func (f *fakeAction) Up(ctx context.Context) error {
	time.Sleep(f.delay) // simulated work, not synchronisation
	f.w.set(f.name, true)
	return nil
}
func (f *fakeAction) Down(ctx context.Context) error {
	time.Sleep(f.delay)
	f.w.set(f.name, false)
	return nil
}

const fakeConfig = `
[group.g]
match = ["10.0.0.5"]
[[group.g.action]]
type = "role-file"
path = "/unused"
`

func newTestHook(t *testing.T, w *world) *Hook {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(fakeConfig))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := &Hook{Config: cfg, Store: st, Log: NopLogger{}}
	h.Actions = func(*config.Group, event.State) ([]engine.Action, error) {
		return []engine.Action{
			&fakeAction{w: w, name: "address", critical: true},
			&fakeAction{w: w, name: "service", delay: 3 * time.Millisecond},
			&fakeAction{w: w, name: "role", critical: true},
		}, nil
	}
	return h
}

func TestHandleInline(t *testing.T) {
	w := &world{up: map[string]bool{}}
	h := newTestHook(t, w)
	ctx := context.Background()
	if _, _, err := h.Handle(ctx, event.Event{Source: "ucarp", Group: "10.0.0.5", State: event.Master}); err != nil {
		t.Fatal(err)
	}
	if !w.up["address"] || !w.up["service"] || !w.up["role"] {
		t.Fatalf("after MASTER: %v", w.up)
	}
	st, _ := h.Status("g")
	if !st.Settled() || st.Outcome != store.OutcomeOK || len(st.Steps) != 3 {
		t.Fatalf("status after MASTER: %+v", st)
	}
	if _, _, err := h.Handle(ctx, event.Event{Source: "apply", Group: "g", State: event.Backup}); err != nil {
		t.Fatal(err)
	}
	if w.up["address"] || w.up["service"] || w.up["role"] {
		t.Fatalf("after BACKUP: %v", w.up)
	}
	if _, _, err := h.Handle(ctx, event.Event{Source: "apply", Group: "nope", State: event.Backup}); err == nil {
		t.Fatal("an unknown group was accepted")
	}
}

// TestCriticalDownBeforeWorker checks that a non-MASTER front-end removes
// critical actions itself, before any worker runs.
func TestCriticalDownBeforeWorker(t *testing.T) {
	w := &world{up: map[string]bool{"address": true, "service": true, "role": true}}
	h := newTestHook(t, w)
	h.Spawn = func(string) error { return nil } // the worker never comes
	if _, _, err := h.Handle(context.Background(), event.Event{Source: "apply", Group: "g", State: event.Fault}); err != nil {
		t.Fatal(err)
	}
	if w.up["address"] || w.up["role"] || !w.up["service"] {
		t.Fatalf("front-end alone: %v, want address and role down, service untouched", w.up)
	}
	st, _ := h.Status("g")
	if st.Settled() || st.Outcome != store.OutcomePending {
		t.Errorf("status = %+v, want pending", st)
	}
}

// TestFlapping sends 20 alternating events, each spawning a concurrent
// worker, and checks that the last event's state is what is in force.
func TestFlapping(t *testing.T) {
	for _, last := range []event.State{event.Master, event.Backup} {
		t.Run(string(last), func(t *testing.T) {
			w := &world{up: map[string]bool{}}
			h := newTestHook(t, w)
			var wg sync.WaitGroup
			h.Spawn = func(g string) error {
				wg.Add(1)
				go func() { defer wg.Done(); _ = h.Work(context.Background(), g) }()
				return nil
			}
			for i := 0; i < 20; i++ {
				st := event.Master
				if (i%2 == 0) == (last == event.Master) {
					st = event.Backup
				}
				if _, _, err := h.Handle(context.Background(), event.Event{Source: "apply", Group: "g", State: st}); err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			want := last == event.Master
			for _, n := range []string{"address", "service", "role"} {
				if w.up[n] != want {
					t.Errorf("%s up = %v, want %v (calls %v)", n, w.up[n], want, w.calls)
				}
			}
			st, _ := h.Status("g")
			if !st.Settled() || st.Seq != 20 || st.AppliedState != last || st.Outcome != store.OutcomeOK {
				t.Errorf("status = %+v", st)
			}
		})
	}
}

// TestSeqWraps: at 2^64-1 the next event became #0, which reads as "no
// event", and was skipped.
func TestSeqWraps(t *testing.T) {
	w := &world{up: map[string]bool{}}
	h := newTestHook(t, w)
	max := ^uint64(0)
	if err := h.Store.Write(&store.Status{Group: "g", Seq: max, Applied: max, AppliedState: event.Backup, Outcome: store.OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	_, seq, err := h.Handle(context.Background(), event.Event{Source: "apply", Group: "g", State: event.Master})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := h.Status("g")
	if seq != 1 || !st.Settled() || st.AppliedState != event.Master || !w.up["service"] {
		t.Errorf("after the wrap: seq %d, status %+v, world %v", seq, st, w.up)
	}
}

// TestNewActionOCFInstance checks that an ocf action without an instance
// takes the group's name, and gets OCF_ROOT from the file.
func TestNewActionOCFInstance(t *testing.T) {
	a, err := newAction(&config.Action{Type: config.TypeOCF, Agent: "/bin/true"}, actionEnv{Group: "dante", OCFRoot: "/r"})
	if err != nil {
		t.Fatal(err)
	}
	o, ok := a.(*action.OCF)
	if !ok || o.Instance != "dante" || o.Root != "/r" {
		t.Fatalf("got %#v, want an OCF action for instance dante, root /r", a)
	}
	if _, err := newAction(&config.Action{Type: "bogus"}, actionEnv{}); err == nil {
		t.Error("unknown type accepted")
	}
}

// TestPlanKeepsWhatIsUp: a MASTER again after an edit (keepalived
// notifies MASTER again) keeps in the plan what the last one brought up
// and the file no longer has; the way down takes both down, and once it
// succeeded (the plan retired) only the file's own actions are left.
func TestPlanKeepsWhatIsUp(t *testing.T) {
	conf := func(vip string) *config.File {
		t.Helper()
		cfg, err := config.Parse("/etc/e.toml", []byte(fmt.Sprintf("[group.E]\n[[group.E.action]]\ntype = \"address\"\ninterface = \"eth0\"\naddresses = [\"%s/24\"]\n", vip)))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	plans := &store.Plans{Dir: t.TempDir()}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	master := func(cfg *config.File) *Hook {
		t.Helper()
		h := &Hook{Config: cfg, Store: st, Plans: plans, Log: NopLogger{}}
		if err := h.savePlan(cfg.Groups["E"]); err != nil {
			t.Fatal(err)
		}
		return h
	}
	master(conf("10.0.0.50"))
	h := master(conf("10.0.0.60"))
	down, extra, err := h.downGroup(h.Config.Groups["E"])
	if err != nil || len(down.Actions) != 2 || len(extra) != 1 || !strings.Contains(extra[0], "10.0.0.50") ||
		down.Actions[1].Addresses[0] != "10.0.0.60/24" {
		t.Fatalf("down after two MASTERs: %+v, extra %q, %v", down.Actions, extra, err)
	}
	if err := h.retirePlan("E"); err != nil {
		t.Fatal(err)
	}
	if down, extra, err := h.downGroup(h.Config.Groups["E"]); err != nil || len(down.Actions) != 1 || len(extra) != 0 {
		t.Errorf("down after the plan was retired: %+v, extra %q, %v", down.Actions, extra, err)
	}
	h = master(conf("10.0.0.70")) // a retired plan is replaced, not merged
	if down, extra, _ := h.downGroup(h.Config.Groups["E"]); len(down.Actions) != 1 || len(extra) != 0 {
		t.Errorf("down after a MASTER replaced a retired plan: %+v, extra %q", down.Actions, extra)
	}
}

// TestOtherPlans: a way down takes down, besides its own group's plan, the
// unretired plans of groups no longer in the file and of groups whose saved
// match selects the event (a key moved to another group while MASTER); not
// those of groups the event does not concern, nor retired ones; and the
// old group's ocf actions keep their instance name.
func TestOtherPlans(t *testing.T) {
	parse := func(text string) *config.File {
		t.Helper()
		cfg, err := config.Parse("/etc/o.toml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	group := func(name, match, role string) string {
		return fmt.Sprintf("[group.%[1]s]\nmatch = [%[2]q]\n[[group.%[1]s.action]]\ntype = \"role-file\"\npath = %[3]q\n", name, match, role)
	}
	plans := &store.Plans{Dir: t.TempDir()}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// At MASTER: A selects k1, B k2, C k3, D k4 (D with an ocf action).
	before := parse(group("A", "k1", "/run/a") + group("B", "k2", "/run/b") + group("C", "k3", "/run/c") + group("D", "k4", "/run/d") +
		"[[group.D.action]]\ntype = \"ocf\"\nagent = \"/usr/lib/ocf/resource.d/heartbeat/Dummy\"\n")
	h := &Hook{Config: before, Store: st, Plans: plans, Log: NopLogger{}}
	for _, g := range before.Groups {
		if err := h.savePlan(g); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.retirePlan("C"); err != nil {
		t.Fatal(err)
	}
	// Now: k1 moved to B, A kept with another key, C and D removed.
	after := parse(group("A", "k9", "/run/a") + group("B", "k2", "/run/b"))
	after.Groups["B"].Match = append(after.Groups["B"].Match, "k1")
	h.Config = after
	others, why, err := h.otherPlans(after.Groups["B"], "k1")
	names := map[string]string{}
	for i, p := range others {
		names[p.Group.Name] = why[i]
	}
	if err != nil || len(names) != 2 || !strings.Contains(names["A"], `selects "k1"`) || names["D"] != "no longer in the configuration" {
		t.Fatalf("other plans for B at k1: %q, %v", names, err)
	}
	down, _ := h.forState(after.Groups["B"], event.Event{Group: "k1", State: event.Backup}, t.Logf)
	var inst string
	paths := map[string]bool{}
	for _, a := range down.Actions {
		paths[a.Path] = a.Type == config.TypeRoleFile
		if a.Type == config.TypeOCF {
			inst = a.Instance
		}
	}
	if !paths["/run/a"] || !paths["/run/b"] || !paths["/run/d"] || paths["/run/c"] || inst != "D" {
		t.Errorf("down for B at k1: %+v (ocf instance %q)", down.Actions, inst)
	}
	// An event of A (its own key) does not concern B's or A's others.
	if others, _, _ := h.otherPlans(after.Groups["A"], "k9"); len(others) != 1 || others[0].Group.Name != "D" {
		t.Errorf("other plans for A at k9: %+v", others)
	}
	h.retireOthers("B", others)
	if others, _, err := h.otherPlans(after.Groups["B"], "k1"); len(others) != 0 || err != nil {
		t.Errorf("other plans after they were retired: %+v, %v", others, err)
	}
}
