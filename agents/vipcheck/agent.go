// Package vipcheck is ocf-vipcheck: the OCF resource agent
// ocf:ocfkit:vipcheck, which probes LVS direct-routing real servers through
// the VIP and publishes how many are healthy as a node attribute (in the
// manner of ocf:pacemaker:ping), and the drop-in checks for keepalived
// (check_tcp_raw's and check_http_raw's command lines), ldirectord, relayd
// and Nagios.
package vipcheck

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/atomicfile"
	"github.com/ocfkit/ocfkit/internal/duration"
	"github.com/ocfkit/ocfkit/internal/filesafe"
	"github.com/ocfkit/ocfkit/probe/l7"
	"github.com/ocfkit/ocfkit/probe/leak"
)

// Agent returns the ocf-vipcheck program.
func Agent() *ocf.Agent {
	return &ocf.Agent{
		Name:    "vipcheck",
		Program: "ocf-vipcheck",
		Actions: map[string]ocf.Handler{
			"start":        Start,
			"stop":         Stop,
			"monitor":      Monitor,
			"validate-all": ValidateAll,
		},
		Commands:   []*cli.Command{tcpCommand(), httpCommand(), ldirectordCommand(), arpLeakCommand()},
		CommandFor: commandFor,
	}
}

// Ranges of the duration parameters: timeout (milliseconds) and dampen
// (seconds, as attrd_updater -d reads a plain number).
var (
	paramTimeout = duration.Range{Unit: time.Millisecond, Min: time.Millisecond, Max: time.Hour}
	paramDampen  = duration.Range{Unit: time.Second, Min: 0, Max: time.Hour}
)

// maxMultiplier is the largest multiplier: Pacemaker's INFINITY score, and
// far from overflowing the published count.
const maxMultiplier = 1000000

// commandFor is the command a link or copy of the program runs by its
// name: one made for ldirectord's checkcommand, which passes only VIP
// VPORT RIP RPORT, runs ldirectord; the drop-in names check_tcp_raw and
// check_http_raw (any check_tcp* and check_http*) run tcp and http, with
// the peers' argument order, which is theirs already.
func commandFor(program string) string {
	base := strings.ToLower(filepath.Base(program))
	switch {
	case strings.Contains(base, "ldirectord"):
		return "ldirectord"
	case strings.HasPrefix(base, "check_http"):
		return "http"
	case strings.HasPrefix(base, "check_tcp"):
		return "tcp"
	}
	return ""
}

// settings are an instance's parameters, parsed.
type settings struct {
	spec       Check
	attribute  string
	multiplier int
	dampen     string
	arpLeak    bool
}

// readSettings reads and checks the parameters; mistakes are
// ErrConfigured.
func readSettings(ctx context.Context, p *ocf.Params) (settings, error) {
	var s settings
	var err error
	conf := func(err error) error { return ocf.WithCode(ocf.ErrConfigured, err) }
	for _, name := range []string{"vip", "real_servers"} {
		if strings.TrimSpace(p.String(name)) == "" {
			return s, ocf.Errorf(ocf.ErrConfigured, "%s is required", name)
		}
	}
	if s.spec.VIP, err = ParseVIP(ctx, p.String("vip")); err != nil {
		return s, conf(err)
	}
	if s.spec.Port, err = ParsePort(p.String("port")); err != nil {
		return s, conf(err)
	}
	if s.spec.Targets, err = ParseTargets(ctx, p.String("real_servers")); err != nil {
		return s, conf(fmt.Errorf("real_servers: %w", err))
	}
	s.spec.Interface = p.String("interface")
	s.spec.RoleFile = p.String("role_file")
	if s.spec.Role, err = ParseRoleMode(p.String("role")); err != nil {
		return s, ocf.Errorf(ocf.ErrConfigured, "role=%q: want master, backup or auto", p.String("role"))
	}
	if s.spec.Timeout, err = paramTimeout.Parse(p.String("timeout")); err != nil {
		return s, conf(fmt.Errorf("timeout: %w", err))
	}
	if s.spec.Close, err = p.Bool("close"); err != nil {
		return s, err
	}
	if s.arpLeak, err = p.Bool("arp_leak_check"); err != nil {
		return s, err
	}
	if s.attribute, err = readAttribute(p); err != nil {
		return s, err
	}
	if s.multiplier, err = p.Int("multiplier"); err != nil {
		return s, err
	}
	if s.multiplier < 0 || s.multiplier > maxMultiplier {
		return s, ocf.Errorf(ocf.ErrConfigured, "multiplier=%d: want 0 to %d", s.multiplier, maxMultiplier)
	}
	dampen, err := paramDampen.Parse(p.String("dampen"))
	if err != nil {
		return s, conf(fmt.Errorf("dampen: %w", err))
	}
	s.dampen = attrdDuration(dampen)
	if s.spec.HTTP, err = readHTTPSettings(p, s.spec.VIP.String()); err != nil {
		return s, err
	}
	if s.spec.GuardKernel, err = p.Bool("nft_guard"); err != nil {
		return s, err
	}
	return s, nil
}

