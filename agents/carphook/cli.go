package carphook

// The command line of carp-hook: the front-ends of each caller, status,
// check-config and the detached worker. Errors become exit codes in
// exitCode alone: urfave/cli never exits by itself (ExitErrHandler).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/agents/carphook/config"
	"github.com/ocfkit/ocfkit/agents/carphook/event"
	"github.com/ocfkit/ocfkit/agents/carphook/store"
	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/clikit"
	"github.com/ocfkit/ocfkit/internal/duration"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the event could not be handled, or status: the last transition failed or was abandoned
	exitUsage   = 2 // arguments do not match the caller's form, unknown command or flag
	exitPending = 3 // status: the last event is still being applied
)

// DefaultConfig is the configuration file used without --config.
const DefaultConfig = "/etc/carp-hook.toml"

// waitRange bounds status --wait; a plain number is seconds.
var waitRange = duration.Range{Unit: time.Second, Min: 0, Max: time.Hour}

// exitError carries an exit code to exitCode (clikit.ExitError).
type exitError = clikit.ExitError

// usageErr marks err as a usage error.
func usageErr(format string, a ...any) error {
	return &exitError{Code: exitUsage, Err: fmt.Errorf(format, a...)}
}

// Main runs carp-hook and returns its exit code: args is the command line
// (args[0] the program as called), env looks up its environment
// (os.LookupEnv), and every line it prints goes to stdout or stderr. It
// reads no other source of arguments or environment, so tests and other
// programs can run it in-process.
func Main(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	return exitCode(run(args, env, stdout, stderr), stderr)
}

// run runs the command line args under the shared contract (clikit): -V
// and --version, --debug and options after the arguments on every command.
func run(args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	a := app()
	a.Writer, a.ErrWriter = stdout, stderr
	if err := flagsFromEnv(a.Flags, env); err != nil {
		return err
	}
	return clikit.Run(a, ocf.Version, args)
}

// flagsFromEnv sets the defaults of the program's flags from the
// variables they name (EnvVars), looked up with env, and takes the names
// off the flags: urfave/cli would read the process's own environment. An
// empty or false value turns a boolean flag off, and a value that is not a
// boolean is an error, as urfave/cli has it.
func flagsFromEnv(flags []cli.Flag, env func(string) (string, bool)) error {
	for _, f := range flags {
		switch f := f.(type) {
		case *cli.StringFlag:
			if v, ok := firstEnv(env, f.EnvVars); ok {
				f.Value = v
			}
			f.EnvVars = nil
		case *cli.BoolFlag:
			if v, ok := firstEnv(env, f.EnvVars); ok {
				b, err := strconv.ParseBool(v)
				if v != "" && err != nil {
					return fmt.Errorf("could not parse %q as bool value from env %s for flag %s: %w", v, f.EnvVars[0], f.Name, err)
				}
				f.Value = b
			}
			f.EnvVars = nil
		}
	}
	return nil
}

// firstEnv returns the value of the first of names that env has.
func firstEnv(env func(string) (string, bool), names []string) (string, bool) {
	for _, n := range names {
		if v, ok := env(n); ok {
			return v, true
		}
	}
	return "", false
}

// exitCode is the one place where errors become exit codes; it prints the
// error, if any, to stderr.
func exitCode(err error, stderr io.Writer) int {
	return clikit.ExitCode(err, "carp-hook", stderr, exitFailed, exitUsage, isUsage)
}

// isUsage reports the usage errors of carp-hook's own: a front-end's words
// that do not fit its caller's form, and an error urfave/cli made with its
// own exit code (only "No help topic for ...", exit 3, which is status's
// "still applying").
func isUsage(err error) bool {
	var ec cli.ExitCoder
	return event.IsUsage(err) || errors.As(err, &ec)
}

// configPaths holds where --config was given: before the command (or in
// $CARP_HOOK_CONFIG) and after it.
type configPaths struct{ global, local string }

// configFlag is --config/-c; it is accepted before the command and after
// status, check-config and worker. The front-ends take it as their first
// words (see splitConfig).
func configFlag(dest *string, env ...string) cli.Flag {
	return &cli.StringFlag{Name: "config", Aliases: []string{"c"}, EnvVars: env, Destination: dest,
		Usage: "configuration `FILE` (default " + DefaultConfig + ")"}
}

