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
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

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
}

// Main runs the agent with the process's arguments and environment and
// exits with the resulting code.
func (a *Agent) Main() {
	os.Exit(a.Run(os.Args, osEnv, os.Stdout, os.Stderr))
}

// Run dispatches args[1] and returns the exit code. OCF actions go to their
// handlers; "help", "usage", flags and the names of Commands go to the
// command-line interface; anything else is an unimplemented action.
func (a *Agent) Run(args []string, env Env, stdout, stderr io.Writer) int {
	if a.CommandFor != nil && len(args) > 0 {
		if cmd := a.CommandFor(filepath.Base(args[0])); cmd != "" {
			return a.runCLI(append([]string{args[0], cmd}, args[1:]...), stdout, stderr)
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
	case action == "status" || a.Actions[action] != nil:
		return a.runAction(action, env, stderr)
	case strings.HasPrefix(action, "-") || action == "version" || a.hasCommand(action):
		return a.runCLI(args, stdout, stderr)
	}
	fmt.Fprint(stderr, a.usage())
	a.exitReason(env, stderr, fmt.Sprintf("unknown action %q", action))
	return int(Unimplemented)
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
	req.Log = NewLogger(a.Program, req.Instance, stderr)
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
		prefix = "ocf-exit-reason:"
	}
	fmt.Fprintf(stderr, "%s%s\n", prefix, OneLine(reason))
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

// runCLI serves the human-facing commands. A command reports its exit code
// with cli.Exit; any other error is an argument error.
func (a *Agent) runCLI(args []string, stdout, stderr io.Writer) int {
	code := int(Success)
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
		}}, a.Commands...),
		ExitErrHandler: func(c *cli.Context, err error) {
			if err == nil {
				return
			}
			if ec, ok := err.(cli.ExitCoder); ok {
				if msg := err.Error(); msg != "" {
					fmt.Fprintln(stderr, msg)
				}
				code = ec.ExitCode()
				return
			}
			fmt.Fprintln(stderr, err)
			code = int(ErrArgs)
		},
		HideHelpCommand: true,
	}
	if err := app.Run(args); err != nil && code == int(Success) {
		fmt.Fprintln(stderr, err)
		code = int(ErrArgs)
	}
	return code
}