// attrdDuration writes d as attrd_updater -d reads it: whole seconds as
// "5s", else milliseconds.
func attrdDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// readAttribute reads and checks the attribute parameter.
func readAttribute(p *ocf.Params) (string, error) {
	a := p.String("attribute")
	if a == "" || strings.ContainsAny(a, " \t\n") {
		return a, ocf.Errorf(ocf.ErrConfigured, "attribute=%q is not a node attribute name", a)
	}
	return a, nil
}

// readHTTPSettings reads check and the HTTP parameters (all of them, so a
// typo in any is found whatever the check) and returns the HTTP check, or
// nil for check=tcp.
func readHTTPSettings(p *ocf.Params, vipHost string) (*l7.HTTP, error) {
	check := p.String("check")
	o := HTTPOptions{Method: p.String("http_method"), Host: p.String("http_host"), Path: p.String("http_path"),
		Headers: splitList(p.String("http_headers")), WantHeaders: splitList(p.String("http_expect_headers")),
		MD5: p.String("http_md5"), Regex: p.String("http_regex"), CAFile: p.String("tls_ca"), TLS: check == "https"}
	if o.Host == "" {
		o.Host = vipHost
		if strings.Contains(vipHost, ":") {
			o.Host = "[" + vipHost + "]"
		}
	}
	if p.IsSet("http_body") {
		b := p.String("http_body")
		o.Body = &b
	}
	var err error
	if o.Status, err = p.Int("http_status"); err != nil {
		return nil, err
	}
	maxBody, err := p.Int("http_max_body")
	if err != nil {
		return nil, err
	}
	o.MaxBody = int64(maxBody)
	if o.Insecure, err = p.Bool("tls_insecure"); err != nil {
		return nil, err
	}
	switch check {
	case "tcp":
		return nil, nil
	case "http":
		o.CAFile, o.Insecure = "", false // TLS settings only apply to https
	case "https":
	default:
		return nil, ocf.Errorf(ocf.ErrConfigured, "check=%q: want tcp, http or https", check)
	}
	h, err := o.Build()
	if err != nil {
		return nil, ocf.WithCode(ocf.ErrConfigured, err)
	}
	return h, nil
}

// splitList splits a "|"-separated parameter, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, "|") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// needsRaw reports whether the instance may run the raw probe.
func (s settings) needsRaw() bool { return s.spec.RoleFile != "" || s.spec.Role != RoleBackup }

// ValidateAll checks the parameters (6), and on this node the interface
// and the CAP_NET_RAW the raw probe needs (5).
func ValidateAll(ctx context.Context, req *ocf.Request) error {
	s, err := readSettings(ctx, req.Params)
	if err != nil {
		return err
	}
	return s.validateNode()
}

