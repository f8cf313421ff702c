// Package ocf is the Open Cluster Framework resource agent contract that
// every ocfkit agent shares: action dispatch, exit codes, parameters with
// meta-data defaults, check depths, probes, operation deadlines, exit
// reasons and logging.
//
// An agent supplies its actions as handlers that return an error; Run turns
// that error into the exit code and the ocf-exit-reason line in one place.
package ocf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/agents/ocf/ocfcode"
	"github.com/ocfkit/ocfkit/checkstyle"
	"github.com/ocfkit/ocfkit/internal/clikit"
	"github.com/ocfkit/ocfkit/internal/oneline"
	"github.com/ocfkit/ocfkit/metadata"
)

// Version is the ocfkit version, set at build time with -ldflags -X.
var Version = "dev"

// Handler carries out one action. ctx ends before the operation's timeout
// with a safety margin. A nil error is success; an *Error (see Errorf)
// gives the exit code, anything else is a generic error.
type Handler func(ctx context.Context, req *Request) error

// Agent describes a resource agent program.
type Agent struct {
	// Name is the agent's meta-data name (metadata/<Name>.xml).
	Name string
	// Program is the name logs are tagged with, such as "ocf-sockd".
	Program string
	// Actions maps OCF action names (start, stop, monitor, validate-all,
	// reload, ...) to handlers. status is served by monitor and meta-data
	// by the package.
	Actions map[string]Handler
	// Commands are the human-facing commands, served by urfave/cli.
	Commands []*cli.Command
	// CommandFor, when set, names the command to run when the program is
	// invoked under a name that implies it (a link named for relayd, whose
	// check script gets only a host as argument); "" dispatches as usual.
	CommandFor func(program string) string
	// Services names the service in the Nagios status line of a usage
	// error, per command ("check": "SOCKS"); see Agent.service.
	Services map[string]string
}

// Run dispatches args[1] and returns the exit code. It is the program's
// whole life: args is the command line (args[0] the program as called),
// env its environment (os.LookupEnv in main) and stdout and stderr take
// all it prints: it reads no other arguments or environment. OCF actions go
// to their handlers; "help", "usage", flags and the names of Commands go to
// the command-line interface; anything else is an unimplemented action.
func (a *Agent) Run(args []string, env Env, stdout, stderr io.Writer) int {
	if a.CommandFor != nil && len(args) > 0 {
		if cmd := a.CommandFor(filepath.Base(args[0])); cmd != "" {
			return a.runCLI(append([]string{args[0], cmd}, args[1:]...), env, stdout, stderr)
		}
	}
	if len(args) < 2 {
		fmt.Fprint(stderr, a.usage())
		return int(ErrArgs)
	}
	action := args[1]
	switch {
	case action == "meta-data":
		return a.metaData(stdout, stderr)
	case action == "usage" || action == "help":
		fmt.Fprint(stdout, a.usage())
		return int(Success)
	case action == "status" && a.hasCommand("status") && !fromCluster(env):
		// An agent with its own status command (ocf-realserver) serves it
		// on a command line; from Pacemaker, status is monitor's alias.
		return a.runCLI(args, env, stdout, stderr)
	case action == "status" || a.Actions[action] != nil:
		return a.runAction(action, env, stderr)
	case strings.HasPrefix(action, "-") || action == "version" || a.hasCommand(action):
		return a.runCLI(args, env, stdout, stderr)
	}
	fmt.Fprint(stderr, a.usage())
	a.exitReason(env, stderr, fmt.Sprintf("unknown action %q", action))
	return int(Unimplemented)
}

// fromCluster reports whether the environment is that of a resource
// manager calling an action: Pacemaker, ocf-tester and ocft always set
// OCF_RESOURCE_INSTANCE.
func fromCluster(env Env) bool {
	v, ok := env("OCF_RESOURCE_INSTANCE")
	return ok && v != ""
}

func (a *Agent) metaData(stdout, stderr io.Writer) int {
	b, err := metadata.Raw(a.Name)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return int(ErrGeneric)
	}
	_, _ = stdout.Write(b)
	return int(Success)
}

// safetyMargin is how much earlier than the operation's timeout an action's
// context ends, so the agent can still report before it is killed.
func safetyMargin(timeout time.Duration) time.Duration {
	m := timeout / 10
	switch {
	case m < 500*time.Millisecond:
		m = 500 * time.Millisecond
	case m > 2*time.Second:
		m = 2 * time.Second
	}
	if m > timeout/2 {
		m = timeout / 2
	}
	return m
}

func (a *Agent) runAction(action string, env Env, stderr io.Writer) int {
	meta, err := metadata.Load(a.Name)
	if err != nil {
		a.exitReason(env, stderr, err.Error())
		return int(ErrGeneric)
	}
	req, err := parseRequest(meta, action, env)
	if err != nil {
		a.exitReason(env, stderr, err.Error())
		return int(CodeOf(err))
	}
	req.Log = newLogger(a.Program, req.Instance, stderr, env, true)
	defer req.Log.Close()

	handler := a.Actions[req.Action]
	if handler == nil {
		a.exitReason(env, stderr, fmt.Sprintf("action %s is not implemented", action))
		return int(Unimplemented)
	}
	ctx, cancel := context.WithTimeout(context.Background(), req.Timeout-safetyMargin(req.Timeout))
	defer cancel()
	err = handler(ctx, req)
	code := CodeOf(err)
	// A probe that finds the resource stopped is the expected answer, not a
	// failure; everything else non-zero gets logged with its reason.
	if err != nil && !(code == NotRunning && req.Probe) {
		req.Log.Errorf("%s: %v", action, err)
		a.exitReason(env, stderr, err.Error())
	}
	return int(code)
}

