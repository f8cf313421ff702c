package anycastprobe

// The TOML configuration of anycast-probe run and check.

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/ocfkit/ocfkit/action/ifaddr"
	"github.com/ocfkit/ocfkit/internal/duration"
	"github.com/ocfkit/ocfkit/internal/tomlconf"
)

// Defaults and limits.
const (
	DefaultConfig   = "/etc/anycast-probe.toml"
	DefaultSocket   = "/run/anycast-probe/status.sock"
	DefaultProtocol = ifaddr.ProtoAnycastProbe // IFA_PROTO and route protocol marking what we add
	DefaultIface    = "lo"
	MaxConfigSize   = 1 << 20
	maxCount        = 100
	maxServices     = 10000
	maxChecks       = 64
	maxAddresses    = 256
)

// Ranges of the durations of the file; a plain number is seconds.
var (
	IntervalRange = duration.Range{Unit: time.Second, Min: 10 * time.Millisecond, Max: time.Hour}
	TimeoutRange  = duration.Range{Unit: time.Second, Min: time.Millisecond, Max: 10 * time.Minute}
	JitterRange   = duration.Range{Unit: time.Second, Min: 0, Max: time.Hour}
)

// Config is a parsed, validated file (or the one-liner's equivalent).
type Config struct {
	Path     string `toml:"-"`
	Socket   string `toml:"socket"`
	Protocol int    `toml:"protocol"`
	// MetricsListen is IP:PORT of the Prometheus text endpoint (GET
	// /metrics); empty means none.
	MetricsListen string              `toml:"metrics_listen"`
	Services      map[string]*Service `toml:"service"`
}

// Service is one set of addresses (or host routes) held while its checks
// pass.
type Service struct {
	Name      string   `toml:"-"`
	Line      int      `toml:"-"`
	Interface string   `toml:"interface"`
	Addresses []string `toml:"addresses"`
	Routes    []string `toml:"routes"` // host routes via Interface instead of addresses
	Mode      string   `toml:"mode"`   // all (default) or any
	Rise      int      `toml:"rise"`
	Fall      int      `toml:"fall"`

	IntervalText     string `toml:"interval"`
	FastIntervalText string `toml:"fast_interval"`
	TimeoutText      string `toml:"timeout"`
	JitterText       string `toml:"jitter"`

	OnUp   []string `toml:"on_up"`
	OnDown []string `toml:"on_down"`

	Checks []*CheckConfig `toml:"check"`

	Interval, FastInterval, Timeout, Jitter time.Duration  `toml:"-"`
	Prefixes                                []netip.Prefix `toml:"-"`
	RouteDests                              []netip.Addr   `toml:"-"`
}

// CheckConfig is one check of a service; Type says which keys apply.
type CheckConfig struct {
	Type string `toml:"type"` // dns, tcp, exec, radius, syslog, proxy, socks
	// dns (and radius, syslog, proxy, socks: the server's HOST:PORT)
	Server string `toml:"server"`
	Query  string `toml:"query"`
	QType  string `toml:"qtype"`
	TCP    bool   `toml:"tcp"`
	EDNS   int    `toml:"edns"`
	Rcode  string `toml:"rcode"`
	Answer *bool  `toml:"answer"`
	Value  string `toml:"value"`
	// tcp
	Address string `toml:"address"`
	Send    string `toml:"send"`
	Expect  string `toml:"expect"`
	// exec
	Command []string `toml:"command"`
	// radius
	SecretFile   string `toml:"secret_file"`
	Accounting   bool   `toml:"accounting"`
	User         string `toml:"user"` // radius Access-Request, socks username
	PasswordFile string `toml:"password_file"`
	ReplyMessage string `toml:"reply_message"`
	Retry        string `toml:"retry"`
	// syslog (tcp above: send over TCP)
	Format        string `toml:"format"`
	OctetCounting bool   `toml:"octet_counting"`
	Relay         string `toml:"relay"`
	RelayTCP      bool   `toml:"relay_tcp"`
	File          string `toml:"file"`
	// proxy (body, status) and socks (target, send, expect above)
	Connect bool   `toml:"connect"`
	Target  string `toml:"target"`
	Status  int    `toml:"status"`
	Body    string `toml:"body"`
	UDP     bool   `toml:"udp"`

	Line int `toml:"-"`
	// filesSum is a digest of what secret_file and password_file held when
	// the check was built, so a reload sees a changed secret as a changed
	// check (sameService) without keeping the secret itself here.
	filesSum [sha256.Size]byte
}

// Error is a problem of the file at a line.
type Error = tomlconf.Error

// LoadConfig reads and validates the file. The file says which commands
// run as root, so it must be safe (filesafe, as carp-hook's).
func LoadConfig(path string) (*Config, error) {
	data, err := tomlconf.Read(path, MaxConfigSize)
	if err != nil {
		return nil, err
	}
	return ParseConfig(path, data)
}

