// Package store keeps carp-hook's per-group state on disk: the last event
// (with a sequence number), the outcome of the last transition, and the two
// locks that serialise front-ends and workers.
//
// Files in the state directory, per group:
//
//	GROUP.json        the Status, replaced atomically
//	GROUP.event.lock  held briefly: recording an event, critical actions
//	GROUP.work.lock   held by the one worker applying events
//
// The status and lock files are root's (0600): a status holds the commands
// run and their errors, which may name secrets the configuration file
// keeps from others. The plans saved at MASTER are kept apart, in a fixed
// place (see Plans).
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ocfkit/ocfkit/agents/carphook/config"
	"github.com/ocfkit/ocfkit/agents/carphook/engine"
	"github.com/ocfkit/ocfkit/agents/carphook/event"
	"github.com/ocfkit/ocfkit/internal/atomicfile"
	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// Outcome is how the last transition of a group ended (or that it has not).
type Outcome string

// Outcomes of a transition.
const (
	OutcomePending    Outcome = "pending"    // recorded, no worker has started on it
	OutcomeRunning            = "running"    // a worker is applying it
	OutcomeOK                 = "ok"         // applied, every action succeeded
	OutcomeFailed             = "failed"     // applied, some action failed
	OutcomeSuperseded         = "superseded" // a newer event arrived before it finished
	// OutcomeAbandoned is shown, never stored: the status says running but
	// its worker is dead (killed); the next event applies afresh.
	OutcomeAbandoned Outcome = "abandoned"
)

// Status is what carp-hook knows about one group.
type Status struct {
	Group string `json:"group"`
	// Seq counts events; Event is the last one, recorded at EventTime.
	Seq       uint64      `json:"seq"`
	Event     event.Event `json:"event"`
	EventTime time.Time   `json:"event_time"`
	// Applied is the Seq of the last transition a worker finished (or is
	// running, when Outcome is running); AppliedState its state.
	Applied      uint64        `json:"applied"`
	AppliedState event.State   `json:"applied_state,omitempty"`
	Outcome      Outcome       `json:"outcome"`
	Error        string        `json:"error,omitempty"`
	Steps        []engine.Step `json:"steps,omitempty"`
	WorkerPID    int           `json:"worker_pid,omitempty"`
	// WorkerStart is the worker's process start time where the system
	// tells it (Linux: /proc/PID/stat field 22), to tell it from a later
	// process with the same PID.
	WorkerStart string    `json:"worker_start,omitempty"`
	Started     time.Time `json:"started,omitzero"`
	Finished    time.Time `json:"finished,omitzero"`
	// CriticalError is the failure of the front-end's immediate removal of
	// critical actions for the last event, if any.
	CriticalError string `json:"critical_error,omitempty"`
}

// Settled reports whether the last event has been applied by a worker.
func (s *Status) Settled() bool {
	return s.Seq > 0 && s.Applied == s.Seq && s.Outcome != OutcomeRunning && s.Outcome != OutcomePending
}

// Store is a state directory.
type Store struct {
	Dir string
}

// Open creates the state directory if needed. The directory must be one
// only root or the effective user can write (see filesafe), as must every
// directory above it: status files are written there as root, and locks
// taken.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if err := filesafe.CheckDir(dir, os.Geteuid()); err != nil {
		return nil, fmt.Errorf("refusing state directory: %w", err)
	}
	return &Store{Dir: dir}, nil
}

// NextSeq returns the sequence number after seq, skipping 0 (which means
// "no event yet") when the counter wraps.
func NextSeq(seq uint64) uint64 {
	if seq+1 == 0 {
		return 1
	}
	return seq + 1
}

func (s *Store) path(group, suffix string) string {
	return filepath.Join(s.Dir, group+suffix)
}

// Read returns a group's status; a group never seen has a zero Status.
func (s *Store) Read(group string) (*Status, error) {
	st := &Status{Group: group}
	b, err := os.ReadFile(s.path(group, ".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading status: %w", err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("reading status %s: %w", s.path(group, ".json"), err)
	}
	return st, nil
}

// Write replaces a group's status atomically.
func (s *Store) Write(st *Status) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(s.path(st.Group, ".json"), b, 0o600); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	return nil
}

// writeAtomic replaces p with b and a newline, mode mode (see atomicfile).
func writeAtomic(p string, b []byte, mode os.FileMode) error {
	return atomicfile.Write(p, append(b, '\n'), mode)
}