func (s settings) validateNode() error {
	ifi, err := s.spec.iface()
	if err != nil {
		return ocf.WithCode(ocf.ErrInstalled, err)
	}
	if s.needsRaw() && len(ifi.HardwareAddr) != 6 {
		return ocf.Errorf(ocf.ErrInstalled, "interface %s has no Ethernet address: the raw probe needs one (role=backup does not)", ifi.Name)
	}
	if s.spec.RoleFile != "" {
		if fi, err := os.Stat(filepath.Dir(s.spec.RoleFile)); err != nil || !fi.IsDir() {
			return ocf.Errorf(ocf.ErrConfigured, "the directory of role_file %s does not exist", s.spec.RoleFile)
		}
		// The file may appear later; one that is there must be a
		// regular file (a FIFO would make every check fail).
		if fi, err := os.Stat(s.spec.RoleFile); err == nil && !fi.Mode().IsRegular() {
			return ocf.Errorf(ocf.ErrConfigured, "role_file %s is not a regular file (%s)", s.spec.RoleFile, filesafe.TypeName(fi.Mode()))
		}
	}
	if s.needsRaw() && s.spec.GuardKernel && s.spec.HTTP != nil {
		ok, err := hasCap(capNetAdmin)
		if err != nil {
			return ocf.Errorf(ocf.ErrInstalled, "reading capabilities: %w", err)
		}
		if !ok {
			return ocf.Errorf(ocf.ErrInstalled, "nft_guard needs CAP_NET_ADMIN, which this process lacks (run as root, or %s)", setcapHint("cap_net_admin,cap_net_raw"))
		}
	}
	if s.needsRaw() {
		ok, err := hasCap(capNetRaw)
		if err != nil {
			return ocf.Errorf(ocf.ErrInstalled, "reading capabilities: %w", err)
		}
		if !ok {
			return ocf.WithCode(ocf.ErrInstalled, s.spec.noRawError(nil))
		}
	}
	return nil
}

// Capabilities the checks need.
const (
	capNetAdmin = 12
	capNetRaw   = 13
)

// hasCap reports whether capability bit is in this process's effective set.
func hasCap(bit uint) (bool, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return false, fmt.Errorf("CapEff %q: %w", v, err)
			}
			return caps&(1<<bit) != 0, nil
		}
	}
	return false, errors.New("no CapEff line in /proc/self/status")
}

// stateFile is where start records that the instance runs.
func stateFile(req *ocf.Request) string { return req.StateFile("ocf-vipcheck") }

// cannotHold reports whether err, from a state file's path, shows that no
// file can be there: a component that is not a directory (HA_RSCTMP
// naming a regular file), a name too long, a loop of links. Start cannot
// have recorded the instance there, so it does not run.
func cannotHold(err error) bool {
	return errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ENAMETOOLONG) || errors.Is(err, syscall.ELOOP)
}

// errNotOurs is wrapped by errors for a state path holding something start
// never writes: a symbolic link, a directory, a file of another owner, a
// state directory others can write.
var errNotOurs = errors.New("not trusted as the state of vipcheck")

// checkStateDir reports whether dir (HA_RSCTMP) is a directory, not a
// symbolic link, that only root and the effective user can have written,
// nor any directory above it.
func checkStateDir(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: %w", dir, errNotOurs)
	case !fi.IsDir():
		return fmt.Errorf("%s: %w", dir, syscall.ENOTDIR)
	}
	if err := filesafe.CheckDir(dir, os.Geteuid()); err != nil {
		return fmt.Errorf("%w: %w", errNotOurs, err)
	}
	return nil
}

// recorded reports whether path holds the record start wrote: a regular
// file (not a link) owned by root or the effective user, writable by no
// one else, in a safe state directory. It returns false and nil when
// there is nothing at path, false and an error wrapping errNotOurs (or
// one cannotHold accepts) when what is there is not ours, and another
// error when path cannot be inspected.
func recorded(path string) (bool, error) {
	if err := checkStateDir(filepath.Dir(path)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case !fi.Mode().IsRegular():
		return false, fmt.Errorf("%s is %s: %w", path, filesafe.TypeName(fi.Mode()), errNotOurs)
	}
	if err := filesafe.Check(path, os.Geteuid()); err != nil {
		return false, fmt.Errorf("%w: %w", errNotOurs, err)
	}
	return true, nil
}

