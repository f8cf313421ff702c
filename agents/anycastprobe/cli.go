// Package anycastprobe is anycast-probe: a daemon that holds a service's
// addresses on an interface (for a routing daemon to advertise) only while
// the service works, and withdraws them the moment it fails.
package anycastprobe

// The command line. Errors become exit codes in exitCode alone.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/clikit"
	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // could not run, or check: a service is unhealthy
	exitUsage  = 2
)

// exitError carries an exit code to exitCode (clikit.ExitError).
type exitError = clikit.ExitError

func usageErr(format string, a ...any) error {
	return &exitError{Code: exitUsage, Err: fmt.Errorf(format, a...)}
}

// Main runs anycast-probe and returns its exit code. It reads no other
// arguments or environment than those given.
func Main(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	a := app()
	a.Writer, a.ErrWriter = stdout, stderr
	a.Metadata = map[string]any{"env": env}
	return exitCode(clikit.Run(a, ocf.Version, args), stderr)
}

// exitCode is the one place where errors become exit codes.
func exitCode(err error, stderr io.Writer) int {
	return clikit.ExitCode(err, "anycast-probe", stderr, exitFailed, exitUsage, isCLIExit)
}

// isCLIExit reports an error urfave/cli made with its own exit code: a
// usage error here.
func isCLIExit(err error) bool {
	var ec cli.ExitCoder
	return errors.As(err, &ec)
}

func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: DefaultConfig, Usage: "configuration `FILE`"}
}

// probeFlags are the health options of the one-liners.
func probeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "interval", Value: "1s", Usage: "probe every `DURATION` (" + IntervalRange.String() + ")"},
		&cli.StringFlag{Name: "fast-interval", Usage: "probe every `DURATION` while a change is pending (default: interval)"},
		&cli.StringFlag{Name: "timeout", Value: "1s", Usage: "give a probe `DURATION` (" + TimeoutRange.String() + ")"},
		&cli.IntFlag{Name: "rise", Value: 1, Usage: "`N` good probes in a row bring the addresses up"},
		&cli.IntFlag{Name: "fall", Value: 1, Usage: "`N` bad probes in a row take them down"},
		&cli.IntFlag{Name: "protocol", Value: DefaultProtocol, Usage: "kernel protocol `NUMBER` marking our addresses and routes"},
		&cli.StringFlag{Name: "socket", Usage: "answer `anycast-probe status` on this unix socket `PATH`"},
		&cli.StringFlag{Name: "metrics-listen", Usage: "serve Prometheus metrics (GET /metrics) on `IP:PORT`"},
	}
}

func ifaceFlag() cli.Flag {
	return &cli.StringFlag{Name: "interface", Aliases: []string{"i"}, Value: DefaultIface, Usage: "hold the addresses on `IFACE`"}
}

