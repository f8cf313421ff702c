// Package sockd is the OCF resource agent for the Dante SOCKS server,
// ocf:dante:sockd: a drop-in for the vendor's agent with the same
// parameters, correct where process-only agents are weak (stale pidfiles,
// PID reuse, several mother processes, stopped children, timeouts), and
// with deep monitoring that proves the proxy relays.
package sockd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/checkstyle"
	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// Agent returns the ocf-sockd program.
func Agent() *ocf.Agent {
	return &ocf.Agent{
		Name:    "sockd",
		Program: "ocf-sockd",
		Actions: map[string]ocf.Handler{
			"start":        Start,
			"stop":         Stop,
			"monitor":      Monitor,
			"reload":       Reload,
			"validate-all": ValidateAll,
		},
		Commands:   []*cli.Command{checkCommand()},
		CommandFor: checkstyle.CommandFor("check"),
	}
}

// The defaults used when a parameter is not set and the meta-data default
// does not exist on this machine (Debian's names).
const (
	debianBinary = "/usr/sbin/danted"
	debianConfig = "/etc/danted.conf"
)

// settings are an instance's parameters, with paths resolved.
type settings struct {
	binary, config, pidfile string
	args                    []string
	// unset names the location parameters left to their defaults, for
	// messages: outside a cluster a missing parameter is the usual cause
	// of "not running".
	unset []string
	// given are sockd and sockd_config as set, or their defaults, before
	// the fallbacks.
	given struct{ binary, config string }
	// stateFile is where start records what it resolved, and started
	// that record while it describes this instance (see settingsFor).
	stateFile string
	started   *startState
	// stateErr is why the state file could not be read (nil when it was,
	// or is missing), and adopted the processes that stand in for its
	// record meanwhile (see markedProcesses).
	stateErr error
	// stateDirErr is why HA_RSCTMP cannot be trusted (others can write
	// it): no state there is read, written or removed.
	stateDirErr error
	adopted     []Process
}

// readSettings reads the parameters that locate the instance.
func readSettings(p *ocf.Params) settings {
	s := settings{
		binary:  withFallback(p, "sockd", debianBinary),
		config:  withFallback(p, "sockd_config", debianConfig),
		pidfile: p.String("sockd_pidfile"),
		args:    strings.Fields(p.String("sockd_args")),
	}
	s.given.binary, s.given.config = p.String("sockd"), p.String("sockd_config")
	if abs, err := filepath.Abs(s.config); err == nil {
		s.config = abs
	}
	for _, name := range []string{"sockd", "sockd_config", "sockd_pidfile"} {
		if !p.IsSet(name) {
			s.unset = append(s.unset, name)
		}
	}
	return s
}

// assumed says which location parameters were not set and what was
// assumed for them, "" when all were set.
func (s settings) assumed() string {
	if len(s.unset) == 0 {
		return ""
	}
	value := map[string]string{"sockd": s.binary, "sockd_config": s.config, "sockd_pidfile": s.pidfile}
	var parts []string
	for _, name := range s.unset {
		parts = append(parts, fmt.Sprintf("%s=%s", name, value[name]))
	}
	return fmt.Sprintf("OCF_RESKEY_%s not set, assumed %s", strings.Join(s.unset, ", OCF_RESKEY_"), strings.Join(parts, " "))
}

// withAssumptions adds to a "not running" or "not installed" error what
// was assumed for unset parameters.
func (s settings) withAssumptions(err error) error {
	if a := s.assumed(); a != "" && err != nil {
		return ocf.Errorf(ocf.CodeOf(err), "%w (%s)", err, a)
	}
	return err
}

// withFallback returns a path parameter; when it was not set and its
// default does not exist, the fallback is used.
func withFallback(p *ocf.Params, name, fallback string) string {
	v := p.String(name)
	if p.IsSet(name) {
		return v
	}
	if _, err := os.Stat(v); err != nil {
		if _, err := os.Stat(fallback); err == nil {
			return fallback
		}
	}
	return v
}