// notStartedHere reports whether err, from recorded, shows that start
// never recorded the instance at the state path.
func notStartedHere(err error) bool { return cannotHold(err) || errors.Is(err, errNotOurs) }

// running reports whether start recorded the instance. A state path that
// cannot hold a file, or holds something start never writes, is not
// running, with a warning.
func running(req *ocf.Request) (bool, error) {
	ok, err := recorded(stateFile(req))
	switch {
	case err == nil:
		return ok, nil
	case notStartedHere(err):
		req.Log.Warnf("the state file cannot be ours, so vipcheck was not started here: %v", err)
		return false, nil
	}
	return false, ocf.Errorf(ocf.ErrGeneric, "state file: %w", err)
}

// recordStart writes the state file. A state directory that cannot be
// created, a path that cannot hold the file (HA_RSCTMP a regular file,
// say), or a state directory others can write is a node's setup problem:
// ErrInstalled, so that Pacemaker does not retry on this node. An unsafe
// directory is refused before anything is created.
func recordStart(path string) error {
	dir := filepath.Dir(path)
	err := checkStateDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := checkAncestor(dir); err != nil {
			return ocf.Errorf(ocf.ErrInstalled, "refusing the state directory (HA_RSCTMP) %s: %w", dir, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return ocf.Errorf(ocf.ErrInstalled, "creating the state directory (HA_RSCTMP) %s: %w", dir, err)
		}
		err = checkStateDir(dir)
	}
	switch {
	case cannotHold(err):
		return ocf.Errorf(ocf.ErrInstalled, "creating the state directory (HA_RSCTMP) %s: %w", dir, err)
	case err != nil:
		return ocf.Errorf(ocf.ErrInstalled, "refusing the state directory (HA_RSCTMP) %s: %w", dir, err)
	}
	if err := atomicfile.Write(path, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		if cannotHold(err) {
			return ocf.Errorf(ocf.ErrInstalled, "writing the state file: %w", err)
		}
		return ocf.Errorf(ocf.ErrGeneric, "writing the state file: %w", err)
	}
	return nil
}

// checkAncestor checks the nearest existing directory above a missing
// dir with filesafe.CheckDir, so that nothing is created below a
// directory others can write.
func checkAncestor(dir string) error {
	for a := filepath.Dir(dir); ; a = filepath.Dir(a) {
		if _, err := os.Lstat(a); err == nil || a == filepath.Dir(a) {
			return filesafe.CheckDir(a, os.Geteuid())
		}
	}
}

// Start validates, records the instance as running and publishes a first
// count.
func Start(ctx context.Context, req *ocf.Request) error {
	s, err := readSettings(ctx, req.Params)
	if err != nil {
		return err
	}
	if err := s.validateNode(); err != nil {
		return err
	}
	if err := recordStart(stateFile(req)); err != nil {
		return err
	}
	return s.update(ctx, req)
}

