// Package config reads carp-hook's TOML file: groups of ordered actions, run
// in order when the node becomes MASTER and in reverse order otherwise.
//
// Every error names the file and the line it comes from. Keys that no action
// type knows, and keys that do not apply to an action's type, are errors.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/ocfkit/ocfkit/action"
	"github.com/ocfkit/ocfkit/agents/carphook/engine"
	"github.com/ocfkit/ocfkit/internal/duration"
	"github.com/ocfkit/ocfkit/internal/tomlconf"
)

// ActionType names what an action does: its "type" key.
type ActionType string

// Action types.
const (
	TypeAddress  ActionType = "address"
	TypeAnnounce ActionType = "announce"
	TypeSystemd  ActionType = "systemd"
	TypeOCF      ActionType = "ocf"
	TypeRoleFile ActionType = "role-file"
	TypeExec     ActionType = "exec"
)

// Defaults.
const (
	DefaultGroupTimeout  = 120 * time.Second
	DefaultActionTimeout = 30 * time.Second
	DefaultAnnounceCount = 3
	DefaultAnnounceGap   = time.Second
	DefaultOCFRoot       = "/usr/lib/ocf"
	maxAnnounceCount     = 100
	// MaxSize is the largest configuration file read.
	MaxSize            = 1 << 20
	defaultSystemdVerb = action.Start
)

// File is a parsed and validated configuration file.
type File struct {
	// Path is where the file was read from.
	Path string `toml:"-"`
	// StateDir holds lock files, the last event and the outcome per group.
	StateDir string `toml:"state_dir"`
	// OCFRoot is passed to OCF agents as OCF_ROOT.
	OCFRoot string `toml:"ocf_root"`
	// Groups maps group names to their actions.
	Groups map[string]*Group `toml:"group"`
}

// Group is one address (or set of addresses) and what moves with it.
type Group struct {
	// Name is the group's key in the file.
	Name string `toml:"-"`
	// Match lists further event keys (a VIP, a keepalived instance name,
	// VHID@IFACE, an interface) that select this group.
	Match []string `toml:"match"`
	// OnError is what the group does when an action fails while coming
	// up: engine.Continue (default), engine.Stop or engine.Revert.
	OnError engine.Policy `toml:"on_error"`
	// TimeoutText bounds one whole transition ("120s" by default).
	TimeoutText string        `toml:"timeout"`
	Timeout     time.Duration `toml:"-"`
	// Actions run in order for MASTER and in reverse order otherwise.
	Actions []*Action `toml:"action"`
	// Line is the line of the group's first mention.
	Line int `toml:"-"`
}

// Action is one step. Which fields apply depends on Type (see allowedKeys).
type Action struct {
	Type ActionType `toml:"type"`

	Interface string   `toml:"interface"` // address, announce
	Addresses []string `toml:"addresses"` // address (CIDR), announce (IP)

	Count        int           `toml:"count"`    // announce
	IntervalText string        `toml:"interval"` // announce
	Interval     time.Duration `toml:"-"`

	Unit string      `toml:"unit"` // systemd
	Verb action.Verb `toml:"verb"` // systemd: start (default) or restart

	Agent    string            `toml:"agent"`    // ocf
	Instance string            `toml:"instance"` // ocf
	Params   map[string]string `toml:"params"`   // ocf

	Path string `toml:"path"` // role-file

	Up   []string `toml:"up"`   // exec
	Down []string `toml:"down"` // exec

	TimeoutText string        `toml:"timeout"` // systemd, ocf, exec
	Timeout     time.Duration `toml:"-"`

	// Line is the line of the action's [[group.NAME.action]] header.
	Line int `toml:"-"`
	// Prefixes holds the parsed Addresses of an address action, and IPs
	// those of an announce action.
	Prefixes []netip.Prefix `toml:"-"`
	IPs      []netip.Addr   `toml:"-"`
}

// allowedKeys lists, per type, the keys an action may have.
var allowedKeys = map[ActionType][]string{
	TypeAddress:  {"type", "interface", "addresses"},
	TypeAnnounce: {"type", "interface", "addresses", "count", "interval"},
	TypeSystemd:  {"type", "unit", "verb", "timeout"},
	TypeOCF:      {"type", "agent", "instance", "params", "timeout"},
	TypeRoleFile: {"type", "path"},
	TypeExec:     {"type", "up", "down", "timeout"},
}

