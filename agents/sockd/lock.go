package sockd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// errLockBusy says another action on the instance held its lock for
// longer than this one could wait.
var errLockBusy = errors.New("another action on this instance holds its lock")

// lockFileName returns the instance's lock file, next to its state file
// and named like it.
func lockFileName(stateFile string) string {
	return strings.TrimSuffix(stateFile, ".state") + ".lock"
}

// lockInstance takes the instance's lock, an exclusive flock on its lock
// file, so that two actions on one instance (an operator's crm_resource
// --force-start during Pacemaker's stop) run one after the other. It waits
// until ctx ends; the lock is released by the returned function, or when
// the agent exits. An error wraps errLockBusy when the lock was held by
// another action all along, and is the file's error otherwise.
func lockInstance(ctx context.Context, stateFile string) (func(), error) {
	path := lockFileName(stateFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0o600)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("lock file %s is not a regular file", path)
	}
	// A lock file another user owns or can write is theirs to hold
	// forever: it is never waited on.
	if err := filesafe.CheckOpened(path, f, os.Geteuid()); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock file refused: %w", err)
	}
	switch err := filesafe.WaitLock(ctx, f); {
	case err == nil:
		return func() { f.Close() }, nil // closing releases the flock
	case errors.Is(err, filesafe.ErrLockHeld):
		f.Close()
		return nil, fmt.Errorf("%w (%s)", errLockBusy, path)
	default:
		f.Close()
		return nil, err
	}
}

// lockRequest takes the lock of the request's instance (lockInstance),
// only in a HA_RSCTMP that others cannot write: there, nothing is created
// or waited on, and the error says why.
func lockRequest(ctx context.Context, req *ocf.Request) (func(), error) {
	if err := req.StateDirSafe(); err != nil {
		return nil, err
	}
	return lockInstance(ctx, req.StateFile("ocf-sockd"))
}