// instance returns the process identity of the instance: the binary's
// file and the configuration's, now and as start recorded them, and the
// agent's namespaces. The binary is resolved through symlinks, because
// /proc shows the real file.
func (s settings) instance() instance {
	in := s.motherIdentity()
	in.mntNS = []string{ownNamespace("mnt")}
	if st := s.started; st != nil {
		in.mntNS = append(in.mntNS, st.MntNS)
	}
	return in
}

// motherIdentity is instance without the mount namespaces, which only
// marked processes are judged by (instance.isMarked): enough for
// instance.isMother, and one look into /proc less for the depth-0 fast
// path.
func (s settings) motherIdentity() instance {
	exe, err := filepath.EvalSymlinks(s.binary)
	if err != nil {
		exe = s.binary
	}
	in := instance{exe: exe, exes: []string{exe}, config: s.config}
	if id, err := statID(s.binary); err == nil {
		in.exeIDs = append(in.exeIDs, id)
	}
	in.configID, _ = statID(s.config)
	in.pidNS = ownNamespace("pid")
	in.uid = os.Getuid()
	if st := s.started; st != nil {
		in.exes = append(in.exes, st.Binary)
		if (st.Exe != fileID{}) {
			in.exeIDs = append(in.exeIDs, st.Exe)
		}
	}
	for _, p := range s.adopted {
		in.exes = append(in.exes, p.Exe)
		if (p.ExeID != fileID{}) {
			in.exeIDs = append(in.exeIDs, p.ExeID)
		}
	}
	return in
}

// mothersWanted returns the number of mother processes -N asks for.
func (s settings) mothersWanted() int {
	if f, err := parseDanteArgs(s.args); err == nil {
		return f.mothers
	}
	return 1
}

// danteOptions is Dante's getopt option string, over the 1.4 releases
// (sockd.c): the letters followed by ':' take a value, in the same word
// or the next.
const danteOptions = "DLN:Vd:f:hlnp:v"

// agentOwned are Dante's flags the agent sets or that would break its
// control of the process, and why.
var agentOwned = map[byte]string{
	'D': "the agent sets it",
	'f': "the agent sets it from sockd_config",
	'p': "the agent sets it from sockd_pidfile",
	'V': "it makes Dante only check its configuration",
	'L': "it makes Dante print its licence and exit",
	'h': "it makes Dante print its usage and exit",
	'v': "it makes Dante print its version and exit",
}

// danteFlags are what the agent needs from sockd_args.
type danteFlags struct {
	mothers int
}

// parseDanteArgs reads sockd_args the way Dante's getopt(3) does, clusters
// such as -nf FILE included, and rejects a flag the agent owns, an unknown
// flag, a missing value and a bad -N.
func parseDanteArgs(args []string) (danteFlags, error) {
	f := danteFlags{mothers: 1}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue // glibc's getopt permutes: options may follow operands
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			k := strings.IndexByte(danteOptions, c)
			if c == ':' || k < 0 {
				return f, fmt.Errorf("sockd_args: %q: Dante has no flag -%c", a, c)
			}
			if why, owned := agentOwned[c]; owned {
				return f, fmt.Errorf("sockd_args must not contain -%c (in %q): %s", c, a, why)
			}
			if k+1 == len(danteOptions) || danteOptions[k+1] != ':' {
				continue
			}
			value := a[j+1:]
			if value == "" {
				if i+1 == len(args) {
					return f, fmt.Errorf("sockd_args: -%c needs a value", c)
				}
				i++
				value = args[i]
			}
			if c == 'N' {
				n, err := strconv.Atoi(value)
				if err != nil || n < 1 || n > maxMothers {
					return f, fmt.Errorf("sockd_args: -N %q is not a number of mother processes from 1 to %d", value, maxMothers)
				}
				f.mothers = n
			}
			break
		}
	}
	return f, nil
}

// maxMothers bounds -N: more mother processes than any host needs is a
// mistake.
const maxMothers = 1024

