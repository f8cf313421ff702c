package realserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ocfkit/ocfkit/internal/filesafe"
	"github.com/ocfkit/ocfkit/internal/resource"
)

// The shared state of every instance on this node lives in one directory
// (Dir, under $HA_RSCTMP, a tmpfs that is emptied on boot exactly when the
// addresses and sysctls it describes are gone): a lock file and state.json.
// Changes to it happen under an exclusive flock, so instances starting and
// stopping at once see each other.
//
// An address is the agent's when state.json lists it in Owned: start puts
// it there only when the address was absent and its own netlink request
// created it (EEXIST means someone else's). Stop removes an address only
// when it is owned and no other registered instance lists it.
//
// The kernel keeps a second, coarser record: every address the agent adds
// carries its protocol number (Protocol, IFA_PROTO). The mark tells the
// agent's addresses from everyone else's, not one instance's from
// another's (an address two instances list is added once, and 255 numbers
// cannot name instances). It is what is left when state.json cannot be
// read (damaged by hand, or truncated by a crash with HA_RSCTMP on a
// disk): the file is set aside and the agent goes on from an empty record,
// in which an instance's addresses are those of its parameters that carry
// the mark and that no registered instance lists (orphans). Stop removes
// them, monitor reports them, start adopts them as owned.

// State is state.json.
type State struct {
	// Instances maps an instance name to what it set up.
	Instances map[string]Instance `json:"instances"`
	// Owned lists the addresses the agent added, as "IFACE ADDR".
	Owned map[string]bool `json:"owned"`
	// Saved maps a sysctl file to the value it had before the agent
	// changed it, and the value the agent wrote.
	Saved map[string]SavedSysctl `json:"saved"`
}

// Instance is one registered instance.
type Instance struct {
	Interface string   `json:"interface"`
	Addresses []string `json:"addresses"`
	Sysctls   []string `json:"sysctls"`
	Restore   bool     `json:"restore"`
	// Token tells the start that registered the instance from any
	// other: each of its later steps checks it is still the one.
	Token string `json:"token,omitempty"`
}

// SavedSysctl is a sysctl the agent changed.
type SavedSysctl struct {
	Old string `json:"old"`
	Set string `json:"set"`
	// Restore is true once any instance registering the sysctl asked
	// for restore_sysctls: the last instance to leave restores it then,
	// whatever its own restore_sysctls.
	Restore bool `json:"restore,omitempty"`
	// Known lists, for a conf/default sysctl, the interfaces there
	// were when the agent changed it; those that appear later inherit
	// the agent's value and get the old one back with it.
	Known []string `json:"known,omitempty"`
}

func ownKey(iface, addr string) string { return iface + " " + addr }

// store is the shared state directory, locked.
type store struct {
	dir  string
	lock *os.File
}

// checkStateDir checks, creating nothing, that dir could be made the
// state directory: it is safe (only root or we can have written it or any
// directory above it), or it is missing and its nearest existing ancestor
// is a safe directory.
func checkStateDir(dir string) error {
	p := dir
	for {
		_, err := os.Lstat(p)
		if err == nil {
			break
		}
		parent := filepath.Dir(p)
		if !errors.Is(err, fs.ErrNotExist) || parent == p {
			return fmt.Errorf("state directory %s: %w", dir, err)
		}
		p = parent
	}
	if err := filesafe.CheckDir(p, os.Geteuid()); err != nil {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	return nil
}

// makeStateDir checks dir (checkStateDir) and only then creates it (0700).
func makeStateDir(dir string) error {
	if err := checkStateDir(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the state directory: %w", err)
	}
	return checkStateDir(dir)
}

// lockGap is how long a holder going on in chunks leaves the state lock
// free between them, so that a waiter (trying every filesafe.LockPoll)
// gets its turn: flock hands the lock to no one in particular.
const lockGap = 3 * filesafe.LockPoll

// openStore checks the state directory dir, which must exist, and takes
// its lock, waiting until ctx ends.
func openStore(ctx context.Context, dir string) (*store, error) {
	if err := filesafe.CheckDir(dir, os.Geteuid()); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the state lock: %w", err)
	}
	switch err := filesafe.WaitLock(ctx, f); {
	case err == nil:
		return &store{dir: dir, lock: f}, nil
	case errors.Is(err, filesafe.ErrLockHeld):
		f.Close()
		return nil, fmt.Errorf("waiting for the state lock (another instance holds it): %w", ctx.Err())
	default:
		f.Close()
		return nil, fmt.Errorf("locking the state: %w", err)
	}
}

// Close releases the lock.
func (s *store) Close() error { return s.lock.Close() }

func (s *store) path() string { return filepath.Join(s.dir, "state.json") }

// maxStateSize bounds state.json: 16,384 addresses of many instances fit
// many times over.
const maxStateSize = 64 << 20

// emptyState returns the state of a node where nothing is registered.
func emptyState() *State {
	return &State{Instances: map[string]Instance{}, Owned: map[string]bool{}, Saved: map[string]SavedSysctl{}}
}

// unreadable reports whether err, from load, means that the state cannot
// be read whoever asks (damaged: not JSON, too large, not a regular file),
// rather than that this user may not read it or that the node was short
// of a resource (transient).
func unreadable(err error) bool {
	return err != nil && !errors.Is(err, fs.ErrPermission) && !transient(err)
}

// transient reports whether err is the node running short of file
// descriptors or memory: a later read of the same file may well succeed,
// so it says nothing about the file, which must not be set aside for it.
func transient(err error) bool {
	return resource.Short(err) || errors.Is(err, syscall.EINTR)
}

// load reads the state; a missing file is the empty state.
func (s *store) load() (*State, error) {
	st := emptyState()
	b, err := filesafe.ReadFile(s.path(), os.Geteuid(), maxStateSize)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the state: %w", err)
	}
	return decodeState(b, s.path())
}

// decodeState parses state.json (named path in errors).
func decodeState(b []byte, path string) (*State, error) {
	st := emptyState()
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	if st.Instances == nil {
		st.Instances = map[string]Instance{}
	}
	if st.Owned == nil {
		st.Owned = map[string]bool{}
	}
	if st.Saved == nil {
		st.Saved = map[string]SavedSysctl{}
	}
	return st, nil
}

// setAside moves an unreadable state.json out of the way, to
// state.json.unreadable (replacing an earlier one), for the administrator
// to look at, and returns where it went. An earlier one that cannot be
// removed (made immutable, or holding a mount point) stays, and this one
// goes beside it under a name of its own: no stop fails for it.
func (s *store) setAside() (string, error) {
	aside := s.path() + ".unreadable"
	if err := os.RemoveAll(aside); err != nil {
		aside = fmt.Sprintf("%s.%d", aside, time.Now().UnixNano())
	}
	if err := os.Rename(s.path(), aside); err != nil {
		return "", fmt.Errorf("setting the unreadable state aside: %w", err)
	}
	return aside, nil
}

// save writes the state atomically.
func (s *store) save(st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path() + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing the state: %w", err)
	}
	if err := os.Rename(tmp, s.path()); err != nil {
		return fmt.Errorf("writing the state: %w", err)
	}
	return nil
}