func app() *cli.App {
	paths := &configPaths{}
	a := &cli.App{
		Name:  "carp-hook",
		Usage: "move a service with a CARP/VRRP address (ucarp, keepalived, devd, ifstated)",
		Description: "carp-hook is called by ucarp, keepalived, devd or ifstated on a state change, and applies\n" +
			"the actions its configuration file gives for the group: `carp-hook help COMMAND` shows a\n" +
			"command's arguments. --config goes before the command or right after it:\n" +
			"  carp-hook -c /etc/carp-hook.toml ucarp up eth0 10.0.0.5\n" +
			"  carp-hook ucarp -c /etc/carp-hook.toml up eth0 10.0.0.5",
		Flags: []cli.Flag{
			configFlag(&paths.global, "CARP_HOOK_CONFIG"),
			&cli.BoolFlag{Name: "debug", EnvVars: []string{"CARP_HOOK_DEBUG"}, Usage: "log every step, to standard error as well"},
			&cli.StringFlag{Name: "plan-dir", EnvVars: []string{"CARP_HOOK_PLAN_DIR"}, Value: store.DefaultPlanDir, Hidden: true,
				Usage: "keep the plans saved at MASTER in `DIR` (tests)"},
		},
		Metadata:       map[string]any{"paths": paths},
		ExitErrHandler: func(*cli.Context, error) {}, // exitCode decides
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("unknown command %q; see carp-hook help", c.Args().First())
			}
			_ = cli.ShowAppHelp(c)
			return &exitError{Code: exitUsage}
		},
		Commands: []*cli.Command{
			{Name: "check-config", Usage: "validate a configuration file without acting",
				ArgsUsage: "[FILE]",
				Description: "Checks the file's syntax and values, and that it is safe (only root can have written it).\n" +
					"Unless --no-host-checks is given, it also checks this host: interfaces exist, programs\n" +
					"and OCF agents exist and are safe to run, role files are regular files.",
				Flags: []cli.Flag{configFlag(&paths.local),
					&cli.BoolFlag{Name: "no-host-checks", Usage: "check only the file (for a file meant for another host)"}},
				Action: checkConfigCommand},
			{Name: "status", Usage: "show the last event and outcome of a group", ArgsUsage: "GROUP",
				Description: "Exit status: 0 applied (or no event yet), 1 failed or abandoned, 3 still being applied.",
				Flags: []cli.Flag{configFlag(&paths.local),
					&cli.BoolFlag{Name: "json", Usage: "print the raw status"},
					&cli.StringFlag{Name: "wait", Usage: "wait up to `DURATION` for the last event to be applied (" + waitRange.String() + ")"},
				},
				Action: statusCommand},
			{Name: "worker", Hidden: true, ArgsUsage: "GROUP", Flags: []cli.Flag{configFlag(&paths.local)},
				Action: workerCommand},
		},
	}
	for _, src := range event.Sources {
		a.Commands = append(a.Commands, &cli.Command{
			Name:            src,
			Usage:           "handle a state change from " + src,
			ArgsUsage:       "[-c FILE] " + event.Forms[src],
			SkipFlagParsing: true, // the caller's words are passed through untouched
			Action:          frontEnd(src),
		})
	}
	return a
}

// configPath returns the configuration file named by --config or -c,
// wherever it was given (after the command wins), else the default.
func configPath(c *cli.Context) string {
	p, _ := c.App.Metadata["paths"].(*configPaths)
	switch {
	case p == nil:
	case p.local != "":
		return p.local
	case p.global != "":
		return p.global
	}
	return DefaultConfig
}

// splitConfig takes a leading "-c FILE", "--config FILE" or
// "--config=FILE" off a front-end's words, which are otherwise the
// caller's own.
func splitConfig(args []string) (path string, rest []string, err error) {
	if len(args) == 0 {
		return "", args, nil
	}
	switch a := args[0]; {
	case a == "-c" || a == "--config" || a == "-config":
		if len(args) < 2 {
			return "", nil, usageErr("%s needs a FILE", a)
		}
		return args[1], args[2:], nil
	case strings.HasPrefix(a, "--config="), strings.HasPrefix(a, "-c="):
		_, v, _ := strings.Cut(a, "=")
		return v, args[1:], nil
	}
	return "", args, nil
}

