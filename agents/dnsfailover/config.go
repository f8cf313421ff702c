package dnsfailover

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/ocfkit/ocfkit/internal/duration"
	"github.com/ocfkit/ocfkit/internal/tomlconf"
)

// DefaultConfig is the configuration file used without -c.
const DefaultConfig = "/etc/dns-failover.toml"

// Defaults and limits.
const (
	DefaultStateFile = "/var/lib/dns-failover/state.json"
	DefaultRise      = 2
	DefaultFall      = 2
	DefaultTTL       = 60
	maxConfig        = 1 << 20
	maxMembers       = 10000
	maxCount         = 100
	maxPrimaries     = 32
)

// Durations in the file; a plain number is seconds.
var (
	intervalRange = duration.Range{Unit: time.Second, Min: 100 * time.Millisecond, Max: time.Hour}
	timeoutRange  = duration.Range{Unit: time.Second, Min: 10 * time.Millisecond, Max: time.Minute}
	backoffRange  = duration.Range{Unit: time.Second, Min: 0, Max: 24 * time.Hour}
)

// Config is a parsed and validated configuration file.
type Config struct {
	Path string `toml:"-"`
	// Primaries are the servers every update goes to (host or host:port).
	Primaries []string `toml:"primaries"`
	// Zone is the default zone of the records.
	Zone string `toml:"zone"`
	// TSIGKey is a BIND-format key file; KeyName picks a key in it.
	TSIGKey      string `toml:"tsig_key"`
	KeyName      string `toml:"tsig_key_name"`
	AllowHMACMD5 bool   `toml:"allow_hmac_md5"`
	StateFile    string `toml:"state_file"`
	// Durations: a string ("1s", "500ms") or a plain number of seconds.
	IntervalText any `toml:"interval"`
	TimeoutText  any `toml:"timeout"`
	// FastIntervalText spaces the checks while a member is between up and
	// down (failed, fall not reached; or answering, rise not reached):
	// HAProxy's fastinter. Default: interval.
	FastIntervalText any    `toml:"fast_interval"`
	Rise             int    `toml:"rise"`
	Fall             int    `toml:"fall"`
	TTL              uint32 `toml:"ttl"`
	// MaxRemovals bounds removals per round over all records (0: no bound).
	MaxRemovals int `toml:"max_removals"`
	// Notify is a command (argv) run for every change and refusal.
	Notify []string `toml:"notify"`
	// Watch is the default of the checks' watch: hold an idle connection
	// to each member checked over TCP, and check it at once when the
	// member closes it.
	Watch   bool      `toml:"watch"`
	Records []*Record `toml:"record"`

	Interval, FastInterval, Timeout time.Duration `toml:"-"`
	Servers                         []string      `toml:"-"` // host:port of Primaries
}

// Record is one round-robin name and its members.
type Record struct {
	Name       string    `toml:"name"`
	Zone       string    `toml:"zone"`
	TTL        uint32    `toml:"ttl"`
	MinRecords *int      `toml:"min_records"`
	Check      *Check    `toml:"check"`
	Members    []*Member `toml:"member"`
	Min        int       `toml:"-"`
	Line       int       `toml:"-"`
}

// Member is one address of a record and how to check it.
type Member struct {
	Address string     `toml:"address"`
	Check   *Check     `toml:"check"`
	Restart *Restart   `toml:"restart"`
	Addr    netip.Addr `toml:"-"`
}

// Check says how a member is checked.
type Check struct {
	Type    string   `toml:"type"` // send-expect, tls, http, https, dns, exec
	Port    string   `toml:"port"` // number or /etc/services name
	Send    string   `toml:"send"`
	Expect  string   `toml:"expect"`
	Host    string   `toml:"host"`   // http(s): Host header; tls: server name
	Path    string   `toml:"path"`   // http(s)
	Status  int      `toml:"status"` // http(s)
	Query   string   `toml:"query"`  // dns: name asked
	QType   string   `toml:"qtype"`  // dns: A by default
	Command []string `toml:"command"`
	// Insecure skips certificate verification (tls, https).
	Insecure bool `toml:"insecure"`
	// Watch overrides the top-level watch for this check.
	Watch *bool `toml:"watch"`

	PortNum int `toml:"-"`
	// Watched is the decision: this check's members are watched.
	Watched bool `toml:"-"`
}