func app() *cli.App {
	return &cli.App{
		Name:  "anycast-probe",
		Usage: "hold a service's anycast addresses only while the service works",
		Description: "anycast-probe probes local services (DNS, RADIUS, syslog, HTTP and SOCKS proxies, TCP, a\n" +
			"command) and holds each one's addresses on an interface (lo) while it is healthy, for a routing\n" +
			"daemon (FRR, BIRD) to advertise. Signals: TERM withdraws everything and exits; TSTP withdraws\n" +
			"and pauses; CONT resumes (every service DOWN until its first rise); HUP reloads the file; USR1\n" +
			"probes now.",
		ExitErrHandler: func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("unknown command %q; see anycast-probe help", c.Args().First())
			}
			_ = cli.ShowAppHelp(c)
			return &exitError{Code: exitUsage}
		},
		Commands: []*cli.Command{
			{Name: "run", Usage: "run the services of a configuration file (the daemon)",
				Flags: []cli.Flag{configFlag()}, Action: runCommand},
			{Name: "check", Usage: "probe every service of a configuration file once and print its verdict",
				Description: "Exit status: 0 every service healthy, 1 otherwise, 2 usage error.",
				Flags:       []cli.Flag{configFlag()}, Action: checkCommand},
			{Name: "status", Usage: "ask the running daemon for each service's state",
				Description: "With --json, one object whose field names are stable (fields may be added): summary, paused,\n" +
					"services_up, services_total, and services, each with name, state (up or down), probing, rising,\n" +
					"falling, rise, fall, transitions, holds, last_probe (RFC 3339; absent before the first probe),\n" +
					"checks (name, ok, stage, error, seconds of the last probe), probes_ok, probes_failed,\n" +
					"probe_seconds_sum, last_failure (check, stage, at; kept after recovery) and backend_error.",
				Flags: []cli.Flag{configFlag(), &cli.StringFlag{Name: "socket", Usage: "the daemon's status socket `PATH` (default: the file's)"},
					&cli.BoolFlag{Name: "json", Usage: "print the state as JSON (field names stable)"}},
				Action: statusCommand},
			{Name: "tcp-route", Usage: "hold a host route to ADDRESS via IFACE while every PORT accepts connections",
				ArgsUsage: "IFACE ADDRESS PORT [PORT...]", Flags: probeFlags(), Action: tcpRouteCommand},
			{Name: "dns", Usage: "hold SERVICE_ADDRESS... while the resolver answers recursively",
				ArgsUsage: "SERVICE_ADDRESS...",
				Flags: append(probeFlags(), ifaceFlag(),
					&cli.StringFlag{Name: "server", Value: "127.0.0.1", Usage: "the resolver's `ADDRESS[:PORT]`"},
					&cli.StringFlag{Name: "query", Value: ".", Usage: "the `NAME` asked (NS for the root by default)"},
					&cli.StringFlag{Name: "qtype", Usage: "the query `TYPE` (A, AAAA, SOA...)"},
					&cli.BoolFlag{Name: "tcp", Usage: "ask over TCP as well as UDP"}),
				Action: dnsCommand},
			{Name: "tcp", Usage: "hold SERVICE_ADDRESS... while HOST:PORT accepts (and answers) a connection",
				ArgsUsage: "HOST:PORT SERVICE_ADDRESS...",
				Flags: append(probeFlags(), ifaceFlag(),
					&cli.StringFlag{Name: "send", Usage: "send `TEXT` (\\r \\n \\t understood)"},
					&cli.StringFlag{Name: "expect", Usage: "expect `TEXT` in the reply"}),
				Action: tcpCommand},
			{Name: "radius", Usage: "hold SERVICE_ADDRESS... while the RADIUS server at HOST:PORT answers Status-Server (or an Access-Request)",
				ArgsUsage: "--secret-file FILE HOST:PORT SERVICE_ADDRESS...",
				Flags: append(probeFlags(), ifaceFlag(),
					&cli.StringFlag{Name: "secret-file", Usage: "read the shared secret from `FILE` (root's or ours, not group/world-writable)"},
					&cli.BoolFlag{Name: "accounting", Usage: "Status-Server to the accounting port: expect Accounting-Response"},
					&cli.StringFlag{Name: "user", Usage: "send an Access-Request for `USER` instead (with --password-file)"},
					&cli.StringFlag{Name: "password-file", Usage: "the test user's password is in `FILE`"},
					&cli.StringFlag{Name: "reply-message", Usage: "expect `TEXT` in a Reply-Message"},
					&cli.StringFlag{Name: "retry", Usage: "send again after `DURATION`, doubling (" + RetryRange.String() + ", default 1s)"}),
				Action: radiusCommand},
			{Name: "syslog", Usage: "hold SERVICE_ADDRESS... while the syslog daemon at HOST:PORT relays (or logs) a probe message",
				ArgsUsage: "(--relay ADDR | --file PATH) HOST:PORT SERVICE_ADDRESS...",
				Flags: append(probeFlags(), ifaceFlag(),
					&cli.BoolFlag{Name: "tcp", Usage: "send over TCP (default UDP)"},
					&cli.BoolFlag{Name: "rfc3164", Usage: "send a BSD (RFC 3164) message instead of RFC 5424"},
					&cli.BoolFlag{Name: "octet-counting", Usage: "frame the TCP message with its length (RFC 6587)"},
					&cli.StringFlag{Name: "relay", Usage: "receive the daemon's copy on `HOST:PORT`"},
					&cli.BoolFlag{Name: "relay-tcp", Usage: "the daemon relays over TCP (default UDP)"},
					&cli.StringFlag{Name: "file", Usage: "find the message in the log file `PATH` instead"}),
				Action: syslogCommand},
			{Name: "proxy", Usage: "hold SERVICE_ADDRESS... while the HTTP proxy at HOST:PORT fetches --target",
				ArgsUsage: "--target URL HOST:PORT SERVICE_ADDRESS...",
				Flags: append(probeFlags(), ifaceFlag(),
					&cli.StringFlag{Name: "target", Usage: "fetch `URL` through the proxy"},
					&cli.BoolFlag{Name: "connect", Usage: "through a CONNECT tunnel (https:// targets too)"},
					&cli.IntFlag{Name: "status", Usage: "expect the target's status `N` (default 200)"},
					&cli.StringFlag{Name: "body", Usage: "expect `TEXT` in the body"}),
				Action: proxyCommand},
			{Name: "socks", Usage: "hold SERVICE_ADDRESS... while the SOCKS5 proxy at HOST:PORT negotiates (and relays to --target)",
				ArgsUsage: "HOST:PORT SERVICE_ADDRESS...",
				Flags: append(probeFlags(), ifaceFlag(),
					&cli.StringFlag{Name: "target", Usage: "CONNECT to `HOST:PORT` through the proxy"},
					&cli.StringFlag{Name: "send", Usage: "send `TEXT` to the target (\\r \\n \\t understood)"},
					&cli.StringFlag{Name: "expect", Usage: "expect `TEXT` back (default: the echo of --send)"},
					&cli.BoolFlag{Name: "udp", Usage: "UDP ASSOCIATE and a datagram round trip to --target instead"},
					&cli.StringFlag{Name: "user", Usage: "authenticate as `USER` (with --password-file)"},
					&cli.StringFlag{Name: "password-file", Usage: "the user's password is in `FILE`"}),
				Action: socksCommand},
			{Name: "exec", Usage: "hold SERVICE_ADDRESS... while the command exits 0",
				ArgsUsage: "-- CMD [ARG...] SERVICE_ADDRESS...", Flags: append(probeFlags(), ifaceFlag()),
				Action: execCommand},
		},
	}
}