// wantsHelp reports whether a front-end's words ask for help.
func wantsHelp(args []string) bool {
	return len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help")
}

// logger returns the logger for the work of a command.
func logger(c *cli.Context) Logger {
	return newSystemLogger(clikit.Debug(c), c.App.ErrWriter)
}

// planStore returns where the plans saved at MASTER are kept: a fixed
// directory (--plan-dir only for tests), never one the configuration
// names.
func planStore(c *cli.Context) (*store.Plans, error) {
	dir := c.String("plan-dir")
	if !filepath.IsAbs(dir) {
		return nil, usageErr("--plan-dir: %q is not an absolute path", dir)
	}
	return &store.Plans{Dir: filepath.Clean(dir)}, nil
}

// load reads the configuration at path and opens its state directory. It
// returns the configuration's absolute path too.
func load(c *cli.Context, path string, log Logger) (*Hook, string, error) {
	plans, err := planStore(c)
	if err != nil {
		return nil, "", err
	}
	h, path, err := loadFile(path, log)
	if h != nil {
		h.Plans = plans
	}
	return h, path, err
}

// loadFile is load with the default plan directory.
func loadFile(path string, log Logger) (*Hook, string, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, "", fmt.Errorf("configuration path: %w", err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, path, err
	}
	log.Debugf("configuration %s: %d groups", path, len(cfg.Groups))
	h, err := New(cfg, log)
	return h, path, err
}

// loadGroup is load for an event of the group key selects: a file that
// loads but no longer has the group (removed or renamed while MASTER) is an
// error too, so that the group is taken down from its saved plan.
func loadGroup(c *cli.Context, path, key string, log Logger) (*Hook, string, error) {
	h, path, err := load(c, path, log)
	if err == nil {
		if _, err = h.Config.Find(key); err != nil {
			h = nil
		}
	}
	return h, path, err
}

// frontEnd handles one caller's event: parse, record, critical actions,
// detached worker.
func frontEnd(src string) cli.ActionFunc {
	return func(c *cli.Context) error {
		args := c.Args().Slice()
		if wantsHelp(args) {
			cli.HelpPrinter(c.App.Writer, cli.CommandHelpTemplate, c.Command)
			return nil
		}
		path, args, err := splitConfig(args)
		if err != nil {
			return err
		}
		if path == "" {
			path = configPath(c)
		}
		ev, err := event.Parse(src, args)
		if err != nil {
			return err
		}
		// A signal (keepalived's script timeout, a stopping ucarp) must not
		// cut an event in half: the front-end's work is bounded (the lock
		// wait, each critical action, the worker's start), so it finishes
		// first. SIGKILL still ends it.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
		defer signal.Stop(sigs)
		log := logger(c)
		log.Debugf("%s %v: %s event for %q", src, args, ev.State, ev.Group)
		plans, err := planStore(c)
		if err != nil {
			return err
		}
		h, path, err := loadGroup(c, path, ev.Group, log)
		var broken error // the configuration's error, when working from a saved plan
		if err != nil {
			log.Errorf("%s %v: %v", src, args, err)
			if h, broken = savedPlan(path, ev, err, plans, log); h == nil {
				return err
			}
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		h.Spawn = func(group string) error {
			wargs := []string{"--config", path, "--plan-dir", plans.Dir}
			if clikit.Debug(c) {
				wargs = append(wargs, "--debug")
			}
			return spawnDetached(exe, append(wargs, "worker", group)...)
		}
		_, _, err = h.Handle(c.Context, ev)
		select {
		case sig := <-sigs:
			log.Infof("%s %v: finished the event before acting on %v", src, args, sig)
		default:
		}
		if broken != nil {
			return errors.Join(fmt.Errorf("group %s taken down (%s) with the plan saved at MASTER on %s, as %s is broken: %w",
				h.Saved.Group.Name, ev.State, h.Saved.Saved.Format(time.RFC3339), path, broken), err)
		}
		return err
	}
}

// savedPlan returns the hook that takes the event's group down from the
// plan saved at its last MASTER, when the configuration file (at path)
// failed to load with err: the way down must not depend on the file, or a
// typo keeps the address up here while another node takes it (two
// masters). It returns nil for a MASTER event (nothing is brought up from
// an old plan) or when there is no plan to use.
func savedPlan(path string, ev event.Event, err error, plans *store.Plans, log Logger) (*Hook, error) {
	if ev.State == event.Master || path == "" {
		return nil, nil
	}
	h, serr := FromSavedPlans(path, ev.Group, plans, log)
	if serr != nil {
		log.Errorf("no plan saved at MASTER to take the group down with: %v", serr)
		return nil, nil
	}
	log.Errorf("configuration %s does not load: taking group %s down (%s) with the plan saved at MASTER on %s",
		path, h.Saved.Group.Name, ev.State, h.Saved.Saved.Format(time.RFC3339))
	return h, err
}

func workerCommand(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErr("usage: carp-hook worker GROUP")
	}
	log := logger(c)
	plans, err := planStore(c)
	if err != nil {
		return err
	}
	h, path, err := loadGroup(c, configPath(c), c.Args().First(), log)
	if err != nil {
		// The front-end recorded a way down from the saved plan.
		saved, serr := FromSavedPlans(path, c.Args().First(), plans, log)
		if serr != nil {
			return err
		}
		log.Errorf("worker: %v; group %s from the plan saved at MASTER on %s", err, saved.Saved.Group.Name, saved.Saved.Saved.Format(time.RFC3339))
		h = saved
	}
	return h.Work(context.Background(), c.Args().First())
}

