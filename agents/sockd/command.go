package sockd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/checkstyle"
	"github.com/ocfkit/ocfkit/internal/duration"
)

// checkCommand is `ocf-sockd check`: the deep check for relayd,
// keepalived, ldirectord and Nagios, against any SOCKS5 proxy.
func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "check a SOCKS5 proxy from outside a cluster (relayd, keepalived, ldirectord, Nagios)",
		ArgsUsage: "HOST[:PORT] | HOST PORT | VIP VPORT RIP RPORT (ldirectord)\n\n" +
			"   The port defaults to 1080. Depth 10 completes negotiation (and authentication);\n" +
			"   depth 20 relays a nonce through a CONNECT (and, with --udp, a UDP ASSOCIATE) to an\n" +
			"   echo endpoint the check opens on this host, or to --target/--udp-target.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "depth", Value: int(DepthDataPath), Usage: "check depth: 10 negotiation, 20 data path"},
			&cli.StringFlag{Name: "timeout", Value: "5s", Usage: "time limit of the whole check: " + checkTimeouts.String()},
			&cli.StringFlag{Name: "username", Usage: "SOCKS5 user name (RFC 1929)"},
			&cli.StringFlag{Name: "password-file", Usage: "file whose first line is the password"},
			&cli.BoolFlag{Name: "udp", Usage: "also check a UDP ASSOCIATE round trip (depth 20)"},
			&cli.StringFlag{Name: "target", Usage: "upstream host:port to CONNECT to instead of the own echo endpoint"},
			&cli.StringFlag{Name: "send", Usage: `bytes to send to --target (\r \n \t \\ understood)`},
			&cli.StringFlag{Name: "expect", Usage: "bytes --target must answer"},
			&cli.StringFlag{Name: "udp-target", Usage: "upstream UDP echo host:port instead of the own endpoint"},
			&cli.StringFlag{Name: "echo-address", Usage: "address the own echo endpoint listens on (default: this host's address towards the proxy)"},
			checkstyle.Flag(),
		},
		Action: runCheckCommand,
	}
}

func runCheckCommand(c *cli.Context) error {
	style, err := checkstyle.FromCLI(c)
	if err != nil {
		return err // a usage error, exited in the style the line implies
	}
	result := checkstyle.Result{Service: "SOCKS", Status: checkstyle.Unknown}
	proxy, check, err := checkFromFlags(c)
	var timeout time.Duration
	if err == nil {
		if timeout, err = checkTimeouts.Parse(c.String("timeout")); err != nil {
			err = checkstyle.Usage(fmt.Errorf("--timeout: %w", err))
		}
	}
	if errors.Is(err, checkstyle.ErrUsage) {
		// The command line exits in the caller's style
		// (checkstyle.UsageExit).
		return err
	}
	if err != nil { // the check could not run: UNKNOWN
		result.Summary = err.Error()
		return style.Exit(c.App.Writer, result)
	}
	ctx, cancel := context.WithTimeout(c.Context, timeout)
	defer cancel()
	if check.Depth >= DepthDataPath {
		addr, err := localAddressTowards(proxy)
		if v := c.String("echo-address"); v != "" {
			addr, err = resolveHostOne(ctx, v)
		}
		if err == nil {
			check.Echo, err = startEcho(addr, check.UDP)
		}
		if err != nil {
			result.Summary = fmt.Sprintf("opening the check's echo endpoint: %v", err)
			return style.Exit(c.App.Writer, result)
		}
		defer check.Echo.Close()
	}
	r := check.Run(ctx, proxy)
	result.Status, result.Summary, result.Timings = checkstyle.Up, r.summary(check.Depth), r.Timings
	if r.Err != nil {
		result.Status = checkstyle.Down
	}
	return style.Exit(c.App.Writer, result)
}

// checkTimeouts is the range of the check command's --timeout.
var checkTimeouts = duration.Range{Unit: time.Second, Min: time.Millisecond, Max: time.Hour}

// checkFromFlags reads the proxy address and the check from the command
// line.
func checkFromFlags(c *cli.Context) (string, *Check, error) {
	proxy, err := proxyFromArgs(c.Args().Slice())
	if err != nil {
		return "", nil, err
	}
	check := &Check{
		Depth:     Depth(c.Int("depth")),
		Username:  c.String("username"),
		UDP:       c.Bool("udp"),
		Target:    c.String("target"),
		UDPTarget: c.String("udp-target"),
		Send:      []byte(unescape(c.String("send"))),
		Expect:    []byte(unescape(c.String("expect"))),
	}
	if check.Depth != DepthNegotiation && check.Depth != DepthDataPath {
		return "", nil, checkstyle.Usage(fmt.Errorf("--depth must be %d or %d", DepthNegotiation, DepthDataPath))
	}
	if err := checkUsername(check.Username); err != nil {
		return "", nil, checkstyle.Usage(fmt.Errorf("--username: %w", err))
	}
	if check.Username != "" {
		if check.Password, err = readPassword(c.String("password-file")); err != nil {
			return "", nil, checkstyle.Usage(fmt.Errorf("--password-file: %w", err))
		}
	}
	return proxy, check, nil
}

