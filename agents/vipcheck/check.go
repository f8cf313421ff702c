package vipcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ocfkit/ocfkit/internal/fanout"
	"github.com/ocfkit/ocfkit/internal/filesafe"
	"github.com/ocfkit/ocfkit/internal/route"
	"github.com/ocfkit/ocfkit/probe/l7"
	"github.com/ocfkit/ocfkit/probe/vip"
)

// Check is one check of real servers through a VIP, as the command line
// and the OCF agent describe it.
type Check struct {
	// Interface is the balancer's interface; empty means the interface of
	// the route to the first real server.
	Interface string
	Targets   []vip.Target
	VIP       netip.Addr
	Port      uint16
	// Close ends healthy connections with a FIN exchange instead of a RST.
	Close bool
	// Role is RoleMaster, RoleBackup or RoleAuto; RoleFile, when set,
	// overrides it the way check_tcp_raw's -r does.
	Role     RoleMode
	RoleFile string
	Timeout  time.Duration
	// Source is the probe's source address; zero chooses one.
	Source netip.Addr
	// HTTP, when set, makes it an HTTP(S) check: a full connection through
	// the VIP (a userspace TCP/IP stack on the raw socket) instead of the
	// SYN probe.
	HTTP *l7.HTTP
	// GuardKernel keeps this host's kernel from answering the real
	// servers' segments of an HTTP check with RSTs (vip.Config.GuardKernel).
	GuardKernel bool
}

// Report is what a check found.
type Report struct {
	Role      Role
	Interface string
	Results   []vip.Result
	// HTTP holds the HTTP results of an HTTP check, one per real server,
	// in the order of Results; nil for a TCP check.
	HTTP []l7.Result
}

// Up reports whether real server i is healthy: connected, and the HTTP
// checks passed.
func (rep Report) Up(i int) bool {
	return rep.Results[i].Status == vip.Up && (rep.HTTP == nil || rep.HTTP[i].Failure == l7.OK)
}

// Healthy counts the real servers that are up.
func (rep Report) Healthy() int {
	n := 0
	for i := range rep.Results {
		if rep.Up(i) {
			n++
		}
	}
	return n
}

// ErrNoRaw is wrapped by the error of a raw probe that this process may
// not run: it lacks root's CAP_NET_RAW.
var ErrNoRaw = errors.New("the raw probe needs root or CAP_NET_RAW")

// noRawError explains a raw probe refused for want of privilege (err, or
// nil when found by reading the capabilities): run it as root, or give the
// program the capability once so that Nagios's user can run it.
func (s Check) noRawError(err error) error {
	caps := "cap_net_raw"
	if s.GuardKernel && s.HTTP != nil {
		caps = "cap_net_admin,cap_net_raw" // nft_guard's nftables table
	}
	detail := ""
	if err != nil {
		detail = fmt.Sprintf(" (%v)", err)
	}
	return fmt.Errorf("%w, which this process lacks%s: run it as root, or, for Nagios or another unprivileged user, %s",
		ErrNoRaw, detail, setcapHint(caps))
}

// setcapHint is the command that gives this program caps for every user.
func setcapHint(caps string) string {
	exe, err := os.Executable()
	if err != nil {
		exe = "/usr/sbin/ocf-vipcheck"
	}
	return fmt.Sprintf("setcap %s+ep %s", caps, exe)
}

// Run checks every real server within c.Timeout (and ctx).
func (c Check) Run(ctx context.Context) (Report, error) {
	if len(c.Targets) == 0 {
		return Report{}, errors.New("no real server to check")
	}
	role, err := c.role()
	if err != nil {
		return Report{}, err
	}
	out := Report{Role: role}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cfg := vip.Config{Source: c.Source, VIP: c.VIP, Port: c.Port, Close: c.Close, GuardKernel: c.GuardKernel}
	if role == Master {
		ifi, err := c.iface()
		if err != nil {
			return out, err
		}
		out.Interface, cfg.Interface = ifi.Name, ifi
	}
	var check vip.ConnCheck[l7.Result]
	if c.HTTP != nil {
		check = c.checkHTTP
	}
	out.Results, out.HTTP, err = vip.Check(ctx, cfg, role.via(), c.Targets, check)
	if errors.Is(err, os.ErrPermission) {
		err = c.noRawError(err)
	}
	return out, err
}

