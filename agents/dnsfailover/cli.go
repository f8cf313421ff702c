// Package dnsfailover is dns-failover: health-checked round-robin DNS. It
// probes the members of each configured name (send/expect over TCP or
// TLS, HTTP(S), DNS, a command), keeps rise/fall state, and sends every
// primary the RFC 2136 updates that keep only healthy members in the
// name's RRset, signed with TSIG, within the safety limits of its
// configuration (min_records, max_removals).
package dnsfailover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/checkstyle"
	"github.com/ocfkit/ocfkit/internal/clikit"
	"github.com/ocfkit/ocfkit/internal/ddns"
	"github.com/ocfkit/ocfkit/internal/filesafe"
	"github.com/ocfkit/ocfkit/internal/systemlog"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // a primary could not be read or updated; status: one is not in line
	exitUsage  = 2
)

// exitError carries an exit code to exitCode (clikit.ExitError).
type exitError = clikit.ExitError

// env is the program's view of its environment.
type env func(string) (string, bool)

// Main runs dns-failover and returns its exit code; it reads its
// environment only through getenv and writes only to stdout and stderr.
func Main(args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	a := app(getenv)
	a.Writer, a.ErrWriter = stdout, stderr
	return exitCode(clikit.Run(a, ocf.Version, args), stderr)
}

// App returns the command tree for the generators under tools/.
func App() *cli.App {
	a := app(func(string) (string, bool) { return "", false })
	a.Version = ocf.Version
	clikit.Prepare(a)
	return a
}

// exitCode is the one place where errors become exit codes.
func exitCode(err error, stderr io.Writer) int {
	return clikit.ExitCode(err, "dns-failover", stderr, exitFailed, exitUsage, nil)
}

func usageErr(format string, a ...any) error {
	return checkstyle.Usage(fmt.Errorf(format, a...))
}

// ConfigEnv names the configuration file when --config is not given.
const ConfigEnv = "DNS_FAILOVER_CONFIG"

func configFlag(getenv env) cli.Flag {
	def := DefaultConfig
	if v, ok := getenv(ConfigEnv); ok && v != "" {
		def = v
	}
	return &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: def,
		Usage: "configuration `FILE` (default $" + ConfigEnv + ", else " + DefaultConfig + ")"}
}

func stateFlag() cli.Flag {
	return &cli.StringFlag{Name: "state", Usage: "state `FILE` (default: the configuration's state_file)"}
}

func dryRunFlag() cli.Flag {
	return &cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print each update as an nsupdate script instead of sending it"}
}

func app(getenv env) *cli.App {
	noArgs := func(c *cli.Context) error {
		if c.NArg() > 0 {
			return usageErr("%s takes no arguments (got %q)", c.Command.Name, c.Args().First())
		}
		return nil
	}
	return &cli.App{
		Name:  "dns-failover",
		Usage: "health-checked round-robin DNS with RFC 2136 dynamic updates",
		Description: "dns-failover checks the members of round-robin names and keeps only the healthy ones in\n" +
			"the names' A/AAAA records on every primary, with TSIG-signed RFC 2136 updates.",
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			{Name: "run", Usage: "check and update forever (systemd Type=notify, watchdog); HUP rereads the configuration and key (a file that cannot be read leaves the running one in force), TERM stops",
				Flags:  []cli.Flag{configFlag(getenv), stateFlag(), dryRunFlag()},
				Before: noArgs,
				Action: func(c *cli.Context) error { return runCommand(c, getenv, true) }},
			{Name: "once", Usage: "one round (for cron); rise/fall state persists in the state file",
				Flags:  []cli.Flag{configFlag(getenv), stateFlag(), dryRunFlag()},
				Before: noArgs,
				Action: func(c *cli.Context) error { return runCommand(c, getenv, false) }},
			{Name: "restore", Usage: "put every configured member back on every primary",
				Flags:  []cli.Flag{configFlag(getenv), stateFlag(), dryRunFlag()},
				Before: noArgs,
				Action: func(c *cli.Context) error { return restoreCommand(c, getenv) }},
			{Name: "status", Usage: "print the members' state and the primaries' last outcome",
				Flags:  []cli.Flag{configFlag(getenv), stateFlag()},
				Before: noArgs,
				Action: statusCommand},
			{Name: "check-config", Usage: "validate the configuration and the key file",
				Flags: []cli.Flag{configFlag(getenv),
					&cli.BoolFlag{Name: "no-host-checks", Usage: "check only the files, not that the commands they name exist and are safe"}},
				Before: noArgs,
				Action: func(c *cli.Context) error {
					cfg, _, err := load(c)
					if err != nil {
						return err
					}
					if !c.Bool("no-host-checks") {
						if err := hostChecks(cfg); err != nil {
							return err
						}
					}
					fmt.Fprintf(c.App.Writer, "%s: %d records, %d primaries: OK\n", cfg.Path, len(cfg.Records), len(cfg.Servers))
					return nil
				}},
			{Name: "import", Usage: "convert a classic failover-monitor.config to this program's TOML (stdout)",
				ArgsUsage: "FILE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "tsig-key", Usage: "key `FILE` (tsig-keygen output) to name in the result"},
					&cli.StringFlag{Name: "zone", Usage: "`ZONE` of every name (default: the name without its first label)"},
				},
				Action: importCommand},
		},
	}
}

