package sockd

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/checkstyle"
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
			&cli.IntFlag{Name: "depth", Value: DepthDataPath, Usage: "check depth: 10 negotiation, 20 data path"},
			&cli.DurationFlag{Name: "timeout", Value: 5e9, Usage: "time limit of the whole check"},
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
		return cli.Exit(err.Error(), 2)
	}
	result := checkstyle.Result{Service: "SOCKS", Status: checkstyle.Unknown}
	proxy, check, err := checkFromFlags(c)
	if err != nil {
		result.Summary = err.Error()
		return style.Exit(os.Stdout, result)
	}
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
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
			return style.Exit(os.Stdout, result)
		}
		defer check.Echo.Close()
	}
	r := check.Run(ctx, proxy)
	result.Status, result.Summary, result.Timings = checkstyle.Up, r.summary(check.Depth), r.Timings
	if r.Err != nil {
		result.Status = checkstyle.Down
	}
	return style.Exit(os.Stdout, result)
}

// checkFromFlags reads the proxy address and the check from the command
// line.
func checkFromFlags(c *cli.Context) (string, *Check, error) {
	proxy, err := proxyFromArgs(c.Args().Slice())
	if err != nil {
		return "", nil, err
	}
	check := &Check{
		Depth:     c.Int("depth"),
		Username:  c.String("username"),
		UDP:       c.Bool("udp"),
		Target:    c.String("target"),
		UDPTarget: c.String("udp-target"),
		Send:      []byte(unescape(c.String("send"))),
		Expect:    []byte(unescape(c.String("expect"))),
	}
	if check.Depth != DepthNegotiation && check.Depth != DepthDataPath {
		return "", nil, fmt.Errorf("--depth must be %d or %d", DepthNegotiation, DepthDataPath)
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
// RIP RPORT (the real server is checked).
func proxyFromArgs(args []string) (string, error) {
	switch len(args) {
	case 1:
		host := args[0]
		if h, p, err := net.SplitHostPort(host); err == nil {
			return net.JoinHostPort(h, p), nil
		}
		return net.JoinHostPort(strings.Trim(host, "[]"), fmt.Sprint(DefaultPort)), nil
	case 2:
		return net.JoinHostPort(args[0], args[1]), nil
	case 4:
		return net.JoinHostPort(args[2], args[3]), nil
	}
	return "", fmt.Errorf("expected HOST[:PORT], HOST PORT or VIP VPORT RIP RPORT, got %d arguments", len(args))
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
