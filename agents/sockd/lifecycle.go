package sockd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/filesafe"
	"github.com/ocfkit/ocfkit/internal/oneline"
)

const (
	sigHUP  = syscall.SIGHUP
	sigTERM = syscall.SIGTERM
	sigKILL = syscall.SIGKILL
	sigCONT = syscall.SIGCONT
)

// signal sends sig to a process; a process that is already gone is not an
// error.
func signal(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// pollInterval is how often the agent looks again while it waits.
const pollInterval = 20 * time.Millisecond

// waitUntil calls cond until it returns nil, ctx ends, or cond returns an
// error wrapped in stopWaiting; it returns the last error.
func waitUntil(ctx context.Context, cond func() error) error {
	for {
		err := cond()
		var stop stopWaiting
		if err == nil || errors.As(err, &stop) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pollInterval):
		}
	}
}

// stopWaiting wraps an error that ends a wait at once.
type stopWaiting struct{ error }

func (s stopWaiting) Unwrap() error { return s.error }

// daemonEnv is the environment Dante runs with: nothing of the cluster's.
var daemonEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}

// verifyConfig runs Dante's own check of the configuration (sockd -V).
func verifyConfig(ctx context.Context, s settings, cfg *Config) error {
	log := followLog(cfg)
	cmd := exec.CommandContext(ctx, s.binary, "-V", "-f", s.config)
	cmd.Env = daemonEnv
	cmd.Dir = "/"
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%s -V -f %s did not finish in time", s.binary, s.config)
	}
	reason := strings.TrimSpace(out.String())
	if reason == "" {
		reason = log.reason()
	}
	// Dante names the file in its message; the reason leads with the
	// problem, since Pacemaker shows only its start.
	reason = strings.ReplaceAll(oneline.Fold(reason), s.config+": ", "")
	return ocf.Errorf(ocf.ErrConfigured, "danted -V: %s (%s, %v)", reason, s.config, err)
}

// Start starts Dante fully detached and returns once every internal
// address answers SOCKS5 method negotiation.
func Start(ctx context.Context, req *ocf.Request) error {
	// A record others could have written is never trusted: no start
	// where it would be kept.
	if err := req.StateDirSafe(); err != nil {
		return ocf.Errorf(ocf.ErrInstalled, "%v; Dante not started", err)
	}
	unlock, err := lockRequest(ctx, req)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "cannot start Dante: %w", err)
	}
	defer unlock()
	_, err = settingsFor(req).status()
	switch {
	case err == nil:
		req.Log.Infof("Dante is already running")
		return nil
	case ocf.CodeOf(err) == ocf.NotRunning || errors.Is(err, errForeignPidfile):
	default:
		return ocf.Errorf(ocf.ErrGeneric, "cannot start over a damaged instance: %w", err)
	}
	// Nothing of the last start runs: the paths are resolved afresh,
	// and recorded for the actions that follow.
	s := readSettings(req.Params)
	s.stateFile = req.StateFile("ocf-sockd")
	cfg, err := validate(ctx, req, s)
	if err != nil {
		return err
	}
	if err := removePidfile(s.pidfile); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "removing stale pidfile: %w", err)
	}
	s.started = s.record()
	// Without its record, a later action could lose the Dante started
	// here (a flipped binary symlink): no start without it.
	if err := saveState(s.stateFile, s.started); err != nil {
		code := ocf.ErrGeneric
		if errors.Is(err, errStateTooLarge) {
			code = ocf.ErrConfigured
		}
		return ocf.Errorf(code, "cannot record the start in %s: %w; Dante not started", s.stateFile, err)
	}
	log := followLog(cfg)
	args := append([]string{"-D", "-f", s.config, "-p", s.pidfile}, s.args...)
	cmd := exec.CommandContext(ctx, s.binary, args...)
	// The marker lets a later scan prove that a child whose mother died
	// is this instance's.
	cmd.Env = append(slices.Clip(daemonEnv), instanceMarker+"="+s.config)
	cmd.Dir = "/"
	// A new session, stdio on /dev/null (exec's default for nil) and no
	// inherited descriptors (Go opens every file close-on-exec).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	started := time.Now()
	if err := cmd.Run(); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "starting %s: %v: %s", s.describe(), err, log.reason())
	}
	targets, err := resolveEndpoints(ctx, cfg.Internal)
	if err != nil {
		return resolveError(ctx, err)
	}
	var endpoints []netip.AddrPort
	err = waitUntil(ctx, func() error {
		mothers, err := s.status()
		if err != nil {
			if ocf.CodeOf(err) == ocf.NotRunning && len(log.problems()) > 0 {
				return stopWaiting{fmt.Errorf("Dante exited")}
			}
			return err
		}
		if endpoints, err = boundEndpoints(targets, mothers); err != nil {
			return err
		}
		return answersNegotiation(ctx, endpoints)
	})
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "Dante did not become ready: %v; %s", err, log.reason())
	}
	req.Log.Infof("Dante started and answers on %v in %v", endpoints, time.Since(started).Round(time.Millisecond))
	return nil
}

