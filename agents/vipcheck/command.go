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

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/checkstyle"
	"github.com/ocfkit/ocfkit/internal/duration"
	"github.com/ocfkit/ocfkit/probe/l7"
	"github.com/ocfkit/ocfkit/probe/leak"
	"github.com/ocfkit/ocfkit/probe/vip"
)

// DefaultTimeout is the time limit of a check without -t, and MaxTimeout
// the longest one (-t 0).
const (
	DefaultTimeout = time.Second
	MaxTimeout     = 30 * time.Second
)

// Ranges of the durations the command line takes: -t of tcp, http and
// ldirectord (0 means MaxTimeout, as check_tcp_raw's 0 disables its
// timeout), and -t of arp-leak (how long to collect answers: 0 would
// collect none and report no leak).
var (
	checkTimeout   = duration.Range{Unit: time.Millisecond, Min: 0, Max: MaxTimeout}
	arpLeakTimeout = duration.Range{Unit: time.Millisecond, Min: time.Millisecond, Max: MaxTimeout}
)

// parseTimeout reads the -t option of c in r; a value out of r, or not a
// duration, is a usage error.
func parseTimeout(c *cli.Context, r duration.Range) (time.Duration, error) {
	d, err := r.Parse(c.String("timeout"))
	if err != nil {
		return 0, checkstyle.Usage(fmt.Errorf("-t/--timeout %w", err))
	}
	return d, nil
}

// checkFlags are the options of tcp and ldirectord: check_tcp_raw's -c, -r,
// -t, -v, and ocfkit's additions.
func checkFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "close", Aliases: []string{"c"}, Usage: "close healthy connections with FIN instead of RST"},
		&cli.StringFlag{Name: "role-file", Aliases: []string{"r"}, Usage: "role `FILE`: first byte 1 = master (raw probe), else backup (plain connect to REAL_SERVER:PORT)"},
		&cli.StringFlag{Name: "timeout", Aliases: []string{"t"}, Value: "1000", Usage: "time limit of the whole check, `MS` (a number of milliseconds, or a duration such as 500ms or 3s), from 1ms to 30s; 0 means the longest, 30s"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "explain the check on stderr"},
		&cli.StringFlag{Name: "role", Value: string(RoleMaster), Usage: "master (raw probe through the VIP), backup (plain connect) or auto (master when the VIP is configured here); -r overrides it"},
		&cli.StringFlag{Name: "source", Usage: "source `ADDRESS` of the probe (default: an address of the interface other than the VIP)"},
		checkstyle.Flag(),
	}
}

// Argument orders of the commands, for messages and for telling swapped
// arguments apart.
var (
	tcpOrder        = []string{"IFACE", "REAL_SERVER", "VIP", "PORT"}
	ldirectordOrder = []string{"VIP", "VPORT", "RIP", "RPORT"}
	httpOrder       = []string{"IFACE", "REAL_SERVER", "VIP", "PORT", "HOST", "PATH"}
)

// tcpCommand is check_tcp_raw's command line.
func tcpCommand() *cli.Command {
	return &cli.Command{
		Name:                   "tcp",
		Usage:                  "check LVS-DR real servers with a TCP SYN through the VIP (check_tcp_raw compatible)",
		ArgsUsage:              "IFACE REAL_SERVER VIP PORT\n\n   REAL_SERVER is an address (IPv4 or IPv6, as the VIP), a comma list, or @FILE;\n   ADDR=MAC gives a static MAC.\n   IFACE may be - for the interface of the route to the first real server.",
		Flags:                  checkFlags(),
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			a, err := positional(c, tcpOrder)
			if err != nil {
				return err
			}
			return runCheck(c, tcpOrder, a[0], a[1], a[2], a[3], nil)
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
			a, err := positional(c, ldirectordOrder)
			if err != nil {
				return err
			}
			// In direct routing the real server listens on the virtual
			// port; RPORT is the same and not needed.
			return runCheck(c, ldirectordOrder, "", a[2], a[0], a[1], nil)
		},
	}
}