// Types lists the action types in documentation order.
func Types() []string {
	return []string{string(TypeAddress), string(TypeAnnounce), string(TypeSystemd), string(TypeOCF), string(TypeRoleFile), string(TypeExec)}
}

// Error is a configuration error with its position.
type Error = tomlconf.Error

// Durations accepted in the file: a plain number is seconds.
var (
	// TimeoutRange bounds a group's and an action's timeout.
	TimeoutRange = duration.Range{Unit: time.Second, Min: time.Millisecond, Max: time.Hour}
	// IntervalRange bounds the gap between announcements.
	IntervalRange = duration.Range{Unit: time.Second, Min: time.Millisecond, Max: time.Minute}
)

// Load reads and validates the file at path. Its actions run as root, so
// the file must be one that only root or the effective user can have
// written (see filesafe): a regular file of at most MaxSize bytes, not
// writable by group or others, in directories that are not either.
func Load(path string) (*File, error) {
	data, err := tomlconf.Read(path, MaxSize)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse validates data, naming it path in errors. The returned error joins
// every problem found (each an *Error).
func Parse(path string, data []byte) (*File, error) {
	// A NUL byte is not refused here but in each string, with its key.
	if err := tomlconf.CheckSize(path, data, MaxSize); err != nil {
		return nil, err
	}
	f := &File{}
	if err := tomlconf.Strict(path, data, f, unknownKey); err != nil {
		return nil, err
	}
	loc, err := locate(data)
	if err != nil {
		return nil, &Error{Path: path, Msg: err.Error()}
	}
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		return nil, tomlconf.DecodeError(path, err, unknownKey)
	}
	f.Path = path
	var errs []error
	bad := func(line int, format string, a ...any) {
		errs = append(errs, &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, a...)})
	}
	for _, k := range nulStrings(raw, "") {
		bad(loc.nearest(k), "%s: a NUL byte is not allowed", k)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if f.StateDir != "" {
		if msg := badPath(f.StateDir); msg != "" {
			bad(loc.line("state_dir"), "state_dir %s", msg)
		}
	}
	if f.OCFRoot == "" {
		f.OCFRoot = DefaultOCFRoot
	} else if msg := badPath(f.OCFRoot); msg != "" {
		bad(loc.line("ocf_root"), "ocf_root %s", msg)
	}
	if len(f.Groups) == 0 {
		bad(0, "no [group.NAME] defined")
	}
	keys := map[string]string{} // event key -> group
	for _, name := range f.GroupNames() {
		g := f.Groups[name]
		if g == nil {
			g = &Group{}
			f.Groups[name] = g
		}
		g.Name = name
		g.Line = loc.line("group." + name)
		if !validKey(name) {
			bad(g.Line, "group name %q: use letters, digits and . _ - @ : only", name)
		}
		for i, k := range append([]string{name}, g.Match...) {
			if i > 0 && !validKey(k) {
				bad(loc.line("group."+name+".match"), "group %s: match key %q: use letters, digits and . _ - @ : only", name, k)
			}
			if other, dup := keys[k]; dup && other != name {
				bad(loc.line("group."+name+".match"), "group %s: key %q already selects group %s", name, k, other)
			}
			keys[k] = name
		}
		switch g.OnError {
		case "":
			g.OnError = engine.Continue
		case engine.Continue, engine.Stop, engine.Revert:
		default:
			bad(loc.line("group."+name+".on_error"), "group %s: on_error %q: want continue, stop or revert", name, g.OnError)
		}
		g.Timeout = DefaultGroupTimeout
		if g.TimeoutText != "" {
			if g.Timeout, err = TimeoutRange.Parse(g.TimeoutText); err != nil {
				bad(loc.line("group."+name+".timeout"), "group %s: timeout: %v", name, err)
			}
		}
		if len(g.Actions) == 0 {
			bad(g.Line, "group %s has no [[group.%s.action]]", name, name)
		}
		rawKeys, form := actionKeys(raw, name)
		if form != "" {
			bad(loc.line("group."+name+".action"), "group %s: action is %s; write each action as its own [[group.%s.action]] table", name, form, name)
			continue
		}
		for i, a := range g.Actions {
			prefix := fmt.Sprintf("group.%s.action.%d", name, i+1)
			a.Line = loc.line(prefix)
			if a.Line == 0 {
				a.Line = loc.line("group." + name + ".action")
			}
			var keys []string
			if i < len(rawKeys) {
				keys = rawKeys[i]
			}
			for _, e := range validateAction(a, prefix, keys, loc) {
				bad(e.Line, "group %s, action %d (%s): %s", name, i+1, a.Type, e.Msg)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f, nil
}

// GroupNames returns the group names, sorted.
func (f *File) GroupNames() []string {
	names := make([]string, 0, len(f.Groups))
	for n := range f.Groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Find returns the group an event key selects: the group of that name, the
// group whose match list holds it, or, for an empty key, the only group.
func (f *File) Find(key string) (*Group, error) {
	if key == "" {
		if len(f.Groups) == 1 {
			for _, g := range f.Groups {
				return g, nil
			}
		}
		return nil, fmt.Errorf("the event names no group and %s defines %d groups", f.Path, len(f.Groups))
	}
	if g, ok := f.Groups[key]; ok {
		return g, nil
	}
	for _, n := range f.GroupNames() {
		for _, m := range f.Groups[n].Match {
			if m == key {
				return f.Groups[n], nil
			}
		}
	}
	return nil, fmt.Errorf("no group %q (nor a group matching it) in %s", key, f.Path)
}

func validKey(s string) bool {
	if s == "" || len(s) > 128 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("._-@:", r)
		if !ok {
			return false
		}
	}
	return true
}

type fieldError struct {
	Line int
	Msg  string
}

// validateAction checks one action; keys are the keys its table holds.
func validateAction(a *Action, prefix string, keys []string, loc locator) []fieldError {
	var errs []fieldError
	bad := func(key, format string, args ...any) {
		line := loc.line(prefix + "." + key)
		if line == 0 {
			line = a.Line
		}
		errs = append(errs, fieldError{line, fmt.Sprintf(format, args...)})
	}
	allowed, ok := allowedKeys[a.Type]
	if !ok {
		if a.Type == "" {
			bad("", "missing type (one of %s)", strings.Join(Types(), ", "))
		} else {
			bad("type", "unknown type %q (one of %s)", a.Type, strings.Join(Types(), ", "))
		}
		return errs
	}
	for _, k := range keys {
		if !contains(allowed, k) {
			bad(k, "key %q does not apply to type %s (allowed: %s)", k, a.Type, strings.Join(allowed[1:], ", "))
		}
	}
	var err error
	if a.TimeoutText != "" {
		if a.Timeout, err = TimeoutRange.Parse(a.TimeoutText); err != nil {
			bad("timeout", "timeout: %v", err)
		}
	} else {
		a.Timeout = DefaultActionTimeout
	}
	switch a.Type {
	case TypeAddress, TypeAnnounce:
		if a.Interface == "" {
			bad("interface", "missing interface")
		}
		if len(a.Addresses) == 0 {
			bad("addresses", "missing addresses")
		}
		for _, s := range a.Addresses {
			if a.Type == TypeAddress {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					bad("addresses", "address %q is not ADDRESS/PREFIXLEN: %v", s, err)
					continue
				}
				a.Prefixes = append(a.Prefixes, p)
				continue
			}
			ip, err := netip.ParseAddr(strings.SplitN(s, "/", 2)[0])
			if err != nil {
				bad("addresses", "address %q: %v", s, err)
				continue
			}
			a.IPs = append(a.IPs, ip)
		}
		if a.Type == TypeAnnounce {
			if a.Count == 0 {
				a.Count = DefaultAnnounceCount
			}
			if a.Count < 1 || a.Count > maxAnnounceCount {
				bad("count", "count %d: want 1..%d", a.Count, maxAnnounceCount)
			}
			a.Interval = DefaultAnnounceGap
			if a.IntervalText != "" {
				if a.Interval, err = IntervalRange.Parse(a.IntervalText); err != nil {
					bad("interval", "interval: %v", err)
				}
			}
		}
	case TypeSystemd:
		if a.Unit == "" {
			bad("unit", "missing unit")
		} else if err := ValidUnitName(a.Unit); err != nil {
			bad("unit", "%v", err)
		}
		switch a.Verb {
		case "":
			a.Verb = defaultSystemdVerb
		case action.Start, action.Restart:
		default:
			bad("verb", "verb %q: want start or restart (stop is the reverse)", a.Verb)
		}
	case TypeOCF:
		if msg := badPath(a.Agent); msg != "" {
			bad("agent", "agent %s", msg)
		}
		for k := range a.Params {
			if !validParam(k) {
				bad("params", "parameter name %q: use letters, digits and _ only", k)
			}
		}
	case TypeRoleFile:
		if msg := badPath(a.Path); msg != "" {
			bad("path", "path %s", msg)
		}
	case TypeExec:
		if len(a.Up) == 0 && len(a.Down) == 0 {
			bad("", "exec needs up, down or both")
		}
		for i, argv := range [][]string{a.Up, a.Down} {
			if len(argv) > 0 {
				if msg := badPath(argv[0]); msg != "" {
					bad([]string{"up", "down"}[i], "command %s (no shell, no PATH search)", msg)
				}
			}
		}
	}
	return errs
}

func validParam(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// badPath explains why p is not a clean absolute path, or returns "".
func badPath(p string) string {
	switch {
	case !filepath.IsAbs(p):
		return fmt.Sprintf("must be an absolute path, got %q", p)
	case len(p) > 4096:
		return "is longer than 4096 bytes"
	case strings.ContainsRune(p, 0):
		return fmt.Sprintf("%q contains a NUL byte", p)
	case contains(strings.Split(p, "/"), ".."):
		return fmt.Sprintf("%q contains \"..\"", p)
	}
	return ""
}

// actionKeys returns the keys of each action table of group name in raw
// (the file decoded generically), in order. form is non-empty when the
// actions are not an array of tables: "a single table", "not a table".
func actionKeys(raw map[string]any, name string) (keys [][]string, form string) {
	groups, _ := raw["group"].(map[string]any)
	g, _ := groups[name].(map[string]any)
	v, ok := g["action"]
	if !ok {
		return nil, ""
	}
	list, ok := v.([]any)
	if !ok {
		if _, single := v.(map[string]any); single {
			return nil, "a single table"
		}
		return nil, fmt.Sprintf("a %T, not an array of tables", v)
	}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, "an array holding a non-table"
		}
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		keys = append(keys, ks)
	}
	return keys, ""
}

// nulStrings returns the dotted keys of every string in v holding a NUL
// byte.
func nulStrings(v any, path string) []string {
	var found []string
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch x := v.(type) {
	case string:
		if strings.ContainsRune(x, 0) {
			found = append(found, path)
		}
	case map[string]any:
		for k, e := range x {
			if strings.ContainsRune(k, 0) {
				found = append(found, join(fmt.Sprintf("%q", k)))
			}
			found = append(found, nulStrings(e, join(k))...)
		}
	case []any:
		for i, e := range x {
			found = append(found, nulStrings(e, fmt.Sprintf("%s.%d", path, i+1))...)
		}
	}
	sort.Strings(found)
	return found
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// unknownKey words an unknown key by its table: unknown key "x" in
// group.g.action.
func unknownKey(k []string) string {
	if len(k) > 1 {
		return fmt.Sprintf("unknown key %q in %s", k[len(k)-1], strings.Join(k[:len(k)-1], "."))
	}
	return tomlconf.UnknownKey(k)
}

// unitTypes are the unit types systemd knows.
var unitTypes = []string{"service", "socket", "device", "mount", "automount", "swap", "target", "path", "timer", "slice", "scope"}

// ValidUnitName checks a systemd unit name by systemd's rules: NAME.TYPE or
// NAME@INSTANCE.TYPE, at most 255 bytes, NAME of letters, digits and
// ":-_.\\", INSTANCE of those and "@", TYPE a known unit type. A template
// without an instance ("foo@.service") cannot be started and is refused.
func ValidUnitName(u string) error {
	if len(u) > 255 {
		return fmt.Errorf("unit name of %d bytes: at most 255", len(u))
	}
	dot := strings.LastIndexByte(u, '.')
	if dot < 0 || !contains(unitTypes, u[dot+1:]) {
		return fmt.Errorf("unit %q: want NAME.TYPE with TYPE one of %s", u, strings.Join(unitTypes, ", "))
	}
	name, inst, templ := strings.Cut(u[:dot], "@")
	switch {
	case name == "" || !unitChars(name, ""):
		return fmt.Errorf("unit %q: name must be letters, digits and : - _ . \\ only", u)
	case templ && inst == "":
		return fmt.Errorf("unit %q is a template: name an instance (NAME@INSTANCE.TYPE)", u)
	case templ && !unitChars(inst, "@"):
		return fmt.Errorf("unit %q: instance must be letters, digits and : - _ . \\ @ only", u)
	}
	return nil
}

func unitChars(s, extra string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":-_.\\"+extra, r)) {
			return false
		}
	}
	return true
}