// exitReason prints the one line Pacemaker shows as the failure reason.
func (a *Agent) exitReason(env Env, stderr io.Writer, reason string) {
	prefix, ok := env("OCF_EXIT_REASON_PREFIX")
	if !ok || prefix == "" {
		prefix = ocfcode.ExitReasonPrefix
	}
	fmt.Fprintf(stderr, "%s%s\n", prefix, oneline.Fold(reason))
}

func (a *Agent) hasCommand(name string) bool {
	for _, c := range a.Commands {
		if c.Name == name || c.HasName(name) {
			return true
		}
	}
	return false
}

func (a *Agent) actionNames() []string {
	names := []string{"meta-data", "status", "usage"}
	for n := range a.Actions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (a *Agent) usage() string {
	return fmt.Sprintf("usage: %s {%s}\n       %s --help | version | COMMAND ...\n",
		a.Program, strings.Join(a.actionNames(), "|"), a.Program)
}

// runCLI serves the human-facing commands with the contract every ocfkit
// program shares (internal/clikit, docs/cli.md): options may follow the
// positional arguments, -V/--version and --debug work everywhere, and a
// usage error exits as the caller's exit style says (see cliExit). A
// command reports its result with cli.Exit.
func (a *Agent) runCLI(args []string, env Env, stdout, stderr io.Writer) int {
	getenv := func(key string) string { v, _ := env(key); return v }
	app := &cli.App{
		Name:      a.Program,
		Usage:     "OCF resource agent " + a.Name + " (ocfkit)",
		Version:   Version,
		Writer:    stdout,
		ErrWriter: stderr,
		Description: "As a resource agent it is called with one OCF action: " +
			strings.Join(a.actionNames(), ", ") + ". Parameters come from OCF_RESKEY_* variables; " +
			"run '" + a.Program + " meta-data' to list them.",
		Commands: append([]*cli.Command{{
			Name:  "version",
			Usage: "print the version",
			Action: func(c *cli.Context) error {
				fmt.Fprintf(stdout, "%s %s\n", a.Program, Version)
				return nil
			},
		}}, copyCommands(a.Commands)...),
		// Errors are turned into exit codes by cliExit alone.
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
	}
	clikit.Prepare(app)
	checkstyle.Bind(app, args[0], getenv)
	args = clikit.PermuteApp(app, args)
	log := newLogger(a.Program, "", stderr, env, false)
	defer log.Close()
	log.debug = log.debug || clikit.HasOption(args, "debug")
	app.Metadata[metaLog] = log

	cmd := a.commandOf(args)
	log.Debugf("command line %q", args[1:])
	var err error
	if cmd != "" && a.hasStyle(cmd) {
		// A check's own style must be valid before it runs, or its
		// usage errors could be read as a verdict.
		_, err = checkstyle.FromArgs(args[2:], args[0], getenv)
	}
	if err == nil {
		err = app.Run(args)
	}
	code := a.cliExit(err, checkstyle.Guess(args[1:], args[0], getenv), a.service(cmd), stdout, stderr)
	log.Debugf("exit status %d", code)
	return code
}

// metaLog is the key of a command's Logger in the app's Metadata.
const metaLog = "ocf.log"

// CommandLog returns the logger of a human-facing command run by Run:
// stderr, and $HA_LOGFILE and the system log ($HA_LOGFACILITY) where set;
// debug messages are on with --debug or HA_debug=1. It is nil (which
// logs nothing) outside Run.
func CommandLog(c *cli.Context) *Logger {
	l, _ := c.App.Metadata[metaLog].(*Logger)
	return l
}

// cliExit is the one place where the outcome of a command becomes its exit
// status. A cli.Exit error carries its status; a usage error, and any
// other error (a flag that does not parse, a wrong number of arguments),
// exits as style says for usage errors (checkstyle.Style.UsageExit), so
// that relayd never reads a typo as up.
func (a *Agent) cliExit(err error, style checkstyle.Style, service string, stdout, stderr io.Writer) int {
	if err == nil {
		return int(Success)
	}
	var ec cli.ExitCoder
	if !errors.Is(err, checkstyle.ErrUsage) && errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, msg)
		}
		return ec.ExitCode()
	}
	return style.UsageExit(stdout, stderr, service, err)
}

// copyCommands returns copies of the commands, for clikit.Prepare to
// change without touching the agent's.
func copyCommands(cmds []*cli.Command) []*cli.Command {
	out := make([]*cli.Command, len(cmds))
	for i, c := range cmds {
		cp := *c
		cp.Flags = append([]cli.Flag{}, c.Flags...)
		cp.Subcommands = copyCommands(c.Subcommands)
		out[i] = &cp
	}
	return out
}

// commandOf returns the name of the command args (args[0] the program)
// run, or "".
func (a *Agent) commandOf(args []string) string {
	for _, arg := range args[1:] {
		if !strings.HasPrefix(arg, "-") {
			if a.hasCommand(arg) {
				return arg
			}
			return ""
		}
	}
	return ""
}

// hasStyle reports whether the command takes --exit-style.
func (a *Agent) hasStyle(name string) bool {
	for _, c := range a.Commands {
		if c.HasName(name) {
			for _, f := range c.Flags {
				for _, n := range f.Names() {
					if n == "exit-style" {
						return true
					}
				}
			}
		}
	}
	return false
}

// service returns the service name of a command's Nagios status line:
// Agent.Services[command], else the program's name without "ocf-", in
// capitals ("VIPCHECK").
func (a *Agent) service(command string) string {
	if s := a.Services[command]; s != "" {
		return s
	}
	return strings.ToUpper(strings.TrimPrefix(a.Program, "ocf-"))
}