// loadConfig reads the configuration named by --config, with --state
// replacing its state file.
func loadConfig(c *cli.Context) (*Config, error) {
	cfg, err := LoadConfig(c.String("config"))
	if err != nil {
		return nil, err
	}
	if s := c.String("state"); s != "" {
		if !strings.HasPrefix(s, "/") {
			return nil, usageErr("--state %q: want an absolute path", s)
		}
		cfg.StateFile = s
	}
	return cfg, nil
}

// load reads the configuration and its key.
func load(c *cli.Context) (*Config, *ddns.Key, error) {
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, nil, err
	}
	if cfg.TSIGKey == "" {
		return cfg, nil, nil
	}
	key, err := ddns.LoadKey(cfg.TSIGKey, cfg.KeyName, cfg.AllowHMACMD5)
	if err != nil {
		return nil, nil, err
	}
	return cfg, key, nil
}

// newLogger logs to stderr and the system log, and runs notify for each
// event unless dryRun (a dry run changes nothing, and tells no one).
func newLogger(getenv env, stderr io.Writer, debug, dryRun bool, notify []string) *logger {
	l := &logger{stderr: stderr, debug: debug}
	if !dryRun {
		l.notify = notify
	}
	fac, _ := getenv("HA_LOGFACILITY")
	if fac != "none" {
		l.sys = systemlog.NewFacility("dns-failover", nil, fac)
	}
	if v, ok := getenv("HA_debug"); ok && v != "" && v != "0" {
		l.debug = true
	}
	return l
}