// checkHTTP runs the HTTP check on one connection, and asks for another
// only when the connection itself broke (reset, closed before a whole
// response), since on a lossy path one TCP connection can fail where the
// next passes. A verdict on the response (status, headers, body, TLS) is
// never retried, nor a check the deadline cut.
func (c Check) checkHTTP(ctx context.Context, conn net.Conn) (l7.Result, bool) {
	r := c.HTTP.Check(ctx, conn)
	return r, againHTTP(r)
}

// againHTTP reports whether an HTTP check's failure is the connection's
// own (worth a new one): a protocol failure the deadline did not cause.
func againHTTP(r l7.Result) bool {
	return r.Failure == l7.Protocol && !errors.Is(r.Err, context.DeadlineExceeded)
}

// iface returns the named interface, or the one the route to the first real
// server leaves by.
func (s Check) iface() (*net.Interface, error) {
	if s.Interface != "" {
		return InterfaceByName(s.Interface)
	}
	return route.Interface(s.Targets[0].Addr)
}

// InterfaceByName returns the named interface; the error says plainly
// when this host has none of that name.
func InterfaceByName(name string) (*net.Interface, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		if strings.Contains(err.Error(), "no such network interface") {
			return nil, fmt.Errorf("no interface %s on this host", name)
		}
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	return ifi, nil
}

// ParseTargets reads real servers: a list separated by commas or white
// space, or @FILE with one or more per line (# starts a comment). Each is
// an IPv4 or IPv6 address or a host name (its first IPv4 address),
// optionally with a static MAC as ADDR=MAC. Host names are looked up at
// once, all within ctx and lookupTimeout.
func ParseTargets(ctx context.Context, list string) ([]vip.Target, error) {
	return parseTargets(ctx, list, lookupIPv4)
}

// lookupTimeout bounds all the name look-ups of one argument or parameter.
const lookupTimeout = 5 * time.Second

// maxLookups bounds the name look-ups under way at once.
const maxLookups = 16

// lookupFunc returns a host name's address.
type lookupFunc func(ctx context.Context, host string) (netip.Addr, error)

// lookupIPv4 returns the first IPv4 address of a host name.
func lookupIPv4(ctx context.Context, host string) (netip.Addr, error) {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("%s has no IPv4 address", host)
	}
	return addrs[0].Unmap(), nil
}

// parseAddr reads an IPv4 or IPv6 address (without zone); ok is false for
// a host name to look up (when lookup is not nil).
func parseAddr(s string, lookup lookupFunc) (a netip.Addr, ok bool, err error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" || a.Is4In6() {
			return netip.Addr{}, false, fmt.Errorf("%q: give a global IPv6 address without zone, or IPv4", s)
		}
		if a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return netip.Addr{}, false, fmt.Errorf("%q is not the address of one host", s)
		}
		return a, true, nil
	}
	if lookup == nil || s == "" || strings.ContainsAny(s, ":/@= ") || strings.Trim(s, "0123456789") == "" {
		return netip.Addr{}, false, fmt.Errorf("%q is not an IP address", s)
	}
	return netip.Addr{}, false, nil
}

// resolveNames looks up names[i] for every i in todo, at most maxLookups
// at once, all within ctx and lookupTimeout, and stores the addresses in
// addrs; the first failure is the error.
func resolveNames(ctx context.Context, names []string, todo []int, addrs []netip.Addr, lookup lookupFunc) error {
	if len(todo) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	errs := make([]error, len(names))
	fanout.Each(len(todo), maxLookups, func(k int) {
		i := todo[k]
		if errs[i] = ctx.Err(); errs[i] == nil {
			addrs[i], errs[i] = lookup(ctx, names[i])
		}
	})
	for _, i := range todo {
		if errs[i] != nil {
			return fmt.Errorf("%q is not an IP address, and looking it up failed: %w", names[i], errs[i])
		}
	}
	return nil
}

// MaxTargetFile bounds a real-server file (real_servers=@FILE): far more
// than any list of real servers, far less than a node's memory.
const MaxTargetFile = 1 << 20