// Stop removes the attribute and the state file; stopping a stopped
// instance succeeds. It reads only the parameters it needs, so a mistake
// in another (or a CA file gone) does not leave the attribute behind. A
// state path that cannot hold a file (HA_RSCTMP a regular file), or holds
// something start never writes (a directory, a link, a stranger's file, a
// file in a directory others can write), means start never recorded the
// instance: stopped, with a warning, and that object is left alone.
func Stop(ctx context.Context, req *ocf.Request) error {
	if attribute, err := readAttribute(req.Params); err == nil {
		dampen := req.Params.String("dampen")
		if d, err := paramDampen.Parse(dampen); err == nil {
			dampen = attrdDuration(d) // as start and monitor publish it
		}
		if err := attrd(ctx, "-D", "-n", attribute, "-d", dampen); err != nil {
			req.Log.Warnf("removing node attribute %s: %v", attribute, err)
		}
	}
	ours, err := recorded(stateFile(req))
	switch {
	case err == nil && !ours:
		return nil
	case notStartedHere(err):
		req.Log.Warnf("the state file cannot be ours, so vipcheck was not started here (left as it is): %v", err)
		return nil
	case err != nil:
		return ocf.Errorf(ocf.ErrGeneric, "state file: %w", err)
	}
	// unlink(2) only: never a directory, never through a link.
	if err := syscall.Unlink(stateFile(req)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ocf.Errorf(ocf.ErrGeneric, "removing the state file %s: %w", stateFile(req), err)
	}
	return nil
}

// Monitor returns NotRunning when stopped; otherwise it probes every real
// server and publishes the healthy count times multiplier.
func Monitor(ctx context.Context, req *ocf.Request) error {
	up, err := running(req)
	if err != nil {
		return err
	}
	if !up {
		return ocf.Errorf(ocf.NotRunning, "vipcheck is not running")
	}
	if req.Probe {
		return nil
	}
	s, err := readSettings(ctx, req.Params)
	if err != nil {
		return err
	}
	return s.update(ctx, req)
}

// update probes, logs what is down and publishes the score. A probe that
// cannot run (no interface, no permission) publishes 0 and fails; so does
// a score that could not be published.
func (s settings) update(ctx context.Context, req *ocf.Request) error {
	pctx, cancel := probeContext(ctx, s.spec.Timeout)
	defer cancel()
	var found *leak.Result
	leakDone := make(chan struct{})
	if s.arpLeak {
		go func() {
			defer close(leakDone)
			ifi, err := s.spec.iface()
			if err != nil {
				req.Log.Warnf("ARP leak check: %v", err)
				return
			}
			if l, err := leak.Check(pctx, ifi, s.spec.VIP, nil); err != nil {
				req.Log.Warnf("ARP leak check: %v", err)
			} else {
				found = &l
			}
		}()
	} else {
		close(leakDone)
	}
	o, err := s.spec.Run(pctx)
	<-leakDone
	if found != nil && found.Leaking() {
		req.Log.Errorf("%s", leakSummary(*found))
	}
	score := 0
	if err == nil {
		score = o.Healthy() * s.multiplier
		for i := range o.Results {
			if !o.Up(i) {
				req.Log.Warnf("real server %s (role %s)", o.Line(i), o.Role)
			}
		}
	}
	aerr := attrd(ctx, "-n", s.attribute, "-v", strconv.Itoa(score), "-d", s.dampen)
	if err != nil {
		if aerr != nil {
			req.Log.Warnf("could not update node attribute %s=%d: %v", s.attribute, score, aerr)
		}
		return ocf.Errorf(ocf.ErrGeneric, "probing real servers through %v:%d: %w", s.spec.VIP, s.spec.Port, err)
	}
	if aerr != nil {
		return ocf.Errorf(ocf.ErrGeneric, "publishing node attribute %s=%d: %w", s.attribute, score, aerr)
	}
	return nil
}

// probeContext bounds a probe of up to timeout so that, within the
// action's ctx, time is left to publish its result: a quarter of what
// remains, at least 500 ms (or half of what remains) and at most 2 s.
func probeContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		reserve := min(max(left/4, min(500*time.Millisecond, left/2)), 2*time.Second)
		timeout = min(timeout, left-reserve)
	}
	return context.WithTimeout(ctx, timeout)
}

// attrd runs attrd_updater with args.
func attrd(ctx context.Context, args ...string) error {
	path, err := exec.LookPath("attrd_updater")
	if err != nil {
		path = "/usr/sbin/attrd_updater"
		if _, serr := os.Stat(path); serr != nil {
			return fmt.Errorf("attrd_updater not found: %w", err)
		}
	}
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", path, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