// Stop ends every process of the instance: SIGTERM first (with SIGCONT, so
// stopped processes can act on it), then SIGKILL to the processes and their
// process groups, in time for the operation's timeout. It succeeds only
// when nothing of the instance is left.
func Stop(ctx context.Context, req *ocf.Request) error {
	// Stop waits for another action's lock at most half its time, then
	// goes on without it: a stop never fails for a lock, and ends what
	// runs whoever holds it.
	lockCtx, cancel := context.WithTimeout(ctx, timeLeft(ctx)/2)
	unlock, err := lockRequest(lockCtx, req)
	cancel()
	if err != nil {
		req.Log.Warnf("stopping without the instance's lock: %v", err)
	} else {
		defer unlock()
	}
	st := &stopper{settings: settingsFor(req), groups: map[int]bool{}}
	m, err := st.scan()
	if err != nil {
		return err
	}
	if err := m.inDoubt(); err != nil {
		return err
	}
	if len(m.All) > 0 {
		req.Log.Infof("stopping Dante processes %v", pids(m.All))
		for _, p := range m.All {
			_ = signal(p.PID, sigTERM)
			_ = signal(p.PID, sigCONT)
		}
		// Give SIGTERM half of the time left, at most 5 s; the rest is for
		// SIGKILL and for making sure.
		grace := 5 * time.Second
		if dl, ok := ctx.Deadline(); ok && time.Until(dl)/2 < grace {
			grace = time.Until(dl) / 2
		}
		graceCtx, cancel := context.WithTimeout(ctx, grace)
		err = waitUntil(graceCtx, st.gone)
		cancel()
		if err != nil {
			req.Log.Warnf("Dante did not stop on SIGTERM: %v; sending SIGKILL", err)
			if err := waitUntil(ctx, st.kill); err != nil {
				return ocf.Errorf(ocf.ErrGeneric, "Dante processes survive SIGKILL: %w", err)
			}
		}
	}
	// Nothing of the instance runs: a pidfile that cannot be removed is
	// only untidy, and never fails the stop.
	if err := removePidfile(st.pidfile); err != nil {
		req.Log.Warnf("leaving pidfile %s: %v", st.pidfile, err)
	}
	if st.stateDirErr != nil {
		// Nothing is touched in a directory others can write.
	} else if err := removeState(st.stateFile); err != nil {
		req.Log.Warnf("leaving state file: %v", err)
	}
	return nil
}

// timeLeft returns the time until ctx's deadline, a minute without one.
func timeLeft(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl)
	}
	return time.Minute
}

// removePidfile removes a pidfile that is a regular file holding a PID or
// nothing, or a symlink (the link itself, not its target), and nothing
// else: never a directory, a device such as /dev/null, a named pipe or a
// file with other content. A missing file is no error.
func removePidfile(path string) error {
	if !filepath.IsAbs(path) {
		// Relative to wherever the agent runs: not the file Dante wrote.
		return fmt.Errorf("%q is not an absolute path; nothing removed", path)
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !fi.Mode().IsRegular() && fi.Mode()&fs.ModeSymlink == 0:
		return fmt.Errorf("%s is not a regular file (%s); left alone", path, filesafe.TypeName(fi.Mode()))
	case fi.Mode().IsRegular():
		// A file that holds anything but a PID is not Dante's pidfile
		// (sockd_pidfile=/etc/passwd): never removed.
		if _, err := readPidfile(path); err != nil {
			return fmt.Errorf("%w; left alone", err)
		}
	}
	// unlink(2) never removes a directory, should one appear meanwhile.
	if err := syscall.Unlink(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &fs.PathError{Op: "unlink", Path: path, Err: err}
	}
	return nil
}

// stopper scans for an instance's processes while it stops, remembering
// their process groups: a mother that exits truncates its pidfile, and its
// children may outlive it for a moment (or, stopped, for ever).
type stopper struct {
	settings
	groups map[int]bool
}

func (st *stopper) scan() (members, error) {
	known := make([]int, 0, len(st.groups))
	for g := range st.groups {
		known = append(known, g)
	}
	m, err := st.settings.scan(known...)
	for _, p := range m.All {
		st.groups[p.PGID] = true
	}
	return m, err
}

// gone returns nil when no process of the instance is left.
func (st *stopper) gone() error {
	m, err := st.scan()
	if err != nil {
		return err
	}
	if len(m.All) > 0 {
		return fmt.Errorf("processes %v remain", pids(m.All))
	}
	return nil
}

// kill sends SIGKILL to every process of the instance and to the process
// groups its mothers lead, and returns nil when none is left.
func (st *stopper) kill() error {
	m, err := st.scan()
	if err != nil {
		return err
	}
	for _, p := range m.All {
		_ = signal(p.PID, sigKILL)
	}
	for _, p := range m.Mothers {
		// Every Dante process of this instance shares its mother's group.
		if p.PGID == p.PID {
			_ = signal(-p.PGID, sigKILL)
		}
	}
	return st.gone()
}
