package sockd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// startState is what start resolved, kept in the resource's state file
// (under HA_RSCTMP) while the instance may run: monitor, reload and stop
// find the Dante that start started, even when the parameters would now
// resolve to other files (a default configuration that appeared, a binary
// symlink flipped by an upgrade).
type startState struct {
	// Params are sockd, sockd_config and sockd_pidfile as given (or
	// their defaults): the state describes the instance only while the
	// last two are unchanged.
	Params [3]string `json:"params"`
	// Binary and Exe are the binary's resolved path and identity.
	Binary string `json:"binary"`
	Exe    fileID `json:"exe"`
	// Config is the configuration path Dante was started with.
	Config string `json:"config"`
	// MntNS is the mount namespace Dante was started in.
	MntNS string `json:"mntns"`
	// Args are the sockd_args Dante was started with.
	Args []string `json:"args"`
}

// maxState bounds what is read of a state file, and what start may write:
// the largest record of parameters within their bounds (checkBounds), five
// paths and the arguments, every byte escaped as JSON may (\u00XX, six
// bytes), the separators of the words, and the rest of the record.
const maxState = 6*(5*maxPath+maxArgsSize) + 3*maxArgs + 512

// errStateTooLarge says a start's record would not fit maxState.
var errStateTooLarge = errors.New("the record of the start would exceed the state file's limit")

// params returns the location parameters as the state records them.
func (s settings) params() [3]string {
	return [3]string{s.given.binary, s.given.config, s.pidfile}
}

// loadState reads a state file; a missing one is nil and no error.
func loadState(path string) (*startState, error) {
	// Only root (or the agent's user) may have written a record the
	// agent acts on.
	b, more, err := filesafe.ReadOwned(path, syscall.O_NOFOLLOW, os.Geteuid(), maxState)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := decodeState(b)
	if more || err != nil {
		return nil, fmt.Errorf("state file %s is damaged", path)
	}
	return st, nil
}

// saveState writes a state file atomically, readable by root only.
func saveState(path string, st *startState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if len(b) > maxState {
		return fmt.Errorf("%w (%d bytes, at most %d)", errStateTooLarge, len(b), maxState)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".ocf-sockd-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// removeState removes a state file; a missing one is no error. unlink(2)
// never removes a directory.
func removeState(path string) error {
	if err := syscall.Unlink(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &fs.PathError{Op: "unlink", Path: path, Err: err}
	}
	return nil
}

// settingsFor reads the instance's parameters and, while the state file
// recorded by start matches them, takes the configuration path and binary
// identity start used. A changed sockd still matches: Pacemaker reloads
// on, and after a failed reload stops with, the new value, and the Dante
// started with the old binary must still be found.
func settingsFor(req *ocf.Request) settings {
	s := readSettings(req.Params)
	s.stateFile = req.StateFile("ocf-sockd")
	if err := req.StateDirSafe(); err != nil {
		// Anyone could have written a record there: the parameters
		// alone say what the instance is.
		req.Log.Warnf("ignoring any state of the last start: %v", err)
		s.stateDirErr = err
		return s
	}
	st, err := loadState(s.stateFile)
	if err != nil {
		req.Log.Warnf("ignoring the state of the last start: %v", err)
		s.stateErr, s.adopted = err, s.markedProcesses()
		return s
	}
	if p := s.params(); st != nil && st.Params[1] == p[1] && st.Params[2] == p[2] {
		s.config, s.started = st.Config, st
	}
	return s
}

// restartNeeded returns an error when sockd or sockd_args differ from
// what the running instance was started with: a reload (SIGHUP) rereads
// the configuration file only, and cannot switch binaries or arguments.
func (s settings) restartNeeded() error {
	switch st := s.started; {
	case st == nil:
	case st.Params[0] != s.given.binary:
		return ocf.Errorf(ocf.ErrGeneric, "sockd changed from %s to %s: Dante must be restarted to run the new binary", st.Params[0], s.given.binary)
	case !slices.Equal(st.Args, s.args):
		return ocf.Errorf(ocf.ErrGeneric, "sockd_args changed from %q to %q: Dante must be restarted to take them", strings.Join(st.Args, " "), strings.Join(s.args, " "))
	}
	return nil
}

// record returns the state of a start of these settings.
func (s settings) record() *startState {
	st := &startState{Params: s.params(), Config: s.config, Args: s.args}
	st.Binary = s.motherIdentity().exe
	st.Exe, _ = statID(s.binary)
	st.MntNS = ownNamespace("mnt")
	return st
}

// markedProcesses returns the live processes, in the agent's PID namespace
// and of its user, that carry this configuration's instance marker: the
// mothers whose -f names this very configuration file (as they see it),
// and, in the agent's mount namespace, any other. Only the agent starts a
// process with the marker, so they are what a start recorded in a state
// file that can no longer be read. Their executables stand in for the
// record's binary (motherIdentity), so that stop still ends them, and
// while they run the instance is in doubt (stateDoubt), never "not
// running". A container's Dante with a forged marker is none of them: its
// -f names another file, and it lives in another mount namespace.
func (s settings) markedProcesses() []Process {
	t, err := listProcesses(nil)
	if err != nil {
		return nil
	}
	configID, _ := statID(s.config)
	pidNS, mntNS, uid := ownNamespace("pid"), ownNamespace("mnt"), os.Getuid()
	var out []Process
	for _, p := range t.Procs {
		if p.Zombie() || p.Exe == "" || p.Marker != s.config || p.UID != uid || p.PidNS == "" || p.PidNS != pidNS {
			continue
		}
		mother := configArg(p.Cmdline) == s.config && (configID != fileID{}) && p.ConfigID == configID
		if mother || (p.MntNS != "" && p.MntNS == mntNS) {
			out = append(out, p)
		}
	}
	return out
}

// stateDoubt returns ErrGeneric while the state file of the last start
// cannot be read and processes that start marked still run: without the
// record the agent cannot tell whether they are the instance it would
// judge by the current parameters.
func (s settings) stateDoubt() error {
	if s.stateErr == nil || len(s.adopted) == 0 {
		return nil
	}
	return ocf.Errorf(ocf.ErrGeneric, "in doubt: %v, and processes %v started for %s still run; stop ends them", s.stateErr, pids(s.adopted), s.config)
}
