package vipcheck

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/checkstyle"
	"github.com/ocfkit/ocfkit/probe/l7"
	"github.com/ocfkit/ocfkit/probe/neigh"
	"github.com/ocfkit/ocfkit/probe/vip"
)

// DefaultTimeout is the time limit of a check without -t, and MaxTimeout
// the longest one (-t 0).
const (
	DefaultTimeout = time.Second
	MaxTimeout     = 30 * time.Second
)

// checkFlags are the options of tcp and ldirectord: check_tcp_raw's -c, -r,
// -t, -v, and ocfkit's additions.
func checkFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "close", Aliases: []string{"c"}, Usage: "close healthy connections with FIN instead of RST"},
		&cli.StringFlag{Name: "role-file", Aliases: []string{"r"}, Usage: "role `FILE`: first byte 1 = master (raw probe), else backup (plain connect to REAL_SERVER:PORT)"},
		&cli.IntFlag{Name: "timeout", Aliases: []string{"t"}, Value: int(DefaultTimeout / time.Millisecond), Usage: "time limit in `MS` of the whole check; 0 means the longest, 30 s"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "explain the check on stderr"},
		&cli.StringFlag{Name: "role", Value: RoleMaster, Usage: "master (raw probe through the VIP), backup (plain connect) or auto (master when the VIP is configured here); -r overrides it"},
		&cli.StringFlag{Name: "source", Usage: "source `ADDRESS` of the probe (default: an address of the interface other than the VIP)"},
		checkstyle.Flag(),
	}
}

// tcpCommand is check_tcp_raw's command line.
func tcpCommand() *cli.Command {
	return &cli.Command{
		Name:                   "tcp",
		Usage:                  "check LVS-DR real servers with a TCP SYN through the VIP (check_tcp_raw compatible)",
		ArgsUsage:              "IFACE REAL_SERVER VIP PORT\n\n   REAL_SERVER is an address (IPv4 or IPv6, as the VIP), a comma list, or @FILE;\n   ADDR=MAC gives a static MAC.\n   IFACE may be - for the interface of the route to the first real server.",
		Flags:                  checkFlags(),
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			a := c.Args().Slice()
			if len(a) != 4 {
				return usageError(c, fmt.Errorf("expected IFACE REAL_SERVER VIP PORT, got %d arguments", len(a)))
			}
			return runCheck(c, a[0], a[1], a[2], a[3], nil)
		},
	}
}

// ldirectordCommand takes ldirectord's external check arguments.
func ldirectordCommand() *cli.Command {
	return &cli.Command{
		Name:                   "ldirectord",
		Usage:                  "the tcp check with ldirectord's checkcommand arguments; the interface is the route's to RIP",
		ArgsUsage:              "VIP VPORT RIP RPORT",
		Flags:                  checkFlags(),
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			a := c.Args().Slice()
			if len(a) != 4 {
				return usageError(c, fmt.Errorf("expected VIP VPORT RIP RPORT, got %d arguments", len(a)))
			}
			// In direct routing the real server listens on the virtual
			// port; RPORT is the same and not needed.
			return runCheck(c, "", a[2], a[0], a[1], nil)
		},
	}
}

// usageError reports bad arguments, or a check that could not run, in the
// caller's style (UNKNOWN, down).
func usageError(c *cli.Context, err error) error {
	style, serr := checkstyle.FromCLI(c)
	if serr != nil {
		return cli.Exit(serr.Error(), 2)
	}
	return style.Exit(c.App.Writer, checkstyle.Result{Service: "VIPCHECK", Status: checkstyle.Unknown, Summary: err.Error()})
}