// App returns the command tree as Main runs it, for the generators under
// tools/.
func App() *cli.App {
	a := app()
	a.Version = ocf.Version
	clikit.Prepare(a)
	return a
}

// logger writes timestamped lines to w (journald adds its own stamp, so
// only the message under systemd).
func logger(w io.Writer) func(string, ...any) {
	return func(format string, a ...any) {
		fmt.Fprintf(w, "anycast-probe: %s\n", strings.ReplaceAll(fmt.Sprintf(format, a...), "\n", " "))
	}
}

// notifier sends sd_notify states (go-systemd's daemon.SdNotify) when
// the environment names a notify socket.
func notifier(c *cli.Context) func(string) {
	env, _ := c.App.Metadata["env"].(func(string) (string, bool))
	if env == nil {
		return func(string) {}
	}
	if path, ok := env("NOTIFY_SOCKET"); !ok || path == "" {
		return func(string) {}
	}
	return func(state string) {
		if _, err := sddaemon.SdNotify(false, state); err != nil {
			fmt.Fprintf(c.App.ErrWriter, "anycast-probe: sd_notify: %v\n", err)
		}
	}
}

// lockInstance takes the single-instance lock of the configuration file
// for the life of the process: a second daemon on the same file is
// refused. The lock is not the configuration file itself, which every user
// may read and so flock (and keep the daemon from starting, adv3 F7), but
// anycast-probe-HASH.lock (HASH of the configuration's resolved absolute
// path), made 0600 in the status socket's directory, which must be safe as
// filesafe has it.
func lockInstance(config, socket string) (*os.File, error) {
	abs, err := filepath.Abs(config)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", config, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	dir := filepath.Dir(socket)
	// Under systemd RuntimeDirectory makes the directory; by hand, we do.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock directory: %w", err)
	}
	if err := filesafe.CheckDir(dir, os.Geteuid()); err != nil {
		return nil, fmt.Errorf("lock directory: %w", err)
	}
	sum := sha256.Sum256([]byte(abs))
	path := filepath.Join(dir, "anycast-probe-"+hex.EncodeToString(sum[:8])+".lock")
	f, err := filesafe.OpenLock(path)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: another anycast-probe runs with this configuration (lock held)", config)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return f, nil
}