// readTargetFile returns the text of a real-server file without comments.
// The file must be a regular file of at most MaxTargetFile bytes, opened
// without blocking: a FIFO or a device cannot hang or exhaust the check.
func readTargetFile(path string) (string, error) {
	b, err := filesafe.ReadSmall(path, 0, MaxTargetFile)
	if err != nil {
		return "", fmt.Errorf("reading real servers: %w", err)
	}
	var out strings.Builder
	for line := range strings.Lines(string(b)) {
		line, _, _ = strings.Cut(line, "#")
		out.WriteString(strings.TrimSuffix(line, "\n") + "\n")
	}
	return out.String(), nil
}

func parseTargets(ctx context.Context, list string, lookup lookupFunc) ([]vip.Target, error) {
	if strings.HasPrefix(list, "@") {
		text, err := readTargetFile(list[1:])
		if err != nil {
			return nil, err
		}
		list = text
	}
	fields := strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' })
	if len(fields) == 0 {
		return nil, errors.New("no real server given")
	}
	targets := make([]vip.Target, len(fields))
	names, addrs := make([]string, len(fields)), make([]netip.Addr, len(fields))
	var todo []int
	for i, f := range fields {
		addr, mac, hasMAC := strings.Cut(f, "=")
		a, ok, err := parseAddr(addr, lookup)
		if err != nil {
			return nil, fmt.Errorf("real server %w", err)
		}
		if !ok {
			todo = append(todo, i)
		}
		names[i], addrs[i] = addr, a
		if hasMAC {
			if targets[i].MAC, err = net.ParseMAC(mac); err != nil || len(targets[i].MAC) != 6 {
				return nil, fmt.Errorf("real server %s: bad MAC %q", addr, mac)
			}
		}
	}
	if err := resolveNames(ctx, names, todo, addrs, lookup); err != nil {
		return nil, fmt.Errorf("real server %w", err)
	}
	for i := range targets {
		targets[i].Addr = addrs[i]
	}
	return targets, nil
}

// ParseVIP reads the virtual IP address, or looks up a host name within
// ctx and lookupTimeout.
func ParseVIP(ctx context.Context, s string) (netip.Addr, error) {
	a, ok, err := parseAddr(s, lookupIPv4)
	if err == nil && !ok {
		addrs := []netip.Addr{{}}
		err = resolveNames(ctx, []string{s}, []int{0}, addrs, lookupIPv4)
		a = addrs[0]
	}
	if err != nil {
		return netip.Addr{}, fmt.Errorf("VIP %w", err)
	}
	return a, nil
}

// ParsePort reads a TCP port number.
func ParsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("port %q is not a TCP port number", s)
	}
	return uint16(n), nil
}

// Line describes real server i's result in one line.
func (rep Report) Line(i int) string {
	r := rep.Results[i]
	if rep.HTTP == nil || r.Status != vip.Up {
		return rep.resultLine(r)
	}
	h := rep.HTTP[i]
	var b strings.Builder
	switch {
	case h.Failure == l7.OK:
		fmt.Fprintf(&b, "%s up status=%d bytes=%d", r.Target, h.Status, h.Bytes)
	case h.Observed != "":
		fmt.Fprintf(&b, "%s %s observed=%q", r.Target, h.Failure, h.Observed)
	default:
		fmt.Fprintf(&b, "%s %s error=%q", r.Target, h.Failure, errText(h.Err))
	}
	rep.writeTimings(&b, r, "connect")
	fmt.Fprintf(&b, " total=%s", ms(r.Took))
	return b.String()
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// resultLine describes one real server's TCP probe result in one line.
func (rep Report) resultLine(r vip.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Target, r.Status)
	rtt := "rtt"
	if r.Status == vip.NoARP {
		rtt = "" // no SYN was sent
	}
	rep.writeTimings(&b, r, rtt)
	return b.String()
}

// writeTimings appends r's timings: connect= for the backup role; else
// mac= and arp= where known and, unless rtt is empty, the connection time
// named rtt and syns=.
func (rep Report) writeTimings(b *strings.Builder, r vip.Result, rtt string) {
	if rep.Role == Backup {
		fmt.Fprintf(b, " connect=%s", ms(r.RTT))
		return
	}
	if r.MAC != nil {
		fmt.Fprintf(b, " mac=%s", r.MAC)
	}
	if r.Resolve > 0 {
		fmt.Fprintf(b, " arp=%s", ms(r.Resolve))
	}
	if rtt != "" {
		fmt.Fprintf(b, " %s=%s syns=%d", rtt, ms(r.RTT), r.SYNs)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d.Microseconds())/1000) }