// runCheck runs the tcp check, or the http check when h is not nil. An
// iface of "-" or "" is the interface of the route to the first real
// server.
func runCheck(c *cli.Context, iface, servers, vipArg, portArg string, h *l7.HTTP) error {
	style, err := checkstyle.FromCLI(c)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	if iface == "-" {
		iface = ""
	}
	spec := Spec{Interface: iface, Close: c.Bool("close"), Role: c.String("role"), RoleFile: c.String("role-file"),
		Timeout: time.Duration(c.Int("timeout")) * time.Millisecond, HTTP: h, GuardKernel: c.Bool("nft-guard")}
	err = func() (err error) {
		if spec.Targets, err = ParseTargets(servers); err != nil {
			return err
		}
		if spec.VIP, err = ParseVIP(vipArg); err != nil {
			return err
		}
		if spec.Port, err = ParsePort(portArg); err != nil {
			return err
		}
		if s := c.String("source"); s != "" {
			if spec.Source, err = netip.ParseAddr(s); err != nil {
				return fmt.Errorf("source %q: %w", s, err)
			}
		}
		switch {
		case spec.Timeout == 0: // check_tcp_raw: 0 disables its timeout
			spec.Timeout = MaxTimeout
		case spec.Timeout < 0 || spec.Timeout > MaxTimeout:
			return fmt.Errorf("timeout %d ms is not between 0 and %d", c.Int("timeout"), MaxTimeout.Milliseconds())
		}
		return nil
	}()
	if err != nil {
		return usageError(c, err)
	}
	o, err := spec.Run(c.Context)
	if err != nil {
		return usageError(c, err)
	}
	if c.Bool("verbose") {
		fmt.Fprintf(c.App.ErrWriter, "role %s (%s); VIP %v port %d; interface %s; timeout %v\n",
			o.Role, roleSource(spec), spec.VIP, spec.Port, orDash(o.Interface), spec.Timeout)
		if spec.HTTP != nil {
			fmt.Fprintln(c.App.ErrWriter, spec.HTTP.Describe())
		}
	}
	return style.Exit(c.App.Writer, report(style, spec, o))
}

func roleSource(s Spec) string {
	if s.RoleFile != "" {
		return "from " + s.RoleFile
	}
	return "--role " + s.Role
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// report turns an outcome into the caller's result: up only when every
// real server is up. Nagios gets one status line; the others one line per
// real server.
func report(style checkstyle.Style, spec Spec, o Outcome) checkstyle.Result {
	r := checkstyle.Result{Service: "VIPCHECK", Status: checkstyle.Up}
	lines := make([]string, len(o.Results))
	var down []string
	for i, res := range o.Results {
		lines[i] = o.Line(i)
		if !o.Up(i) {
			r.Status = checkstyle.Down
			what := res.Status.String()
			if res.Status == vip.Up && o.HTTP != nil {
				what = string(o.HTTP[i].Failure)
			}
			down = append(down, fmt.Sprintf("%s %s", res.Target, what))
		}
		if res.Status == vip.Up || res.Status == vip.Refused {
			r.Timings = append(r.Timings, checkstyle.Timing{Label: res.Target.String(), Took: res.RTT})
		}
	}
	if style != checkstyle.Nagios {
		r.Summary = strings.Join(lines, "\n")
		return r
	}
	how := "through VIP"
	if o.Role == vip.Backup {
		how = "by plain connect, backup role, not through VIP"
	}
	r.Summary = fmt.Sprintf("%d of %d real servers up %s %v:%d", o.Healthy(), len(o.Results), how, spec.VIP, spec.Port)
	if len(down) > 0 {
		r.Summary += "; down: " + strings.Join(down, ", ")
	}
	return r
}

// arpLeakCommand finds hosts that answer ARP for the VIP.
func arpLeakCommand() *cli.Command {
	return &cli.Command{
		Name:  "arp-leak",
		Usage: "ask who has the VIP and report every answer but this host's (a real server without arp_ignore)",
		ArgsUsage: "IFACE VIP\n\n   Where the VIP is not configured on this host (a backup balancer) and no --allow is\n" +
			"   given, one answer, the master's, is expected; a leak is then two or more answering MACs.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "timeout", Aliases: []string{"t"}, Value: 500, Usage: "how long to collect answers, in `MS`"},
			&cli.StringSliceFlag{Name: "allow", Usage: "`MAC` allowed to answer (repeatable)"},
			checkstyle.Flag(),
		},
		Action: func(c *cli.Context) error {
			style, err := checkstyle.FromCLI(c)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			a := c.Args().Slice()
			res := checkstyle.Result{Service: "ARPLEAK", Status: checkstyle.Unknown}
			if len(a) != 2 {
				res.Summary = fmt.Sprintf("expected IFACE VIP, got %d arguments", len(a))
				return style.Exit(c.App.Writer, res)
			}
			addr, err := ParseVIP(a[1])
			if err != nil {
				res.Summary = err.Error()
				return style.Exit(c.App.Writer, res)
			}
			ifi, err := net.InterfaceByName(a[0])
			if err != nil {
				res.Summary = fmt.Sprintf("interface %s: %v", a[0], err)
				return style.Exit(c.App.Writer, res)
			}
			ctx, cancel := context.WithTimeout(c.Context, time.Duration(c.Int("timeout"))*time.Millisecond)
			defer cancel()
			leak, err := ARPLeak(ctx, ifi, addr, c.StringSlice("allow"))
			if err != nil {
				res.Summary = err.Error()
				return style.Exit(c.App.Writer, res)
			}
			res.Status, res.Summary = checkstyle.Up, leak.Summary()
			if leak.Leaking() {
				res.Status = checkstyle.Down
			}
			return style.Exit(c.App.Writer, res)
		},
	}
}