func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr("%s takes no arguments, got %q", c.Command.Name, c.Args().First())
	}
	return nil
}

func runCommand(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	path := c.String("config")
	cfg, err := LoadConfig(path)
	if err != nil {
		return err
	}
	lock, err := lockInstance(path, cfg.Socket)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := checkHost(cfg); err != nil {
		return err
	}
	limitMemory(c, len(cfg.Services))
	ln, err := listenStatus(cfg.Socket)
	if err != nil {
		return err
	}
	defer os.Remove(cfg.Socket)
	mln, err := listenMetrics(cfg.MetricsListen)
	if err != nil {
		ln.Close()
		return err
	}
	d := newDaemon(cfg, logger(c.App.ErrWriter), notifier(c))
	d.load = func() (*Config, error) {
		cfg, err := LoadConfig(path)
		if err == nil {
			err = checkHost(cfg)
		}
		return cfg, err
	}
	return d.run(ln, mln)
}

// listenMetrics opens the metrics endpoint's listener; nil for none.
func listenMetrics(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics_listen: %w", err)
	}
	return ln, nil
}

// limitMemory sets a soft memory limit in proportion to the services,
// unless GOMEMLIMIT sets one: the live heap is small (about 8 KiB a
// service), and without a limit the collector lets the heap grow to twice
// the live data between cycles, which for 1,000 services made the peak
// RSS about 42 MiB rather than 22 (bench/anycast BenchmarkThousand). Past
// the limit the collector runs more often; it never fails an allocation.
func limitMemory(c *cli.Context, services int) {
	env, _ := c.App.Metadata["env"].(func(string) (string, bool))
	if env != nil {
		if _, set := env("GOMEMLIMIT"); set {
			return
		}
	}
	debug.SetMemoryLimit(int64(8<<20 + services*(8<<10)))
}

// checkHost checks that every service's interface exists.
func checkHost(cfg *Config) error {
	var errs []error
	for _, n := range cfg.Names() {
		s := cfg.Services[n]
		if _, err := net.InterfaceByName(s.Interface); err != nil {
			errs = append(errs, fmt.Errorf("service %s: interface %s: %w", n, s.Interface, err))
		}
	}
	return errors.Join(errs...)
}

func checkCommand(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cfg, err := LoadConfig(c.String("config"))
	if err != nil {
		return err
	}
	ok, err := checkOnce(context.Background(), cfg, c.App.Writer)
	if err != nil {
		return err
	}
	if !ok {
		return &exitError{Code: exitFailed}
	}
	return nil
}