// positional returns the command's arguments when there are as many as
// order names; else a usage error.
func positional(c *cli.Context, order []string) ([]string, error) {
	a := c.Args().Slice()
	if len(a) != len(order) {
		return nil, checkstyle.Usage(fmt.Errorf("expected %s, got %d arguments", strings.Join(order, " "), len(a)))
	}
	return a, nil
}

// couldNotRun reports a check that could not run (no interface, no
// permission) in the caller's style: UNKNOWN, or down.
func couldNotRun(c *cli.Context, err error) error {
	style, serr := checkstyle.FromCLI(c)
	if serr != nil {
		return checkstyle.Usage(serr)
	}
	return style.Exit(c.App.Writer, checkstyle.Result{Service: "VIPCHECK", Status: checkstyle.Unknown, Summary: err.Error()})
}

// runCheck runs the tcp check, or the http check when h is not nil. An
// iface of "-" or "" is the interface of the route to the first real
// server. order names the command's arguments, for the hint on swapped
// ones.
func runCheck(c *cli.Context, order []string, iface, servers, vipArg, portArg string, h *l7.HTTP) error {
	style, err := checkstyle.FromCLI(c)
	if err != nil {
		return checkstyle.Usage(err)
	}
	if iface == "-" {
		iface = ""
	}
	spec := Check{Interface: iface, Close: c.Bool("close"), Role: RoleMode(c.String("role")), RoleFile: c.String("role-file"),
		HTTP: h, GuardKernel: c.Bool("nft-guard")}
	err = func() (err error) {
		if spec.Timeout, err = parseTimeout(c, checkTimeout); err != nil {
			return err
		}
		if spec.Timeout == 0 { // check_tcp_raw: 0 disables its timeout
			spec.Timeout = MaxTimeout
		}
		if iface != "" && isAddressOrNumber(iface) {
			return fmt.Errorf("interface %q is an address or a number, not an interface name", iface)
		}
		if spec.Targets, err = ParseTargets(c.Context, servers); err != nil {
			return err
		}
		if spec.VIP, err = ParseVIP(c.Context, vipArg); err != nil {
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
		return nil
	}()
	if err != nil {
		if !errors.Is(err, checkstyle.ErrUsage) {
			err = fmt.Errorf("%w%s", err, swapHint(order, c.Args().Slice()))
		}
		return checkstyle.Usage(err)
	}
	o, err := spec.Run(c.Context)
	if err != nil {
		return couldNotRun(c, err)
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

// isAddressOrNumber reports whether s is an IP address or a number: not
// an interface name given where one goes.
func isAddressOrNumber(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// swapHint explains arguments that look swapped: a port where an address
// goes, an address where a port or an interface goes. It returns "" when
// nothing looks out of place.
func swapHint(order, args []string) string {
	if len(args) != len(order) {
		return ""
	}
	var odd []string
	for i, name := range order {
		a := args[i]
		_, addrErr := netip.ParseAddr(a)
		_, numErr := strconv.ParseUint(a, 10, 16)
		switch name {
		case "IFACE":
			if addrErr == nil || numErr == nil {
				odd = append(odd, fmt.Sprintf("%q where %s goes", a, name))
			}
		case "REAL_SERVER", "VIP", "RIP":
			if numErr == nil {
				odd = append(odd, fmt.Sprintf("the port %q where %s goes", a, name))
			}
		case "PORT", "VPORT", "RPORT":
			if addrErr == nil {
				odd = append(odd, fmt.Sprintf("the address %q where %s goes", a, name))
			}
		}
	}
	if len(odd) == 0 {
		return ""
	}
	return fmt.Sprintf(" (arguments swapped? %s; the order is %s)", strings.Join(odd, ", "), strings.Join(order, " "))
}

func roleSource(s Check) string {
	if s.RoleFile != "" {
		return "from " + s.RoleFile
	}
	return "--role " + string(s.Role)
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
func report(style checkstyle.Style, spec Check, o Report) checkstyle.Result {
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
	if o.Role == Backup {
		how = "by plain connect, backup role, not through VIP"
	}
	r.Summary = fmt.Sprintf("%d of %d real servers up %s %v:%d", o.Healthy(), len(o.Results), how, spec.VIP, spec.Port)
	if len(down) > maxDownListed {
		down = append(down[:maxDownListed], fmt.Sprintf("and %d more", len(down)-maxDownListed))
	}
	if len(down) > 0 {
		r.Summary += "; down: " + strings.Join(down, ", ")
	}
	return r
}

// maxDownListed bounds the real servers a Nagios status line names as
// down: Nagios keeps only the first few KiB of it.
const maxDownListed = 20

// arpLeakCommand finds hosts that answer ARP for the VIP.
func arpLeakCommand() *cli.Command {
	return &cli.Command{
		Name:  "arp-leak",
		Usage: "ask who has the VIP and report every answer but this host's (a real server without arp_ignore)",
		ArgsUsage: "IFACE VIP\n\n   Where the VIP is not configured on this host (a backup balancer) and no --allow is\n" +
			"   given, one answer, the master's, is expected; a leak is then two or more answering MACs.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "timeout", Aliases: []string{"t"}, Value: "500", Usage: "how long to collect answers, `MS` (a number of milliseconds, or a duration such as 500ms or 3s), from 1ms to 30s"},
			&cli.StringSliceFlag{Name: "allow", Usage: "`MAC` allowed to answer (repeatable)"},
			checkstyle.Flag(),
		},
		Action: func(c *cli.Context) error {
			style, err := checkstyle.FromCLI(c)
			if err != nil {
				return checkstyle.Usage(err)
			}
			a, err := positional(c, []string{"IFACE", "VIP"})
			if err != nil {
				return err
			}
			timeout, err := parseTimeout(c, arpLeakTimeout)
			if err != nil {
				return err
			}
			addr, err := ParseVIP(c.Context, a[1])
			if err != nil {
				return checkstyle.Usage(fmt.Errorf("%w%s", err, swapHint([]string{"IFACE", "VIP"}, a)))
			}
			res := checkstyle.Result{Service: "ARPLEAK", Status: checkstyle.Unknown}
			ifi, err := InterfaceByName(a[0])
			if err != nil {
				res.Summary = err.Error()
				return style.Exit(c.App.Writer, res)
			}
			ctx, cancel := context.WithTimeout(c.Context, timeout)
			defer cancel()
			allow, err := parseMACs(c.StringSlice("allow"))
			var l leak.Result
			if err == nil {
				l, err = leak.Check(ctx, ifi, addr, allow)
			}
			if errors.Is(err, os.ErrPermission) {
				err = Check{}.noRawError(err)
			}
			if err != nil {
				res.Summary = err.Error()
				return style.Exit(c.App.Writer, res)
			}
			res.Status, res.Summary = checkstyle.Up, leakSummary(l)
			if l.Leaking() {
				res.Status = checkstyle.Down
			}
			return style.Exit(c.App.Writer, res)
		},
	}
}

// parseMACs reads the MACs of --allow.
func parseMACs(list []string) ([]net.HardwareAddr, error) {
	macs := make([]net.HardwareAddr, len(list))
	for i, a := range list {
		m, err := net.ParseMAC(a)
		if err != nil {
			return nil, fmt.Errorf("--allow %q: %w", a, err)
		}
		macs[i] = m
	}
	return macs, nil
}

// leakSummary describes a leak check's answers in one line.
func leakSummary(l leak.Result) string {
	var b strings.Builder
	what, proto := "ARP leak", "ARP"
	if l.VIP.Is6() {
		what, proto = "neighbour leak", "neighbour solicitations"
	}
	switch {
	case l.Leaking():
		fmt.Fprintf(&b, "%s: %d host(s) answer for %v", what, len(l.Foreign), l.VIP)
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