// Leak is what an ARP leak check found.
type Leak struct {
	VIP      netip.Addr
	Answers  []neigh.Answer // every answer
	Foreign  []neigh.Answer // answers from neither this host nor an allowed MAC
	expected int
}

// Leaking reports whether more hosts answer for the VIP than should: none
// besides this host where the VIP is local, else one (the master).
func (l Leak) Leaking() bool { return len(l.Foreign) > l.expected }

// Summary describes the answers in one line.
func (l Leak) Summary() string {
	var b strings.Builder
	leak, proto := "ARP leak", "ARP"
	if l.VIP.Is6() {
		leak, proto = "neighbour leak", "neighbour solicitations"
	}
	switch {
	case l.Leaking():
		fmt.Fprintf(&b, "%s: %d host(s) answer for %v", leak, len(l.Foreign), l.VIP)
	case len(l.Answers) == 0:
		fmt.Fprintf(&b, "no other host answers %s for %v", proto, l.VIP)
	default:
		fmt.Fprintf(&b, "only the expected host answers %s for %v", proto, l.VIP)
	}
	for i, a := range l.Answers {
		sep := ","
		if i == 0 {
			sep = ":"
		}
		fmt.Fprintf(&b, "%s %s (%s)", sep, a.MAC, ms(a.After))
	}
	return b.String()
}

// ARPLeak asks who has addr on ifi until ctx ends. The MACs in allow may
// answer besides this host's.
func ARPLeak(ctx context.Context, ifi *net.Interface, addr netip.Addr, allow []string) (Leak, error) {
	role, err := vip.RoleFromAddresses(addr)
	if err != nil {
		return Leak{}, err
	}
	l := Leak{VIP: addr}
	if role != vip.Master && len(allow) == 0 {
		l.expected = 1 // the master's answer
	}
	ok := map[string]bool{}
	for _, a := range allow {
		m, err := net.ParseMAC(a)
		if err != nil {
			return Leak{}, fmt.Errorf("--allow %q: %w", a, err)
		}
		ok[m.String()] = true
	}
	locals, err := net.Interfaces()
	if err != nil {
		return Leak{}, fmt.Errorf("listing interfaces: %w", err)
	}
	for _, i := range locals {
		ok[i.HardwareAddr.String()] = true
	}
	src, err := vip.SourceAddress(ifi, addr, netip.Addr{})
	if err != nil {
		return Leak{}, err
	}
	conn, err := neigh.Listen(ifi)
	if err != nil {
		return Leak{}, err
	}
	defer conn.Close()
	client, err := neigh.New(conn, ifi.HardwareAddr, src)
	if err != nil {
		return Leak{}, err
	}
	if l.Answers, err = client.WhoHas(ctx, addr); err != nil {
		return Leak{}, err
	}
	for _, a := range l.Answers {
		if !ok[a.MAC.String()] {
			l.Foreign = append(l.Foreign, a)
		}
	}
	return l, nil
}