func runCommand(c *cli.Context, getenv env, forever bool) error {
	cfg, key, err := load(c)
	if err != nil {
		return err
	}
	if !c.Bool("dry-run") {
		unlock, err := lockState(cfg.StateFile)
		if err != nil {
			return err
		}
		defer unlock()
	}
	st, err := loadState(cfg.StateFile)
	if err != nil {
		return err
	}
	log := newLogger(getenv, c.App.ErrWriter, clikit.Debug(c), c.Bool("dry-run"), cfg.Notify)
	defer log.wait()
	if err := hostChecks(cfg); err != nil {
		log.infof("warning: %v", err)
	}
	e := newEngine(cfg, key, st, log)
	e.DryRun, e.Out = c.Bool("dry-run"), c.App.Writer
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	save := func() error {
		if e.DryRun {
			return nil
		}
		return st.save(cfg.StateFile)
	}
	if !forever {
		err := e.Round(ctx)
		if serr := save(); serr != nil {
			err = errors.Join(err, serr)
		}
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := func() (*Config, *ddns.Key, error) {
		next, key, err := load(c)
		if err != nil {
			return nil, nil, err
		}
		if next.StateFile != cfg.StateFile {
			return nil, nil, fmt.Errorf("state_file changed from %s to %s: that takes a restart (the running daemon holds the old one's lock)", cfg.StateFile, next.StateFile)
		}
		if err := hostChecks(next); err != nil {
			log.infof("warning: %v", err)
		}
		return next, key, nil
	}
	return e.loop(ctx, getenv, save, hup, reload)
}

// loop runs rounds every interval until ctx ends, telling systemd it is
// ready after the first one and feeding its watchdog. Between rounds it
// runs the early checks of the members whose watch ended. A signal on hup
// reloads the configuration through reload and starts a round at once;
// a configuration reload refuses leaves the running one in force.
func (e *Engine) loop(ctx context.Context, getenv env, save func() error, hup <-chan os.Signal, reload func() (*Config, *ddns.Key, error)) error {
	n := newNotifier(getenv)
	stopWD := n.watchdog(ctx)
	defer stopWD()
	e.startWatch()
	defer e.stopWatch()
	e.log.infof("started: %d records, %d primaries, interval %s", len(e.cfg.Records), len(e.cfg.Servers), e.cfg.Interval)
	var reloaded time.Time // the start of the last round a reload brought
	for first, afterReload := true, false; ; first = false {
		n.busy(true)
		// Rounds start interval apart (fast_interval while a member is
		// between up and down), from the start of the previous one.
		next := time.Now().Add(e.cfg.Interval)
		if afterReload {
			reloaded, afterReload = time.Now(), false
		}
		if err := e.Round(ctx); err != nil && ctx.Err() == nil {
			e.log.debugf("round: %v", err)
		}
		if err := save(); err != nil {
			e.log.infof("state file: %v", err)
		}
		n.busy(false)
		if first {
			n.send("READY=1\nSTATUS=first round done")
		}
		if e.transitioning() {
			next = next.Add(e.cfg.FastInterval - e.cfg.Interval)
		}
		// A reload brings a round at once, or fast_interval after the
		// start of the previous round a reload brought: a storm of HUPs
		// costs at most a round every fast_interval. (Before, each HUP
		// brought a round at once: rounds back to back, fall reached in
		// milliseconds by a member down for a second, and max_removals
		// renewed at each.) A reload refused brings none.
		res := e.wait(ctx, n, next, save, hup)
		for ; res == waitReload; res = e.wait(ctx, n, next, save, hup) {
			n.send(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d\nSTATUS=reloading the configuration", monotonicUsec()))
			if e.reload(reload) {
				afterReload = true
				if at := reloaded.Add(e.cfg.FastInterval); at.Before(next) {
					next = at
				}
			}
			n.send("READY=1\nSTATUS=configuration reloaded")
		}
		if res == waitStop {
			n.send("STOPPING=1")
			return nil
		}
	}
}

// reload replaces the configuration and key with what reload reads, or
// keeps them and says why (false). The members' rise and fall state is
// kept by name and address; the watches are made anew for the new
// members, with what was known of those the old configuration watched
// (watcher.inherit).
func (e *Engine) reload(reload func() (*Config, *ddns.Key, error)) bool {
	cfg, key, err := reload()
	if err != nil {
		e.log.infof("reload refused, the running configuration stays: %v", err)
		return false
	}
	e.stopWatch()
	if cfg.MaxRemovals > 0 { // what is left until the round: the new bound at most
		e.budget = min(e.budget, cfg.MaxRemovals)
	}
	old, oldRecs := e.watch, e.cfg.Records
	e.cfg = cfg
	e.client = &ddns.Client{Key: key, Timeout: cfg.Timeout}
	if !e.DryRun { // a dry run tells no one (newLogger)
		e.log.notify = cfg.Notify
	}
	e.startWatch()
	if old != nil && e.watch != nil {
		e.watch.inherit(old, oldRecs, cfg.Records)
	}
	e.log.infof("reloaded: %d records, %d primaries, interval %s", len(cfg.Records), len(cfg.Servers), cfg.Interval)
	return true
}

// startWatch makes the watcher when the configuration watches a member,
// and drops a closed one otherwise.
func (e *Engine) startWatch() {
	e.watch = nil
	if e.cfg.watched() {
		e.watch = newWatcher(e.cfg.Timeout, e.cfg.Interval, e.log)
	}
}

// stopWatch ends every watch.
func (e *Engine) stopWatch() {
	if e.watch != nil {
		e.watch.close()
	}
}

// waitResult says why wait returned.
type waitResult int

const (
	waitRound  waitResult = iota // the next round is due
	waitStop                     // ctx ended
	waitReload                   // a reload was asked for
)

// wait waits until next, the start of the next round, running the early
// checks of ended watches meanwhile: at once, or as soon as the member's
// last early check is interval old. An early check that leaves a member
// between up and down brings the next round to fast_interval after it.
// It returns early when ctx ends or a reload is asked for on hup.
func (e *Engine) wait(ctx context.Context, n *notifier, next time.Time, save func() error, hup <-chan os.Signal) waitResult {
	for {
		if !time.Now().Before(next) {
			return waitRound
		}
		at := next
		var wake <-chan struct{}
		if e.watch != nil {
			wake = e.watch.wake
			due, later := e.watch.due(time.Now())
			if len(due) > 0 {
				next = e.early(ctx, n, due, next, save)
				continue
			}
			if !later.IsZero() && later.Before(at) {
				at = later
			}
		}
		t := time.NewTimer(max(time.Until(at), 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return waitStop
		case <-hup:
			t.Stop()
			return waitReload
		case <-wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// early runs the early check of members and returns the start of the
// next round.
func (e *Engine) early(ctx context.Context, n *notifier, members []*Member, next time.Time, save func() error) time.Time {
	n.busy(true)
	defer n.busy(false)
	start := time.Now()
	if err := e.EarlyCheck(ctx, members); err != nil && ctx.Err() == nil {
		e.log.debugf("early check: %v", err)
	}
	if err := save(); err != nil {
		e.log.infof("state file: %v", err)
	}
	if fast := start.Add(e.cfg.FastInterval); e.transitioning() && fast.Before(next) {
		return fast
	}
	return next
}

func restoreCommand(c *cli.Context, getenv env) error {
	cfg, key, err := load(c)
	if err != nil {
		return err
	}
	st, err := loadState(cfg.StateFile)
	if err != nil {
		return err
	}
	log := newLogger(getenv, c.App.ErrWriter, clikit.Debug(c), c.Bool("dry-run"), cfg.Notify)
	defer log.wait()
	e := newEngine(cfg, key, st, log)
	e.DryRun, e.Out = c.Bool("dry-run"), c.App.Writer
	return e.Restore(c.Context)
}

func statusCommand(c *cli.Context) error {
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	st, err := loadState(cfg.StateFile)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if st.Rounds == 0 {
		fmt.Fprintf(w, "no round yet (state file %s)\n", cfg.StateFile)
		return &exitError{Code: exitFailed}
	}
	early := ""
	if st.EarlyChecks > 0 {
		early = fmt.Sprintf(" (and %d early checks of ended watches)", st.EarlyChecks)
	}
	fmt.Fprintf(w, "rounds %d%s, last %s\n", st.Rounds, early, st.Updated.Format(time.RFC3339))
	for _, r := range cfg.Records {
		for _, m := range r.Members {
			ms := st.Members[memberKey(r, m)]
			switch {
			case ms == nil || !ms.Known:
				fmt.Fprintf(w, "%s unknown\n", memberKey(r, m))
			case ms.Up:
				fmt.Fprintf(w, "%s up (ok %d, fail %d)\n", memberKey(r, m), ms.OK, ms.Fail)
			default:
				fmt.Fprintf(w, "%s down (ok %d, fail %d): %s\n", memberKey(r, m), ms.OK, ms.Fail, ms.LastError)
			}
		}
		if k := st.Kept[recordKey(r)]; len(k) > 0 {
			fmt.Fprintf(w, "%s kept although failing (min_records/max_removals): %s\n", recordKey(r), strings.Join(k, " "))
		}
	}
	var srvs []string
	for s := range st.Primaries {
		srvs = append(srvs, s)
	}
	sort.Strings(srvs)
	failed := false
	for _, s := range srvs {
		if msg := st.Primaries[s]; msg != "" {
			failed = true
			fmt.Fprintf(w, "primary %s: FAILED: %s\n", s, msg)
		} else {
			fmt.Fprintf(w, "primary %s: in line\n", s)
		}
	}
	if failed {
		return &exitError{Code: exitFailed}
	}
	return nil
}

func importCommand(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErr("import takes one FILE (the failover-monitor.config)")
	}
	key := c.String("tsig-key")
	if key != "" && !strings.HasPrefix(key, "/") {
		return usageErr("--tsig-key %q: want an absolute path", key)
	}
	data, err := readPlain(c.Args().First())
	if err != nil {
		return err
	}
	out, err := ImportClassic(data, ClassicOptions{TSIGKey: key, Zone: c.String("zone")})
	if err != nil {
		return fmt.Errorf("%s: %w", c.Args().First(), err)
	}
	_, err = c.App.Writer.Write(out)
	return err
}

// readPlain reads a file that only converts (nothing runs from it): a
// regular file of bounded size.
func readPlain(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", path, filesafe.ErrNotRegular)
	}
	return io.ReadAll(io.LimitReader(f, maxClassic+1))
}