func statusCommand(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	sock := c.String("socket")
	if sock == "" {
		cfg, err := LoadConfig(c.String("config"))
		if err != nil {
			return err
		}
		sock = cfg.Socket
	}
	conn, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return fmt.Errorf("no daemon answers on %s: %w", sock, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	req := requestText
	if c.Bool("json") {
		req = requestJSON
	}
	if _, err := io.WriteString(conn, req+"\n"); err != nil {
		return fmt.Errorf("status socket %s: %w", sock, err)
	}
	_ = conn.(*net.UnixConn).CloseWrite()
	_, err = io.Copy(c.App.Writer, io.LimitReader(conn, 64<<20))
	return err
}

// oneLiner builds the single service of a one-liner from the common flags.
func oneLiner(c *cli.Context, name, iface string, checks []*CheckConfig) (*Config, error) {
	s := &Service{Interface: iface, Rise: c.Int("rise"), Fall: c.Int("fall"),
		IntervalText: c.String("interval"), FastIntervalText: c.String("fast-interval"),
		TimeoutText: c.String("timeout"), Checks: checks}
	if s.Rise < 1 || s.Fall < 1 {
		return nil, usageErr("--rise and --fall: want 1 to %d", maxCount)
	}
	return &Config{Path: "command line", Protocol: c.Int("protocol"), Socket: c.String("socket"),
		MetricsListen: c.String("metrics-listen"), Services: map[string]*Service{name: s}}, nil
}

// serveOneLiner validates the one-liner's configuration the way a file's
// is validated (errors are usage errors) and runs it.
func serveOneLiner(c *cli.Context, cfg *Config, addrs, routes []string) error {
	for _, s := range cfg.Services {
		s.Addresses, s.Routes = addrs, routes
	}
	if err := checkProtocol(cfg.Protocol); err != nil {
		return usageErr("--%v", err)
	}
	sock := cfg.Socket
	var lines []string
	for _, n := range cfg.Names() {
		s := cfg.Services[n]
		s.Name = n
		for _, e := range s.validate(nil) {
			lines = append(lines, e.msg)
		}
	}
	if len(lines) > 0 {
		return usageErr("%s", strings.Join(lines, "; "))
	}
	if err := validListen(cfg.MetricsListen); err != nil {
		return usageErr("--metrics-listen: %v", err)
	}
	if err := checkHost(cfg); err != nil {
		return err
	}
	var ln net.Listener
	if sock != "" {
		var err error
		if ln, err = listenStatus(sock); err != nil {
			return err
		}
		defer os.Remove(sock)
	}
	mln, err := listenMetrics(cfg.MetricsListen)
	if err != nil {
		return err
	}
	return newDaemon(cfg, logger(c.App.ErrWriter), notifier(c)).run(ln, mln)
}

func tcpRouteCommand(c *cli.Context) error {
	a := c.Args().Slice()
	if len(a) < 3 {
		return usageErr("tcp-route: want IFACE ADDRESS PORT [PORT...]")
	}
	addr, err := netip.ParseAddr(a[1])
	if err != nil || addr.Zone() != "" {
		return usageErr("tcp-route: address %q: not an IP address", a[1])
	}
	var checks []*CheckConfig
	for _, p := range a[2:] {
		if !validPort(p) {
			return usageErr("tcp-route: port %q: want 1 to 65535", p)
		}
		checks = append(checks, &CheckConfig{Type: "tcp", Address: net.JoinHostPort(addr.String(), p)})
	}
	cfg, err := oneLiner(c, "tcp-route", a[0], checks)
	if err != nil {
		return err
	}
	return serveOneLiner(c, cfg, nil, []string{addr.String()})
}

func dnsCommand(c *cli.Context) error {
	addrs := c.Args().Slice()
	if len(addrs) == 0 {
		return usageErr("dns: want SERVICE_ADDRESS...")
	}
	udp := &CheckConfig{Type: "dns", Server: c.String("server"), Query: c.String("query"), QType: c.String("qtype")}
	checks := []*CheckConfig{udp}
	if c.Bool("tcp") {
		tcp := *udp
		tcp.TCP = true
		checks = append(checks, &tcp)
	}
	cfg, err := oneLiner(c, "dns", c.String("interface"), checks)
	if err != nil {
		return err
	}
	return serveOneLiner(c, cfg, addrs, nil)
}

func tcpCommand(c *cli.Context) error {
	a := c.Args().Slice()
	if len(a) < 2 {
		return usageErr("tcp: want HOST:PORT SERVICE_ADDRESS...")
	}
	ck := &CheckConfig{Type: "tcp", Address: a[0], Send: c.String("send"), Expect: c.String("expect")}
	cfg, err := oneLiner(c, "tcp", c.String("interface"), []*CheckConfig{ck})
	if err != nil {
		return err
	}
	return serveOneLiner(c, cfg, a[1:], nil)
}

// execCommand splits CMD... from the trailing SERVICE_ADDRESS... words:
// the addresses are the longest tail of words that are IP addresses.
func execCommand(c *cli.Context) error {
	a := c.Args().Slice()
	i := len(a)
	for i > 1 {
		if _, err := ParseServiceAddress(a[i-1]); err != nil {
			break
		}
		i--
	}
	if i == 0 || i == len(a) {
		return usageErr("exec: want -- CMD [ARG...] SERVICE_ADDRESS...")
	}
	ck := &CheckConfig{Type: "exec", Command: a[:i]}
	cfg, err := oneLiner(c, "exec", c.String("interface"), []*CheckConfig{ck})
	if err != nil {
		return err
	}
	return serveOneLiner(c, cfg, a[i:], nil)
}

// serverAndAddrs splits a one-liner's HOST:PORT SERVICE_ADDRESS... words.
func serverAndAddrs(c *cli.Context) (string, []string, error) {
	a := c.Args().Slice()
	if len(a) < 2 {
		return "", nil, usageErr("%s: want HOST:PORT SERVICE_ADDRESS...", c.Command.Name)
	}
	return a[0], a[1:], nil
}

// serveCheck runs the one-liner of a single check.
func serveCheck(c *cli.Context, ck *CheckConfig, addrs []string) error {
	cfg, err := oneLiner(c, c.Command.Name, c.String("interface"), []*CheckConfig{ck})
	if err != nil {
		return err
	}
	return serveOneLiner(c, cfg, addrs, nil)
}

func radiusCommand(c *cli.Context) error {
	server, addrs, err := serverAndAddrs(c)
	if err != nil {
		return err
	}
	if c.String("secret-file") == "" {
		return usageErr("radius: --secret-file is required (the secret is never given on the command line)")
	}
	return serveCheck(c, &CheckConfig{Type: "radius", Server: server, SecretFile: c.String("secret-file"),
		Accounting: c.Bool("accounting"), User: c.String("user"), PasswordFile: c.String("password-file"),
		ReplyMessage: c.String("reply-message"), Retry: c.String("retry")}, addrs)
}

func syslogCommand(c *cli.Context) error {
	server, addrs, err := serverAndAddrs(c)
	if err != nil {
		return err
	}
	if (c.String("relay") == "") == (c.String("file") == "") {
		return usageErr("syslog: want --relay ADDR or --file PATH (one of them)")
	}
	ck := &CheckConfig{Type: "syslog", Server: server, TCP: c.Bool("tcp"), OctetCounting: c.Bool("octet-counting"),
		Relay: c.String("relay"), RelayTCP: c.Bool("relay-tcp"), File: c.String("file")}
	if c.Bool("rfc3164") {
		ck.Format = "rfc3164"
	}
	return serveCheck(c, ck, addrs)
}

func proxyCommand(c *cli.Context) error {
	server, addrs, err := serverAndAddrs(c)
	if err != nil {
		return err
	}
	if c.String("target") == "" {
		return usageErr("proxy: --target URL is required")
	}
	return serveCheck(c, &CheckConfig{Type: "proxy", Server: server, Connect: c.Bool("connect"),
		Target: c.String("target"), Status: c.Int("status"), Body: c.String("body")}, addrs)
}

func socksCommand(c *cli.Context) error {
	server, addrs, err := serverAndAddrs(c)
	if err != nil {
		return err
	}
	return serveCheck(c, &CheckConfig{Type: "socks", Server: server, UDP: c.Bool("udp"), Target: c.String("target"),
		Send: c.String("send"), Expect: c.String("expect"), User: c.String("user"),
		PasswordFile: c.String("password-file")}, addrs)
}
