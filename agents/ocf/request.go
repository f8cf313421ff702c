package ocf

import (
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocfkit/ocfkit/internal/duration"
	"github.com/ocfkit/ocfkit/internal/filesafe"
	"github.com/ocfkit/ocfkit/metadata"
)

// Env looks up an environment variable; os.LookupEnv in production, a map
// in tests.
type Env func(key string) (string, bool)

// Request is what an action is called with: the parsed OCF environment.
type Request struct {
	// Action is the action's name, "status" already turned into "monitor".
	Action string
	// Instance is OCF_RESOURCE_INSTANCE, or the agent's name outside a cluster.
	Instance string
	// Probe is true for a monitor with no recurring interval.
	Probe bool
	// Depth is the implemented check depth to run: the deepest advertised
	// depth not above OCF_CHECK_LEVEL.
	Depth int
	// Timeout is the operation's timeout (OCF_RESKEY_CRM_meta_timeout, or
	// the action's timeout in the meta-data).
	Timeout time.Duration
	// Params are the instance parameters.
	Params *Params
	// Log logs for this resource instance.
	Log *Logger

	// stateDir holds StateDirSafe's verdict: an action asks more than
	// once (lock, state), and the answer costs a stat of every directory
	// up to the root.
	stateDir struct {
		once sync.Once
		err  error
	}
}

// StateFile returns the file in which an agent with no process to find
// (like ocf:pacemaker:ping) records that this resource instance runs:
// PREFIX-INSTANCE.state under $HA_RSCTMP (/run/resource-agents by
// default). The instances of an anonymous clone share one name ("vip:0"
// and "vip:1" are both "vip"), since Pacemaker runs at most one per node;
// a globally unique clone's instances each get their own.
//
// A name longer than MaxStateName bytes (a resource id may be any length)
// is replaced by PREFIX-HASH.state, HASH the 128-bit FNV-1a hash of the
// long name in hex (see nameHash), so that no action fails on a name the
// file system refuses, and a writer has room for a temporary name beside
// it.
func (r *Request) StateFile(prefix string) string {
	env := r.Params.env
	dir, _ := env("HA_RSCTMP")
	if dir == "" {
		dir = "/run/resource-agents"
	}
	name := r.Instance
	if unique, _ := env("OCF_RESKEY_CRM_meta_globally_unique"); unique != "true" {
		name, _, _ = strings.Cut(name, ":")
	}
	name = strings.Map(func(c rune) rune {
		if c == '/' || c == 0 {
			return '_'
		}
		return c
	}, name)
	base := prefix + "-" + name + ".state"
	if len(base) > MaxStateName {
		base = prefix + "-" + nameHash(base) + ".state"
	}
	return filepath.Join(dir, base)
}

// nameHash returns the 128-bit FNV-1a hash of a state file name, in hex.
// Instance names are the cluster administrator's, so a hash that resists
// only accidents is enough; crypto/sha256 would add its package
// initialisation to every action's start-up.
func nameHash(name string) string {
	h := fnv.New128a()
	_, _ = h.Write([]byte(name))
	return hex.EncodeToString(h.Sum(nil))
}

// MaxStateName is the longest file name StateFile returns as it is: well
// below NAME_MAX (255), since writers create a temporary file named after
// it (atomicfile adds 15 bytes).
const MaxStateName = 200

// Params are an agent's instance parameters, read from OCF_RESKEY_<name>
// with the defaults of the meta-data. Asking for a parameter the meta-data
// does not declare is a programming error and panics, so the Go side cannot
// drift from the XML.
type Params struct {
	meta *metadata.Agent
	env  Env
	used map[string]bool
}

// NewParams returns the parameters of an agent read from env.
func NewParams(meta *metadata.Agent, env Env) *Params {
	return &Params{meta: meta, env: env, used: map[string]bool{}}
}

func (p *Params) declared(name string) metadata.Parameter {
	param, ok := p.meta.Parameter(name)
	if !ok {
		panic(fmt.Sprintf("ocf: parameter %q is not declared in the meta-data of %s", name, p.meta.Name))
	}
	p.used[name] = true
	return param
}

// IsSet reports whether the parameter was given a non-empty value.
func (p *Params) IsSet(name string) bool {
	p.declared(name)
	v, ok := p.env("OCF_RESKEY_" + name)
	return ok && v != ""
}

// String returns the parameter's value, or its meta-data default.
func (p *Params) String(name string) string {
	param := p.declared(name)
	if v, ok := p.env("OCF_RESKEY_" + name); ok && v != "" {
		return v
	}
	return param.Content.Default
}

// Bool returns a boolean parameter; OCF booleans are true, yes, on, 1 and
// their opposites, in any case.
func (p *Params) Bool(name string) (bool, error) {
	v := p.String(name)
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on", "y":
		return true, nil
	case "0", "false", "no", "off", "n", "":
		return false, nil
	}
	return false, Errorf(ErrConfigured, "parameter %s=%q is not a boolean", name, v)
}

