package dnsfailover

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/ocfkit/ocfkit/internal/atomicfile"
	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// maxState bounds the state file read.
const maxState = 16 << 20

// State is what persists between rounds (and between runs of `once`).
type State struct {
	mu     sync.Mutex
	Rounds int `json:"rounds"`
	// EarlyChecks counts the partial rounds that ended watches caused.
	EarlyChecks int                     `json:"early_checks,omitempty"`
	Updated     time.Time               `json:"updated"`
	Members     map[string]*MemberState `json:"members"`
	Primaries   map[string]string       `json:"primaries"` // "" = in line
	Kept        map[string][]string     `json:"kept,omitempty"`
}

// MemberState is one member's rise/fall state.
type MemberState struct {
	Known       bool      `json:"known"`
	Up          bool      `json:"up"`
	OK          int       `json:"ok"`
	Fail        int       `json:"fail"`
	LastError   string    `json:"last_error,omitempty"`
	LastRestart time.Time `json:"last_restart,omitzero"`
	Restarts    int       `json:"restarts,omitempty"`
}

func newState() *State {
	return &State{Members: map[string]*MemberState{}, Primaries: map[string]string{}, Kept: map[string][]string{}}
}

func (s *State) member(k string) *MemberState {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.Members[k]
	if m == nil {
		m = &MemberState{}
		s.Members[k] = m
	}
	return m
}

func (s *State) setPrimary(srv string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.Primaries[srv] = ""
	} else {
		s.Primaries[srv] = err.Error()
	}
}

func (s *State) setKept(r *Record, keep []netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(keep) == 0 {
		delete(s.Kept, recordKey(r))
		return
	}
	var l []string
	for _, a := range keep {
		l = append(l, a.String())
	}
	s.Kept[recordKey(r)] = l
}

// loadState reads the state file; a missing one is a fresh state.
func loadState(path string) (*State, error) {
	data, err := filesafe.ReadFile(path, os.Geteuid(), maxState)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("refusing state file: %w", err)
	}
	s := newState()
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if s.Members == nil {
		s.Members = map[string]*MemberState{}
	}
	if s.Primaries == nil {
		s.Primaries = map[string]string{}
	}
	if s.Kept == nil {
		s.Kept = map[string][]string{}
	}
	for k, m := range s.Members {
		if m == nil {
			delete(s.Members, k)
		}
	}
	return s, nil
}

// save writes the state file atomically (0600; the directory is made).
func (s *State) save(path string) error {
	s.mu.Lock()
	data, err := json.MarshalIndent(s, "", "  ")
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return atomicfile.Write(path, append(data, '\n'), 0o600)
}

// keys returns the member keys in order.
func (s *State) keys() []string {
	var k []string
	for n := range s.Members {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

// ErrBusy is returned when another dns-failover holds the state file.
var ErrBusy = errors.New("another dns-failover run holds the state file")

// lockState takes an exclusive lock on STATE.lock (made 0600, its
// directory 0755 if missing), so that two runs (cron overlapping, run and
// once) never interleave their rounds; unlock releases it.
func lockState(path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	f, err := filesafe.OpenLock(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("state lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrBusy)
	}
	return func() { f.Close() }, nil
}
