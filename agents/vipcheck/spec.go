package vipcheck

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocfkit/ocfkit/internal/route"
	"github.com/ocfkit/ocfkit/probe/l7"
	"github.com/ocfkit/ocfkit/probe/vip"
)

// Roles a check can be told to take.
const (
	RoleMaster = "master" // raw probe through the VIP
	RoleBackup = "backup" // plain connect to each real server
	RoleAuto   = "auto"   // master when the VIP is configured here
)

// Spec is one check of real servers through a VIP, as the command line and
// the OCF agent describe it.
type Spec struct {
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
	Role     string
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

// Outcome is what a check found.
type Outcome struct {
	Role      vip.Role
	Interface string
	Results   []vip.Result
	// HTTP holds the HTTP results of an HTTP check, one per real server,
	// in the order of Results; nil for a TCP check.
	HTTP []l7.Result
}

// Up reports whether real server i is healthy: connected, and the HTTP
// checks passed.
func (o Outcome) Up(i int) bool {
	return o.Results[i].Status == vip.Up && (o.HTTP == nil || o.HTTP[i].Failure == l7.OK)
}

// Healthy counts the real servers that are up.
func (o Outcome) Healthy() int {
	n := 0
	for i := range o.Results {
		if o.Up(i) {
			n++
		}
	}
	return n
}

// role decides between the raw probe and the plain connect.
func (s Spec) role() (vip.Role, error) {
	if s.RoleFile != "" {
		return vip.RoleFromFile(s.RoleFile)
	}
	switch s.Role {
	case "", RoleMaster:
		return vip.Master, nil
	case RoleBackup:
		return vip.Backup, nil
	case RoleAuto:
		return vip.RoleFromAddresses(s.VIP)
	}
	return vip.Backup, fmt.Errorf("unknown role %q (want master, backup or auto)", s.Role)
}

// Run checks every real server within s.Timeout (and ctx).
func (s Spec) Run(ctx context.Context) (Outcome, error) {
	if len(s.Targets) == 0 {
		return Outcome{}, errors.New("no real server to check")
	}
	role, err := s.role()
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Role: role}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	if role == vip.Backup {
		if s.HTTP != nil {
			out.Results, out.HTTP = s.connectHTTP(ctx)
			return out, nil
		}
		out.Results = vip.Connect(ctx, s.Targets, s.Port, s.Close)
		return out, nil
	}
	ifi, err := s.iface()
	if err != nil {
		return out, err
	}
	out.Interface = ifi.Name
	cfg := vip.Config{Interface: ifi, Source: s.Source, VIP: s.VIP, Port: s.Port, Close: s.Close, GuardKernel: s.GuardKernel}
	if s.HTTP != nil {
		out.Results, out.HTTP, err = s.probeHTTP(ctx, cfg)
		return out, err
	}
	out.Results, err = vip.Probe(ctx, cfg, s.Targets)
	return out, err
}

// probeHTTP runs the HTTP check of every real server at once through the
// VIP, over one socket and one userspace stack.
func (s Spec) probeHTTP(ctx context.Context, cfg vip.Config) ([]vip.Result, []l7.Result, error) {
	paths, err := vip.OpenPaths(ctx, cfg, s.Targets)
	if err != nil {
		return nil, nil, err
	}
	defer paths.Close()
	results, checks := make([]vip.Result, len(s.Targets)), make([]l7.Result, len(s.Targets))
	var wg sync.WaitGroup
	for i, t := range s.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 1; ; attempt++ {
				conn, a, err := paths.Dial(ctx, t.Addr)
				r := vip.Result{Target: t.Addr, Status: vip.StatusOf(err), SourcePort: a.Port, RTT: a.Connect, SYNs: a.SYNs}
				r.MAC, r.Resolve = paths.Resolved(t.Addr)
				if r.Status == vip.NoARP {
					r.MAC = nil // resolved only after Dial gave up
				}
				results[i], checks[i] = r, l7.Result{}
				if err != nil {
					return
				}
				checks[i] = s.HTTP.Check(ctx, conn)
				if !retryHTTP(ctx, checks[i], attempt) {
					return
				}
			}
		}()
	}
	wg.Wait()
	return results, checks, nil
}

// httpAttempts bounds the connections one HTTP check of a real server may
// open.
const httpAttempts = 3

// retryHTTP reports whether to check again on a new connection: only when
// the connection itself broke (reset, closed before a whole response) and
// time is left, since on a lossy path one TCP connection can fail where the
// next passes. A verdict on the response (status, headers, body, TLS) is
// never retried.
func retryHTTP(ctx context.Context, r l7.Result, attempt int) bool {
	return r.Failure == l7.Protocol && attempt < httpAttempts && ctx.Err() == nil
}