// proxyFromArgs accepts HOST[:PORT], HOST PORT, and ldirectord's VIP VPORT
// RIP RPORT (the real server is checked). Mistakes are usage errors that
// say how to write the address.
func proxyFromArgs(args []string) (string, error) {
	switch len(args) {
	case 1:
		return proxyFromOne(args[0])
	case 2:
		return proxyFromPair(args[0], args[1])
	case 4:
		return proxyFromPair(args[2], args[3])
	}
	return "", checkstyle.Usage(fmt.Errorf("expected HOST[:PORT], HOST PORT or VIP VPORT RIP RPORT, got %d arguments", len(args)))
}

// proxyFromOne reads HOST, HOST:PORT, an IPv6 address alone or [IPv6]:PORT.
// An IPv6 address without brackets whose last group could be a port
// (::1:1080) is refused as ambiguous.
func proxyFromOne(arg string) (string, error) {
	if inner, ok := strings.CutPrefix(arg, "["); ok && strings.HasSuffix(inner, "]") {
		arg = strings.TrimSuffix(inner, "]")
		if _, err := netip.ParseAddr(arg); err != nil {
			return "", checkstyle.Usage(fmt.Errorf("[%s] is not an IPv6 address", arg))
		}
		return net.JoinHostPort(arg, fmt.Sprint(DefaultPort)), nil
	}
	if _, err := netip.ParseAddr(arg); err == nil {
		if err := ambiguousIPv6(arg); err != nil {
			return "", err
		}
		return net.JoinHostPort(arg, fmt.Sprint(DefaultPort)), nil
	}
	if h, p, err := net.SplitHostPort(arg); err == nil {
		return proxyFromPair(h, p)
	}
	if i := strings.LastIndexByte(arg, ':'); i > 0 && strings.Count(arg, ":") > 1 {
		if _, err := netip.ParseAddr(arg[:i]); err == nil {
			return "", checkstyle.Usage(fmt.Errorf("%q is not an address: write an IPv6 address with a port as [%s]:%s", arg, arg[:i], arg[i+1:]))
		}
	}
	if strings.ContainsAny(arg, "[]:/ ") || arg == "" {
		return "", checkstyle.Usage(fmt.Errorf("%q is not HOST[:PORT]", arg))
	}
	return net.JoinHostPort(arg, fmt.Sprint(DefaultPort)), nil
}

// ambiguousIPv6 refuses an IPv6 address written without brackets whose last
// group reads as a port of three or more digits (::1:1080, fe80::5:8080):
// the check would otherwise go to an address nobody meant.
func ambiguousIPv6(arg string) error {
	i := strings.LastIndexByte(arg, ':')
	if i < 0 || !strings.Contains(arg, "::") {
		return nil
	}
	host, port := arg[:i], arg[i+1:]
	if len(port) < 3 || strings.Trim(port, "0123456789") != "" {
		return nil
	}
	if _, err := parsePort(port); err != nil {
		return nil
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return nil
	}
	return checkstyle.Usage(fmt.Errorf("%q is ambiguous: use [%s]:%s for port %s, or [%s] for the address alone", arg, host, port, port, arg))
}

// proxyFromPair checks a host and a port given apart, and catches them
// given the wrong way round.
func proxyFromPair(host, port string) (string, error) {
	_, hostErr := parsePort(host)
	if _, err := parsePort(port); err != nil {
		if hostErr == nil {
			return "", checkstyle.Usage(fmt.Errorf("HOST and PORT are swapped: %s is a port and %s is not; write HOST PORT", host, port))
		}
		return "", checkstyle.Usage(err)
	}
	if host == "" {
		return "", checkstyle.Usage(fmt.Errorf("no host given before port %s", port))
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return net.JoinHostPort(host, port), nil
}

// parsePort reads a TCP port number, 1 to 65535.
func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number (1 to 65535)", s)
	}
	return n, nil
}

// resolveHostOne returns the first usable address of an address,
// interface or host name.
func resolveHostOne(ctx context.Context, host string) (netip.Addr, error) {
	addrs, err := resolveHost(ctx, host)
	if err != nil {
		return netip.Addr{}, err
	}
	return addrs[0], nil
}