func statusCommand(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErr("usage: carp-hook status [--json] [--wait DURATION] GROUP")
	}
	var wait time.Duration
	if w := c.String("wait"); w != "" {
		var err error
		if wait, err = waitRange.Parse(w); err != nil {
			return usageErr("--wait: %w", err)
		}
	}
	h, _, err := load(c, configPath(c), NopLogger{})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(wait)
	var st *store.Status
	for {
		if st, err = h.Status(c.Args().First()); err != nil {
			return err
		}
		if st.Settled() || workerGone(st) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	abandoned := workerGone(st)
	if abandoned {
		st.Outcome = store.OutcomeAbandoned // for people and for --json
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return err
		}
	} else {
		writeStatus(c.App.Writer, st)
	}
	switch {
	case st.Seq == 0 || st.Settled() && st.Outcome == store.OutcomeOK && st.CriticalError == "":
		return nil
	case abandoned:
		return &exitError{Code: exitFailed}
	case !st.Settled():
		return &exitError{Code: exitPending}
	}
	return &exitError{Code: exitFailed}
}

// hostChecker is implemented by actions that can check this host without
// acting (action.Exec, action.Address...).
type hostChecker interface{ CheckHost() error }

func checkConfigCommand(c *cli.Context) error {
	if c.NArg() > 1 {
		return usageErr("usage: carp-hook check-config [--no-host-checks] [-c FILE | FILE]")
	}
	path := c.Args().First()
	if path == "" {
		path = configPath(c)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	hostChecks := !c.Bool("no-host-checks")
	var errs []error
	for _, name := range cfg.GroupNames() {
		g := cfg.Groups[name]
		acts, err := groupActions(g, actionEnv{Group: name, OCFRoot: cfg.OCFRoot})
		if err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "group %s (also: %v, on_error %s, timeout %v)\n", name, g.Match, g.OnError, g.Timeout)
		for i, a := range acts {
			fmt.Fprintf(c.App.Writer, "  %d. %s\n", i+1, a.Name())
			if hc, ok := a.(hostChecker); ok && hostChecks {
				if err := hc.CheckHost(); err != nil {
					errs = append(errs, &config.Error{Path: path, Line: g.Actions[i].Line,
						Msg: fmt.Sprintf("group %s, action %d (%s): %v", name, i+1, g.Actions[i].Type, err)})
				}
			}
		}
	}
	if hostChecks {
		if err := checkStateDir(cfg); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
	}
	if len(errs) > 0 {
		if hostChecks {
			errs = append(errs, errors.New("(--no-host-checks checks only the file, for a file meant for another host)"))
		}
		return errors.Join(errs...)
	}
	fmt.Fprintf(c.App.Writer, "%s: OK\n", path)
	return nil
}

// checkStateDir checks the state directory, if it exists, the way Open
// would.
func checkStateDir(cfg *config.File) error {
	dir := stateDir(cfg)
	if _, err := os.Stat(dir); err != nil {
		return nil // created when first needed
	}
	_, err := store.Open(dir)
	return err
}