// connectHTTP is the backup role's HTTP check: plain connections to each
// real server's own address.
func (s Spec) connectHTTP(ctx context.Context) ([]vip.Result, []l7.Result) {
	results, checks := make([]vip.Result, len(s.Targets)), make([]l7.Result, len(s.Targets))
	var wg sync.WaitGroup
	for i, t := range s.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var d net.Dialer
			start := time.Now()
			conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(t.Addr.String(), strconv.Itoa(int(s.Port))))
			results[i] = vip.Result{Target: t.Addr, RTT: time.Since(start), Status: vip.ConnectStatus(err)}
			if err == nil {
				checks[i] = s.HTTP.Check(ctx, conn)
			}
		}()
	}
	wg.Wait()
	return results, checks
}

// iface returns the named interface, or the one the route to the first real
// server leaves by.
func (s Spec) iface() (*net.Interface, error) {
	if s.Interface != "" {
		ifi, err := net.InterfaceByName(s.Interface)
		if err != nil {
			return nil, fmt.Errorf("interface %s: %w", s.Interface, err)
		}
		return ifi, nil
	}
	return route.Interface(s.Targets[0].Addr)
}

// ParseTargets reads real servers: a list separated by commas or white
// space, or @FILE with one or more per line (# starts a comment). Each is
// an IPv4 or IPv6 address or a host name (its first IPv4 address),
// optionally with a static MAC as ADDR=MAC.
func ParseTargets(list string) ([]vip.Target, error) { return parseTargets(list, lookupIPv4) }

// lookupIPv4 returns the first IPv4 address of a host name.
func lookupIPv4(host string) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("%s has no IPv4 address", host)
	}
	return addrs[0].Unmap(), nil
}

// parseAddr reads an IPv4 or IPv6 address (without zone), or looks up a
// host name's IPv4 address when lookup is not nil.
func parseAddr(s string, lookup func(string) (netip.Addr, error)) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" || a.Is4In6() {
			return netip.Addr{}, fmt.Errorf("%q: give a global IPv6 address without zone, or IPv4", s)
		}
		return a, nil
	}
	if lookup == nil || s == "" || strings.ContainsAny(s, ":/@= ") {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	a, err := lookup(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address, and looking it up failed: %w", s, err)
	}
	return a, nil
}

func parseTargets(list string, lookup func(string) (netip.Addr, error)) ([]vip.Target, error) {
	if strings.HasPrefix(list, "@") {
		f, err := os.Open(list[1:])
		if err != nil {
			return nil, fmt.Errorf("reading real servers: %w", err)
		}
		defer f.Close()
		var b strings.Builder
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line, _, _ := strings.Cut(sc.Text(), "#")
			b.WriteString(line + "\n")
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("reading real servers from %s: %w", list[1:], err)
		}
		list = b.String()
	}
	var targets []vip.Target
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		addr, mac, hasMAC := strings.Cut(f, "=")
		a, err := parseAddr(addr, lookup)
		if err != nil {
			return nil, fmt.Errorf("real server %w", err)
		}
		t := vip.Target{Addr: a}
		if hasMAC {
			if t.MAC, err = net.ParseMAC(mac); err != nil || len(t.MAC) != 6 {
				return nil, fmt.Errorf("real server %s: bad MAC %q", addr, mac)
			}
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		return nil, errors.New("no real server given")
	}
	return targets, nil
}

// ParseVIP reads the virtual IP address, or looks up a host name.
func ParseVIP(s string) (netip.Addr, error) {
	a, err := parseAddr(s, lookupIPv4)
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
func (o Outcome) Line(i int) string {
	r := o.Results[i]
	if o.HTTP == nil || r.Status != vip.Up {
		return o.resultLine(r)
	}
	h := o.HTTP[i]
	var b strings.Builder
	switch {
	case h.Failure == l7.OK:
		fmt.Fprintf(&b, "%s up status=%d bytes=%d", r.Target, h.Status, h.Bytes)
	case h.Observed != "":
		fmt.Fprintf(&b, "%s %s observed=%q", r.Target, h.Failure, h.Observed)
	default:
		fmt.Fprintf(&b, "%s %s error=%q", r.Target, h.Failure, errText(h.Err))
	}
	o.writeTimings(&b, r, "connect")
	fmt.Fprintf(&b, " total=%s", ms(h.Took))
	return b.String()
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// resultLine describes one real server's TCP probe result in one line.
func (o Outcome) resultLine(r vip.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Target, r.Status)
	rtt := "rtt"
	if r.Status == vip.NoARP {
		rtt = "" // no SYN was sent
	}
	o.writeTimings(&b, r, rtt)
	return b.String()
}

// writeTimings appends r's timings: connect= for the backup role; else
// mac= and arp= where known and, unless rtt is empty, the connection time
// named rtt and syns=.
func (o Outcome) writeTimings(b *strings.Builder, r vip.Result, rtt string) {
	if o.Role == vip.Backup {
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