// checkInstalled returns ErrInstalled unless the binary is an executable
// file.
func (s settings) checkInstalled() error {
	if !filepath.IsAbs(s.binary) {
		return ocf.Errorf(ocf.ErrConfigured, "sockd=%q is not an absolute path", s.binary)
	}
	fi, err := os.Stat(s.binary)
	if err != nil {
		return ocf.Errorf(ocf.ErrInstalled, "Dante binary %s: %w", s.binary, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return ocf.Errorf(ocf.ErrInstalled, "Dante binary %s is not executable", s.binary)
	}
	return nil
}

// checkPresent returns ErrInstalled without an executable binary and
// ErrConfigured without a readable configuration file or with an unusable
// pidfile path.
func (s settings) checkPresent() error {
	if err := s.checkInstalled(); err != nil {
		return err
	}
	if err := s.checkPidfile(); err != nil {
		return err
	}
	f, err := filesafe.OpenRegular(s.config, 0)
	if err != nil {
		return ocf.Errorf(ocf.ErrConfigured, "configuration: %w", err)
	}
	return f.Close()
}

// loadConfig reads the configuration file and checks what the agent needs
// of it; failures are ErrConfigured.
func (s settings) loadConfig() (*Config, error) {
	cfg, err := ParseConfigFile(s.config)
	if err != nil {
		return nil, ocf.Errorf(ocf.ErrConfigured, "configuration %w", err)
	}
	if len(cfg.Internal) == 0 {
		return nil, ocf.Errorf(ocf.ErrConfigured, "configuration %s has no internal: address", s.config)
	}
	if len(cfg.External) == 0 {
		return nil, ocf.Errorf(ocf.ErrConfigured, "configuration %s has no external: address, which Dante requires", s.config)
	}
	return cfg, nil
}

// Bounds of the parameters start records (see maxState): a path longer
// than PATH_MAX less its terminating NUL cannot name a file, and Dante's
// dozen flags never need more than a few words.
const (
	maxPath     = 4095
	maxArgs     = 64
	maxArgsSize = 1024
)

// checkBounds rejects, with ErrConfigured, a path parameter longer than
// PATH_MAX and sockd_args of more than maxArgs words or maxArgsSize bytes:
// what start records of them must fit the state file the later actions
// read back.
func (s settings) checkBounds() error {
	paths := []struct{ name, value string }{
		{"sockd", s.given.binary}, {"sockd", s.binary}, {"sockd_config", s.given.config},
		{"sockd_config", s.config}, {"sockd_pidfile", s.pidfile},
	}
	for _, p := range paths {
		if len(p.value) > maxPath {
			return ocf.Errorf(ocf.ErrConfigured, "%s is %d bytes long, more than PATH_MAX allows (%d)", p.name, len(p.value), maxPath)
		}
	}
	if n := len(s.args); n > maxArgs {
		return ocf.Errorf(ocf.ErrConfigured, "sockd_args has %d words, more than %d", n, maxArgs)
	}
	if n := len(strings.Join(s.args, " ")); n > maxArgsSize {
		return ocf.Errorf(ocf.ErrConfigured, "sockd_args is %d bytes long, more than %d", n, maxArgsSize)
	}
	return nil
}

// checkArgs rejects sockd_args that would break the agent's control of the
// process.
func (s settings) checkArgs() error {
	if _, err := parseDanteArgs(s.args); err != nil {
		return ocf.WithCode(ocf.ErrConfigured, err)
	}
	return nil
}

// checkPidfile rejects a pidfile path the agent could not judge: relative,
// or naming something other than a regular file (a directory, a device, a
// symlink, through which Dante would write as root).
func (s settings) checkPidfile() error {
	if !filepath.IsAbs(s.pidfile) {
		return ocf.Errorf(ocf.ErrConfigured, "sockd_pidfile=%q is not an absolute path", s.pidfile)
	}
	fi, err := os.Lstat(s.pidfile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return ocf.Errorf(ocf.ErrConfigured, "sockd_pidfile: %w", err)
	case !fi.Mode().IsRegular():
		return ocf.Errorf(ocf.ErrConfigured, "sockd_pidfile %s is not a regular file (%s)", s.pidfile, filesafe.TypeName(fi.Mode()))
	}
	return nil
}

// checkPidfileWritable rejects, before a start, a pidfile Dante could not
// write (its directory does not exist) or should not: Dante truncates its
// pidfile, so a file holding anything but a PID (sockd_pidfile=/etc/passwd)
// is refused, not overwritten.
func (s settings) checkPidfileWritable() error {
	if fi, err := os.Stat(filepath.Dir(s.pidfile)); err != nil || !fi.IsDir() {
		return ocf.Errorf(ocf.ErrConfigured, "directory of sockd_pidfile %s does not exist", s.pidfile)
	}
	if _, err := readPidfile(s.pidfile); err != nil {
		return ocf.Errorf(ocf.ErrConfigured, "%w: Dante would overwrite it", err)
	}
	return nil
}

// scan reads the process table and the pidfile and returns the instance's
// processes; knownGroups are process groups found by earlier scans.
func (s settings) scan(knownGroups ...int) (members, error) {
	pid, err := readPidfile(s.pidfile)
	if err != nil {
		pid = 0 // an unreadable pidfile is judged below from the processes
	}
	in := s.instance()
	t, err := listProcesses(&in)
	if err != nil {
		return members{}, ocf.WithCode(ocf.ErrGeneric, err)
	}
	m := in.find(t.Procs, slices.DeleteFunc(knownGroups, func(g int) bool { return in.ledElsewhere(g) })...)
	m.Pidfile, m.Hidden = pid, t.Hidden
	return m, nil
}

// status is the depth-0 check: the instance's processes exist and agree
// with the pidfile. It returns the mother processes and nil when running,
// NotRunning when cleanly stopped, and ErrGeneric when in doubt.
func (s settings) status() ([]Process, error) {
	if err := s.stateDoubt(); err != nil {
		return nil, err
	}
	// The common case needs no scan of the process table: the pidfile
	// names the one live mother of this binary and configuration.
	in := s.motherIdentity()
	if pid, err := readPidfile(s.pidfile); err == nil && pid > 0 && s.mothersWanted() == 1 {
		p, err := readIdentity(pid, &in)
		if err == nil && in.isMother(p) {
			return []Process{p}, nil
		}
		if errors.Is(err, errHidden) {
			return nil, hiddenError(1)
		}
	}
	m, err := s.scan()
	if err != nil {
		return nil, err
	}
	if err := m.inDoubt(); err != nil {
		return nil, err
	}
	switch {
	case len(m.All) == 0 && m.Pidfile == 0:
		return nil, ocf.Errorf(ocf.NotRunning, "Dante is not running")
	case len(m.All) == 0:
		return nil, s.stalePidfile(m.Pidfile)
	case len(m.Mothers) == 0:
		return nil, ocf.Errorf(ocf.ErrGeneric, "no Dante mother process for %s, but %d of its processes remain: %v", s.config, len(m.All), pids(m.All))
	case m.Pidfile == 0:
		return nil, ocf.Errorf(ocf.ErrGeneric, "Dante runs (PIDs %v) but pidfile %s is missing or empty", pids(m.Mothers), s.pidfile)
	case !containsPID(m.Mothers, m.Pidfile):
		return nil, ocf.Errorf(ocf.ErrGeneric, "pidfile %s names PID %d, which is not a Dante mother process of %s (mothers: %v)", s.pidfile, m.Pidfile, s.config, pids(m.Mothers))
	case len(m.Mothers) < s.mothersWanted():
		return nil, ocf.Errorf(ocf.ErrGeneric, "only %d of %d Dante mother processes run (PIDs %v)", len(m.Mothers), s.mothersWanted(), pids(m.Mothers))
	}
	return m.Mothers, nil
}

// errForeignPidfile marks a pidfile that names another configuration's
// Dante: in doubt for a monitor, but no obstacle to a start, which replaces
// the pidfile (the PID may have been reused).
var errForeignPidfile = errors.New("the pidfile may be stale")

// stalePidfile judges a pidfile naming no process of the instance: not
// running, unless it names a live Dante mother of this binary with another
// configuration, which may be this resource's instance started with other
// paths (by another version of the agent): in doubt then, never "stopped".
func (s settings) stalePidfile(pid int) error {
	in := s.instance()
	if p, err := readProcess(pid, &in); err == nil && in.isForeignMother(p) {
		return ocf.Errorf(ocf.ErrGeneric, "pidfile %s names PID %d, a Dante mother process of %s, not of %s: %w", s.pidfile, pid, configArg(p.Cmdline), s.config, errForeignPidfile)
	}
	return ocf.Errorf(ocf.NotRunning, "Dante is not running (stale pidfile %s names PID %d)", s.pidfile, pid)
}

func containsPID(procs []Process, pid int) bool {
	for _, p := range procs {
		if p.PID == pid {
			return true
		}
	}
	return false
}

// ValidateAll checks the installation and the configuration, including
// Dante's own check of the file (sockd -V).
func ValidateAll(ctx context.Context, req *ocf.Request) error {
	s := readSettings(req.Params)
	_, err := validate(ctx, req, s)
	return err
}

// validate is validate-all, returning the parsed configuration for start.
func validate(ctx context.Context, req *ocf.Request, s settings) (*Config, error) {
	if err := s.checkBounds(); err != nil {
		return nil, err
	}
	if err := s.checkInstalled(); err != nil {
		return nil, err
	}
	if err := s.checkArgs(); err != nil {
		return nil, err
	}
	if err := s.checkPidfile(); err != nil {
		return nil, err
	}
	if err := s.checkPidfileWritable(); err != nil {
		return nil, err
	}
	cfg, err := s.loadConfig()
	if err != nil {
		return nil, err
	}
	if _, err := readCheckSettings(req); err != nil {
		return nil, err
	}
	if err := verifyConfig(ctx, s, cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Monitor checks the instance at the requested depth. Depth 0 needs only
// the paths; the configuration is read for the deeper checks.
func Monitor(ctx context.Context, req *ocf.Request) error {
	unlock, err := lockRequest(ctx, req)
	switch {
	case errors.Is(err, errLockBusy):
		return ocf.Errorf(ocf.ErrGeneric, "cannot check Dante: %w", err)
	case err != nil:
		req.Log.Warnf("checking without the instance's lock: %v", err)
	default:
		defer unlock()
	}
	s := settingsFor(req)
	if err := s.stateDoubt(); err != nil {
		return err
	}
	if a := s.assumed(); a != "" && req.Probe {
		// A probe's "not running" carries no exit reason: say it here.
		req.Log.Infof("%s", a)
	}
	if err := s.checkPresent(); err != nil {
		err = s.withAssumptions(err)
		if req.Probe {
			return ocf.WithCode(ocf.NotRunning, err)
		}
		return err
	}
	mothers, err := s.status()
	if err != nil || Depth(req.Depth) == DepthProcess {
		return s.withAssumptions(err)
	}
	cfg, err := s.loadConfig()
	if err != nil {
		return err
	}
	return deepCheck(ctx, req, cfg, mothers)
}

// Reload validates the configuration and sends SIGHUP to the mother
// processes, which reread it.
func Reload(ctx context.Context, req *ocf.Request) error {
	unlock, err := lockRequest(ctx, req)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "cannot reload Dante: %w", err)
	}
	defer unlock()
	s := settingsFor(req)
	if _, err := validate(ctx, req, s); err != nil {
		return err
	}
	mothers, err := s.status()
	if err != nil {
		return err
	}
	if err := s.restartNeeded(); err != nil {
		return err
	}
	for _, p := range mothers {
		if err := signal(p.PID, sigHUP); err != nil {
			return ocf.Errorf(ocf.ErrGeneric, "reloading Dante (PID %d): %w", p.PID, err)
		}
	}
	req.Log.Infof("sent SIGHUP to Dante mother processes %v", pids(mothers))
	return nil
}

// describe names the instance in messages.
func (s settings) describe() string {
	return fmt.Sprintf("%s -f %s", s.binary, s.config)
}