// Restart is the one restart tried before a member is removed.
type Restart struct {
	Type     string            `toml:"type"` // systemd, ocf, exec
	Unit     string            `toml:"unit"`
	Agent    string            `toml:"agent"`
	Instance string            `toml:"instance"`
	Params   map[string]string `toml:"params"`
	Command  []string          `toml:"command"`
	Timeout  any               `toml:"timeout"`
	Backoff  any               `toml:"backoff"` // least time between two restarts
	// Parsed.
	TimeoutD, BackoffD time.Duration `toml:"-"`
}

// Error is a configuration error with its line.
type Error = tomlconf.Error

// LoadConfig reads and validates the file at path. It names commands run
// as root, so it must be safe as filesafe has it.
func LoadConfig(path string) (*Config, error) {
	data, err := tomlconf.Read(path, maxConfig)
	if err != nil {
		return nil, err
	}
	return ParseConfig(path, data)
}

// ParseConfig validates data, naming it path in errors.
func ParseConfig(path string, data []byte) (*Config, error) {
	c := &Config{}
	if err := tomlconf.Decode(path, data, c, maxConfig); err != nil {
		return nil, err
	}
	c.Path = path
	lines := recordLines(data)
	var errs []error
	bad := func(line int, format string, a ...any) {
		errs = append(errs, &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, a...)})
	}
	var err error
	c.Interval, c.Timeout = time.Second, time.Second
	if c.Interval, err = parseDuration(c.IntervalText, intervalRange, time.Second); err != nil {
		bad(0, "interval: %v", err)
	}
	if c.Timeout, err = parseDuration(c.TimeoutText, timeoutRange, time.Second); err != nil {
		bad(0, "timeout: %v", err)
	}
	if c.FastInterval, err = parseDuration(c.FastIntervalText, intervalRange, c.Interval); err != nil {
		bad(0, "fast_interval: %v", err)
	} else if c.FastInterval > c.Interval {
		bad(0, "fast_interval %s is longer than interval %s", duration.Format(c.FastInterval), duration.Format(c.Interval))
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	if c.Rise < 1 || c.Rise > maxCount || c.Fall < 1 || c.Fall > maxCount {
		bad(0, "rise and fall: want 1 to %d", maxCount)
	}
	if c.MaxRemovals < 0 || c.MaxRemovals > maxMembers {
		bad(0, "max_removals %d: want 0 (no bound) to %d", c.MaxRemovals, maxMembers)
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.TTL > 86400*7 {
		bad(0, "ttl %d: at most 604800", c.TTL)
	}
	if c.StateFile == "" {
		c.StateFile = DefaultStateFile
	} else if !strings.HasPrefix(c.StateFile, "/") {
		bad(0, "state_file %q: want an absolute path", c.StateFile)
	}
	if c.TSIGKey != "" && !strings.HasPrefix(c.TSIGKey, "/") {
		bad(0, "tsig_key %q: want an absolute path", c.TSIGKey)
	}
	if len(c.Notify) > 0 && !strings.HasPrefix(c.Notify[0], "/") {
		bad(0, "notify: the command %q must be an absolute path", c.Notify[0])
	}
	if len(c.Primaries) == 0 {
		bad(0, "primaries: name at least one primary server")
	}
	if len(c.Primaries) > maxPrimaries {
		bad(0, "primaries: %d servers, at most %d", len(c.Primaries), maxPrimaries)
	}
	for _, p := range c.Primaries {
		s, err := hostPort(p, "53")
		if err != nil {
			bad(0, "primaries: %v", err)
			continue
		}
		c.Servers = append(c.Servers, s)
	}
	if c.Zone != "" {
		c.Zone = dns.Fqdn(strings.ToLower(c.Zone))
		if _, ok := dns.IsDomainName(c.Zone); !ok {
			bad(0, "zone %q is not a domain name", c.Zone)
		}
	}
	if len(c.Records) == 0 {
		bad(0, "no [[record]] defined")
	}
	seen := map[string]bool{}
	total := 0
	for i, r := range c.Records {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		r.Line = line
		for _, e := range c.validateRecord(r) {
			bad(line, "record %s: %s", r.Name, e)
		}
		key := r.Name
		if len(r.Members) > 0 {
			key += "/" + r.typeName()
		}
		if seen[key] {
			bad(line, "record %s: defined twice", r.Name)
		}
		seen[key] = true
		total += len(r.Members)
	}
	if total > maxMembers {
		bad(0, "%d members: at most %d", total, maxMembers)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func (c *Config) validateRecord(r *Record) []string {
	var errs []string
	if r.Name == "" {
		return []string{"name is missing"}
	}
	r.Name = dns.Fqdn(strings.ToLower(r.Name))
	if !validName(r.Name) {
		errs = append(errs, "name is not a domain name")
	}
	if r.Zone == "" {
		r.Zone = c.Zone
	} else {
		r.Zone = dns.Fqdn(strings.ToLower(r.Zone))
	}
	if r.Zone == "" {
		errs = append(errs, "no zone (set zone at the top or in the record)")
	} else if !dns.IsSubDomain(r.Zone, r.Name) {
		errs = append(errs, fmt.Sprintf("name is not in zone %s", r.Zone))
	}
	if r.TTL == 0 {
		r.TTL = c.TTL
	}
	r.Min = 1
	if r.MinRecords != nil {
		r.Min = *r.MinRecords
	}
	if r.Min < 0 || r.Min > len(r.Members) {
		errs = append(errs, fmt.Sprintf("min_records %d: want 0 to the number of members (%d)", r.Min, len(r.Members)))
	}
	if len(r.Members) == 0 {
		errs = append(errs, "no [[record.member]]")
	}
	fam := 0
	addrs := map[netip.Addr]bool{}
	for _, m := range r.Members {
		a, err := netip.ParseAddr(m.Address)
		if err != nil || a.Zone() != "" {
			errs = append(errs, fmt.Sprintf("member address %q is not an IP address", m.Address))
			continue
		}
		a = a.Unmap()
		m.Addr = a
		f := 4
		if a.Is6() {
			f = 6
		}
		if fam != 0 && f != fam {
			errs = append(errs, "members mix IPv4 and IPv6: make one record for A and one for AAAA")
		}
		fam = f
		if addrs[a] {
			errs = append(errs, fmt.Sprintf("member %s listed twice", a))
		}
		addrs[a] = true
		if m.Check == nil {
			m.Check = r.Check
		}
		if m.Check == nil {
			errs = append(errs, fmt.Sprintf("member %s has no check (set [record.check] or [record.member.check])", a))
		} else if err := m.Check.validate(); err != nil {
			errs = append(errs, fmt.Sprintf("member %s: check: %v", a, err))
		} else if err := m.Check.setWatch(c.Watch); err != nil {
			errs = append(errs, fmt.Sprintf("member %s: check: %v", a, err))
		}
		if m.Restart != nil {
			if err := m.Restart.validate(); err != nil {
				errs = append(errs, fmt.Sprintf("member %s: restart: %v", a, err))
			}
		}
	}
	return errs
}

// Type is the record type of the record's members.
func (r *Record) Type() uint16 {
	if len(r.Members) > 0 && r.Members[0].Addr.Is6() {
		return dns.TypeAAAA
	}
	return dns.TypeA
}

func (r *Record) typeName() string { return dns.TypeToString[r.Type()] }

// Check types.
var checkTypes = []string{"send-expect", "tls", "http", "https", "dns", "exec"}

var defaultPorts = map[string]int{"http": 80, "https": 443, "dns": 53}

func (k *Check) validate() error {
	if k.Type == "" {
		k.Type = "send-expect"
	}
	if !contains(checkTypes, k.Type) {
		return fmt.Errorf("type %q: want one of %s", k.Type, strings.Join(checkTypes, ", "))
	}
	if k.Type == "exec" {
		if len(k.Command) == 0 || !strings.HasPrefix(k.Command[0], "/") {
			return errors.New("exec: command must be an argv whose first word is an absolute path")
		}
		return nil
	}
	if k.Port == "" {
		p, ok := defaultPorts[k.Type]
		if !ok {
			return fmt.Errorf("%s: port is missing", k.Type)
		}
		k.PortNum = p
	} else {
		p, err := LookupPort(k.Port)
		if err != nil {
			return err
		}
		k.PortNum = p
	}
	if strings.ContainsAny(k.Send, "\x00") || strings.ContainsAny(k.Host, " \r\n/") || strings.ContainsAny(k.Path, " \r\n") {
		return errors.New("send, host or path holds a forbidden character")
	}
	switch k.Type {
	case "http", "https":
		if k.Path == "" {
			k.Path = "/"
		}
		if !strings.HasPrefix(k.Path, "/") {
			return fmt.Errorf("path %q: want a leading slash", k.Path)
		}
		if k.Status != 0 && (k.Status < 100 || k.Status > 999) {
			return fmt.Errorf("status %d is not an HTTP status", k.Status)
		}
	case "dns":
		if k.Query == "" {
			return errors.New("dns: query (the name asked) is missing")
		}
		if _, ok := dns.IsDomainName(k.Query); !ok {
			return fmt.Errorf("dns: query %q is not a domain name", k.Query)
		}
		if k.QType == "" {
			k.QType = "A"
		}
		if _, ok := dns.StringToType[strings.ToUpper(k.QType)]; !ok {
			return fmt.Errorf("dns: qtype %q unknown", k.QType)
		}
	}
	return nil
}

// watchTypes are the check types that connect over TCP: the ones whose
// members can be watched.
var watchTypes = []string{"send-expect", "tls", "http", "https"}

// setWatch decides whether the check's members are watched: its own
// watch key, else the top-level default def for the types that connect
// over TCP. An explicit watch on another type is an error.
func (k *Check) setWatch(def bool) error {
	tcp := contains(watchTypes, k.Type)
	if k.Watch == nil {
		k.Watched = def && tcp
		return nil
	}
	if *k.Watch && !tcp {
		return fmt.Errorf("watch: %s checks hold no connection to watch (only %s checks can be watched)", k.Type, strings.Join(watchTypes, ", "))
	}
	k.Watched = *k.Watch
	return nil
}

// checkAddr is the address the member's check connects to.
func (m *Member) checkAddr() string {
	return net.JoinHostPort(m.Addr.String(), strconv.Itoa(m.Check.PortNum))
}

// watched reports whether any member of the configuration is watched.
func (c *Config) watched() bool {
	for _, r := range c.Records {
		for _, m := range r.Members {
			if m.Check.Watched {
				return true
			}
		}
	}
	return false
}

func (r *Restart) validate() error {
	var err error
	if r.TimeoutD, err = parseDuration(r.Timeout, timeoutRange, 30*time.Second); err != nil {
		return fmt.Errorf("timeout: %w", err)
	}
	if r.BackoffD, err = parseDuration(r.Backoff, backoffRange, time.Minute); err != nil {
		return fmt.Errorf("backoff: %w", err)
	}
	switch r.Type {
	case "systemd":
		if r.Unit == "" || strings.ContainsAny(r.Unit, "/ \n") {
			return fmt.Errorf("systemd: unit %q is not a unit name", r.Unit)
		}
	case "ocf":
		if r.Agent == "" || strings.Contains(r.Agent, "..") || strings.Count(r.Agent, ":") > 2 {
			return fmt.Errorf("ocf: agent %q: want PROVIDER:TYPE or ocf:PROVIDER:TYPE", r.Agent)
		}
	case "exec":
		if len(r.Command) == 0 || !strings.HasPrefix(r.Command[0], "/") {
			return errors.New("exec: command must be an argv whose first word is an absolute path")
		}
	default:
		return fmt.Errorf("type %q: want systemd, ocf or exec", r.Type)
	}
	return nil
}

// validName accepts a domain name of letters, digits, '-', '_' and dots
// (nothing an nsupdate script or a log line would read otherwise).
func validName(s string) bool {
	if _, ok := dns.IsDomainName(s); !ok || s == "" || s == "." {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// parseDuration reads a duration given as a TOML string or integer (in
// the range's unit); nil is def.
func parseDuration(v any, r duration.Range, def time.Duration) (time.Duration, error) {
	switch v := v.(type) {
	case nil:
		return def, nil
	case string:
		return r.Parse(v)
	case int64:
		return r.Parse(strconv.FormatInt(v, 10))
	}
	return 0, fmt.Errorf("%v: want %s: %w", v, r, duration.ErrSyntax)
}

// LookupPort reads a port number or a service name from /etc/services.
func LookupPort(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 65535 {
			return 0, fmt.Errorf("port %d: want 1 to 65535", n)
		}
		return n, nil
	}
	p, err := net.LookupPort("tcp", s)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("port %q: not a number nor a tcp service in /etc/services", s)
	}
	return p, nil
}

// hostPort adds port to a host that has none.
func hostPort(s, port string) (string, error) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		if _, err := netip.ParseAddr(h); err != nil {
			return "", fmt.Errorf("%q: want an IP address", s)
		}
		if _, err := LookupPort(p); err != nil {
			return "", err
		}
		return s, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", fmt.Errorf("%q: want an IP address, with an optional :port", s)
	}
	return net.JoinHostPort(a.String(), port), nil
}

// recordLines finds the line of each [[record]] header, in order.
func recordLines(data []byte) []int {
	var out []int
	for i, l := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[[") && strings.TrimSpace(strings.Trim(strings.SplitN(t, "#", 2)[0], "[] \t")) == "record" {
			out = append(out, i+1)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