// ParseConfig validates data, naming it path in errors.
func ParseConfig(path string, data []byte) (*Config, error) {
	c := &Config{}
	if err := tomlconf.Decode(path, data, c, MaxConfigSize); err != nil {
		return nil, err
	}
	lines, err := locate(data)
	if err != nil {
		return nil, &Error{Path: path, Msg: err.Error()}
	}
	c.Path = path
	var errs []error
	bad := func(line int, format string, a ...any) {
		errs = append(errs, &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, a...)})
	}
	if c.Socket == "" {
		c.Socket = DefaultSocket
	} else if !filepath.IsAbs(c.Socket) || len(c.Socket) > 100 {
		bad(lines["socket"], "socket %q: want an absolute path of at most 100 bytes", c.Socket)
	}
	if c.Protocol == 0 {
		c.Protocol = DefaultProtocol
	} else if err := checkProtocol(c.Protocol); err != nil {
		bad(lines["protocol"], "%v", err)
	}
	if err := validListen(c.MetricsListen); err != nil {
		bad(lines["metrics_listen"], "%v", err)
	}
	if len(c.Services) == 0 {
		bad(0, "no [service.NAME] defined")
	}
	if len(c.Services) > maxServices {
		bad(0, "%d services: at most %d", len(c.Services), maxServices)
	}
	held := map[string]string{} // address -> service
	for _, name := range c.Names() {
		s := c.Services[name]
		if s == nil {
			s = &Service{}
			c.Services[name] = s
		}
		s.Name = name
		s.Line = lines["service."+name]
		for i, ck := range s.Checks {
			if ck != nil {
				ck.Line = lines[fmt.Sprintf("service.%s.check.%d", name, i+1)]
			}
		}
		for _, e := range s.validate(lines) {
			bad(e.line, "service %s: %s", name, e.msg)
		}
		for _, p := range s.Prefixes {
			if other, dup := held[p.String()]; dup {
				bad(s.Line, "service %s: address %s is already held by service %s", name, p, other)
			}
			held[p.String()] = name
		}
		for _, a := range s.RouteDests {
			if other, dup := held[a.String()]; dup {
				bad(s.Line, "service %s: route %s is already held by service %s", name, a, other)
			}
			held[a.String()] = name
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// Names returns the service names, sorted.
func (c *Config) Names() []string {
	n := make([]string, 0, len(c.Services))
	for k := range c.Services {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

type lineErr struct {
	line int
	msg  string
}

// validate fills the parsed fields of s and returns its problems.
func (s *Service) validate(lines map[string]int) []lineErr {
	var errs []lineErr
	key := func(k string) int {
		if n := lines["service."+s.Name+"."+k]; n > 0 {
			return n
		}
		return s.Line
	}
	bad := func(k, format string, a ...any) { errs = append(errs, lineErr{key(k), fmt.Sprintf(format, a...)}) }
	if !validName(s.Name) {
		bad("", "name: use letters, digits and . _ - only (at most 64)")
	}
	if s.Interface == "" {
		s.Interface = DefaultIface
	} else if !validIface(s.Interface) {
		bad("interface", "interface %q: not an interface name", s.Interface)
	}
	switch {
	case len(s.Addresses) == 0 && len(s.Routes) == 0:
		bad("", "no addresses (or routes)")
	case len(s.Addresses) > 0 && len(s.Routes) > 0:
		bad("routes", "addresses and routes together: one service holds one kind")
	}
	for _, a := range s.Addresses {
		p, err := ParseServiceAddress(a)
		if err != nil {
			bad("addresses", "%v", err)
			continue
		}
		s.Prefixes = append(s.Prefixes, p)
	}
	for _, a := range s.Routes {
		p, err := ParseServiceAddress(a)
		if err != nil {
			bad("routes", "%v", err)
			continue
		}
		s.RouteDests = append(s.RouteDests, p.Addr())
	}
	switch strings.ToLower(s.Mode) {
	case "", "all":
		s.Mode = "all"
	case "any":
		s.Mode = "any"
	default:
		bad("mode", "mode %q: want all or any", s.Mode)
	}
	for _, rf := range []struct {
		k string
		v *int
	}{{"rise", &s.Rise}, {"fall", &s.Fall}} {
		if *rf.v == 0 {
			*rf.v = 1
		} else if *rf.v < 1 || *rf.v > maxCount {
			bad(rf.k, "%s %d: want 1 to %d", rf.k, *rf.v, maxCount)
		}
	}
	dur := func(k, text string, r duration.Range, def time.Duration, into *time.Duration) {
		if text == "" {
			*into = def
			return
		}
		d, err := r.Parse(text)
		if err != nil {
			bad(k, "%s: %v", k, err)
		}
		*into = d
	}
	dur("interval", s.IntervalText, IntervalRange, time.Second, &s.Interval)
	dur("fast_interval", s.FastIntervalText, IntervalRange, s.Interval, &s.FastInterval)
	dur("timeout", s.TimeoutText, TimeoutRange, time.Second, &s.Timeout)
	dur("jitter", s.JitterText, JitterRange, 0, &s.Jitter)
	if s.FastInterval > s.Interval {
		bad("fast_interval", "fast_interval %v is longer than interval %v", s.FastInterval, s.Interval)
	}
	for k, cmd := range map[string][]string{"on_up": s.OnUp, "on_down": s.OnDown} {
		if len(cmd) > 0 && !filepath.IsAbs(cmd[0]) {
			bad(k, "%s: the program %q must be an absolute path", k, cmd[0])
		}
	}
	if len(s.Checks) == 0 {
		bad("", "no [[service.%s.check]]", s.Name)
	}
	if len(s.Checks) > maxChecks {
		bad("", "%d checks: at most %d", len(s.Checks), maxChecks)
	}
	if len(s.Addresses)+len(s.Routes) > maxAddresses {
		bad("", "%d addresses: at most %d", len(s.Addresses)+len(s.Routes), maxAddresses)
	}
	for _, ck := range s.Checks {
		if ck == nil {
			continue
		}
		if _, err := NewCheck(ck); err != nil {
			line := ck.Line
			if line == 0 {
				line = s.Line
			}
			errs = append(errs, lineErr{line, err.Error()})
		}
	}
	return errs
}

// ParseServiceAddress reads a service address: an IPv4 address or /32,
// an IPv6 address or /128. An IPv4-mapped IPv6 address, a zone, a shorter
// prefix or a non-unicast address is refused.
func ParseServiceAddress(s string) (netip.Prefix, error) {
	var p netip.Prefix
	var err error
	if strings.Contains(s, "/") {
		p, err = netip.ParsePrefix(s)
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(s)
		if err == nil {
			p = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil {
		return p, fmt.Errorf("address %q: not an IP address", s)
	}
	a := p.Addr()
	switch {
	case a.Is4In6():
		return p, fmt.Errorf("address %q: an IPv4-mapped IPv6 address mixes the families; write the IPv4 address", s)
	case a.Zone() != "":
		return p, fmt.Errorf("address %q: a zone is not allowed", s)
	case p.Bits() != a.BitLen():
		return p, fmt.Errorf("address %q: a service address is a host address (/%d)", s, a.BitLen())
	case !a.IsGlobalUnicast() && !a.IsPrivate():
		return p, fmt.Errorf("address %q: not a unicast address", s)
	}
	return p, nil
}

// validListen checks a metrics_listen value: empty, or IP:PORT (an empty
// IP is every address).
func validListen(s string) error {
	if s == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(s)
	if err == nil && host != "" {
		_, err = netip.ParseAddr(host)
	}
	if err != nil || !validPort(port) {
		return fmt.Errorf("metrics_listen %q: want IP:PORT (such as 127.0.0.1:9426)", s)
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func validIface(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == '/' || r == ':' || r > '~' {
			return false
		}
	}
	return true
}

// locate maps table headers and keys ("service.dns", "service.dns.rise",
// "service.dns.check.2") to their line.
func locate(data []byte) (map[string]int, error) {
	lines := map[string]int{}
	counts := map[string]int{}
	var current []string
	p := &unstable.Parser{}
	p.Reset(data)
	parts := func(n *unstable.Node) ([]string, int) {
		var out []string
		line := 0
		it := n.Key()
		for it.Next() {
			if line == 0 {
				line = p.Shape(it.Node().Raw).Start.Line
			}
			out = append(out, string(it.Node().Data))
		}
		return out, line
	}
	set := func(path []string, line int) {
		k := strings.Join(path, ".")
		if _, ok := lines[k]; !ok {
			lines[k] = line
		}
	}
	for p.NextExpression() {
		n := p.Expression()
		k, line := parts(n)
		switch n.Kind {
		case unstable.Table:
			current = k
			set(current, line)
		case unstable.ArrayTable:
			base := strings.Join(k, ".")
			counts[base]++
			current = append(k, fmt.Sprint(counts[base]))
			set(k, line)
			set(current, line)
		case unstable.KeyValue:
			set(append(append([]string{}, current...), k...), line)
		}
	}
	return lines, p.Error()
}

// checkProtocol refuses a protocol number that is not anycast-probe's to
// use: 0-4 are the kernel's own, and ocf-realserver marks its VIPs with
// ifaddr.ProtoRealserver and removes the addresses so marked that its
// instances list (or adopts them), whoever added them.
func checkProtocol(n int) error {
	switch {
	case n < 5 || n > 255:
		return fmt.Errorf("protocol %d: want 5 to 255 (0-4 are the kernel's own)", n)
	case n == ifaddr.ProtoRealserver:
		return fmt.Errorf("protocol %d marks ocf-realserver's addresses: choose another", n)
	}
	return nil
}