// Int returns an integer parameter.
func (p *Params) Int(name string) (int, error) {
	v := p.String(name)
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, Errorf(ErrConfigured, "parameter %s=%q is not an integer", name, v)
	}
	return n, nil
}

// Unread returns the parameters the meta-data declares that have not been
// read so far, in meta-data order; tests read every setting and expect none,
// to show every declared parameter is implemented.
func (p *Params) Unread() []string {
	var unread []string
	for _, param := range p.meta.Parameters {
		if !p.used[param.Name] {
			unread = append(unread, param.Name)
		}
	}
	return unread
}

// DefaultTimeout applies when neither the operation nor the meta-data gives
// a timeout.
const DefaultTimeout = 20 * time.Second

// parseRequest reads the OCF environment for an action.
func parseRequest(meta *metadata.Agent, action string, env Env) (*Request, error) {
	if action == "status" {
		action = "monitor"
	}
	req := &Request{Action: action, Params: NewParams(meta, env)}
	req.Instance, _ = env("OCF_RESOURCE_INSTANCE")
	if req.Instance == "" {
		req.Instance = meta.Name
	}
	var err error
	if req.Timeout, err = operationTimeout(meta, action, env); err != nil {
		return nil, err
	}
	interval, _ := env("OCF_RESKEY_CRM_meta_interval")
	req.Probe = action == "monitor" && (interval == "" || interval == "0")
	if req.Depth, err = checkDepth(meta.MonitorDepths(), env); err != nil {
		return nil, err
	}
	return req, nil
}

// OperationTimeouts is the accepted range of OCF_RESKEY_CRM_meta_timeout: a
// number of milliseconds (as Pacemaker passes it) or a duration, from 1 ms
// to 24 h. Beyond that lies a mistake or an overflow, never a timeout.
var OperationTimeouts = duration.Range{Unit: time.Millisecond, Min: time.Millisecond, Max: 24 * time.Hour}

// operationTimeout returns OCF_RESKEY_CRM_meta_timeout (milliseconds), or
// the action's timeout from the meta-data, or DefaultTimeout.
func operationTimeout(meta *metadata.Agent, action string, env Env) (time.Duration, error) {
	if v, ok := env("OCF_RESKEY_CRM_meta_timeout"); ok && v != "" {
		d, err := OperationTimeouts.Parse(v)
		if err != nil {
			return 0, Errorf(ErrArgs, "OCF_RESKEY_CRM_meta_timeout: %w", err)
		}
		return d, nil
	}
	if act, ok := meta.Action(action); ok && act.Timeout != "" {
		if d, err := parseInterval(act.Timeout); err == nil && d > 0 {
			return d, nil
		}
	}
	return DefaultTimeout, nil
}

// parseInterval parses a Pacemaker time value: a number with an optional
// unit (ms, s, m, h; seconds when bare).
func parseInterval(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	if strings.HasSuffix(v, "min") {
		v = strings.TrimSuffix(v, "in")
	}
	return time.ParseDuration(v)
}

// checkDepth returns the deepest implemented depth not above
// OCF_CHECK_LEVEL (0 when unset).
func checkDepth(implemented []int, env Env) (int, error) {
	v, ok := env("OCF_CHECK_LEVEL")
	if !ok || strings.TrimSpace(v) == "" {
		return 0, nil
	}
	want, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || want < 0 {
		return 0, Errorf(ErrArgs, "OCF_CHECK_LEVEL=%q is not a check depth", v)
	}
	best := 0
	for _, d := range implemented {
		if d <= want && d > best {
			best = d
		}
	}
	return best, nil
}

// StateDirSafe reports whether the directory of StateFile ($HA_RSCTMP) may
// hold records the agent trusts: it and every directory above it are owned
// by root or the effective user and writable by no one else (a sticky
// world-writable directory such as /tmp is refused too). A directory that
// does not exist yet is judged by its nearest existing parent, where it
// would be created. The error wraps filesafe.ErrUnsafe when others could
// write there.
//
// The verdict is reached once per request: only root could change a
// directory that passed, and one that failed stays refused.
func (r *Request) StateDirSafe() error {
	r.stateDir.once.Do(func() { r.stateDir.err = r.checkStateDir() })
	return r.stateDir.err
}

func (r *Request) checkStateDir() error {
	dir := filepath.Dir(r.StateFile("x"))
	d := dir
	for {
		_, err := os.Lstat(d)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || d == filepath.Dir(d) {
			break
		}
		d = filepath.Dir(d)
	}
	if err := filesafe.CheckDir(d, os.Geteuid()); err != nil {
		return fmt.Errorf("HA_RSCTMP %s is writable by others or not owned by root: %w", dir, err)
	}
	return nil
}