// Plan is a group as the configuration defined it when the group went
// MASTER: what is needed to take it down again, whatever became of the
// configuration file since.
type Plan struct {
	// Config is the configuration file it came from (absolute).
	Config string `json:"config"`
	// StateDir is the state directory the group used at MASTER: the
	// status and locks of the way down.
	StateDir string `json:"state_dir"`
	// Saved is when the plan was saved.
	Saved   time.Time     `json:"saved"`
	OCFRoot string        `json:"ocf_root"`
	Group   *config.Group `json:"group"`
	// Retired is when a later transition took the group down completely;
	// zero while what the plan brought up may still be up.
	Retired time.Time `json:"retired,omitzero"`
}

// DefaultPlanDir is where plans are kept unless the command line says
// otherwise: a fixed place, so that the way down never depends on the
// configuration file, whatever state_dir it names or whether it loads.
const DefaultPlanDir = "/var/run/carp-hook/plans"

// Plans keeps the plans saved at MASTER, under Dir, one directory per
// configuration file (named by a hash of its absolute path: nothing is
// read from the file to find them), one file per group:
//
//	DIR/HASH/GROUP.plan.json  (0600, in directories 0700)
type Plans struct {
	Dir string
}

// dir returns the directory of the plans of the configuration file config.
func (p *Plans) dir(config string) string {
	sum := sha256.Sum256([]byte(config))
	return filepath.Join(p.Dir, hex.EncodeToString(sum[:16]))
}

// File returns the file of a group's plan saved from the configuration
// file config.
func (p *Plans) File(config, group string) string {
	return filepath.Join(p.dir(config), group+".plan.json")
}

// Save saves a group's plan, readable and writable by its owner only.
func (p *Plans) Save(plan *Plan) error {
	dir := p.dir(plan.Config)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving the plan of group %s: %w", plan.Group.Name, err)
	}
	if err := filesafe.CheckDir(dir, os.Geteuid()); err != nil {
		return fmt.Errorf("saving the plan of group %s: refusing the plan directory: %w", plan.Group.Name, err)
	}
	b, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(p.File(plan.Config, plan.Group.Name), b, 0o600); err != nil {
		return fmt.Errorf("saving the plan of group %s: %w", plan.Group.Name, err)
	}
	return nil
}

// Load returns the plan of one group saved from the configuration file
// config, or nil when there is none.
func (p *Plans) Load(config, group string) (*Plan, error) {
	plans, err := p.read(config, group+".plan.json")
	if len(plans) == 0 {
		return nil, err
	}
	return plans[0], err
}

// All returns the plans saved from the configuration file config.
func (p *Plans) All(config string) ([]*Plan, error) {
	return p.read(config, "*.plan.json")
}

// read returns the plans of config whose file names match pattern. It
// creates nothing: a missing directory means no plans. A plan that only
// root (or the effective user) can have written, in such a directory, is
// used (see filesafe); others are refused.
func (p *Plans) read(config, pattern string) ([]*Plan, error) {
	dir := p.dir(config)
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err := filesafe.CheckDir(dir, os.Geteuid()); err != nil {
		return nil, fmt.Errorf("refusing the plan directory: %w", err)
	}
	paths, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return nil, err
	}
	var plans []*Plan
	var errs []error
	for _, path := range paths {
		b, err := filesafe.ReadFile(path, os.Geteuid(), 1<<20)
		if err != nil {
			errs = append(errs, fmt.Errorf("refusing saved plan: %w", err))
			continue
		}
		plan := &Plan{}
		if err := json.Unmarshal(b, plan); err != nil || plan.Group == nil || plan.Group.Name+".plan.json" != filepath.Base(path) {
			errs = append(errs, fmt.Errorf("saved plan %s is damaged: %v", path, err))
			continue
		}
		if plan.Config == config {
			plans = append(plans, plan)
		}
	}
	return plans, errors.Join(errs...)
}

// EventLockTimeout bounds the wait for a group's event lock: it is held only
// for short, bounded work, so a longer wait means a stuck holder, and the
// caller (ucarp, keepalived) must not hang behind it.
const EventLockTimeout = 10 * time.Second

// LockEvent takes the group's event lock, waiting at most EventLockTimeout;
// the returned function releases it.
func (s *Store) LockEvent(group string) (func(), error) {
	return lock(s.path(group, ".event.lock"), EventLockTimeout)
}

// LockWork takes the group's worker lock, waiting for a running worker to
// finish.
func (s *Store) LockWork(group string) (func(), error) {
	return lock(s.path(group, ".work.lock"), 0)
}

// lock takes an exclusive flock on path, waiting at most timeout (0: as long
// as it takes).
func lock(path string, timeout time.Duration) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err = filesafe.WaitLock(ctx, f)
	if errors.Is(err, filesafe.ErrLockHeld) {
		err = fmt.Errorf("still held by another process after %v", timeout)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing releases the flock
}
