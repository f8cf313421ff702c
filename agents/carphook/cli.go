package carphook

// The command line of carp-hook: the front-ends of each caller, status,
// check-config and the detached worker. Errors become exit codes in
// exitCode alone.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/agents/carphook/action"
	"github.com/ocfkit/ocfkit/agents/carphook/config"
	"github.com/ocfkit/ocfkit/agents/carphook/event"
	"github.com/ocfkit/ocfkit/agents/carphook/store"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the event could not be handled, or status: the last transition failed
	exitUsage   = 2 // arguments do not match the caller's form
	exitPending = 3 // status: the last event is still being applied
)

// exitError carries an exit code to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Main runs carp-hook with args and returns its exit code.
func Main(args []string) int {
	return exitCode(app().Run(args))
}

// exitCode is the one place where errors become exit codes.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	code := exitFailed
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case event.IsUsage(err):
		code = exitUsage
	}
	if ee == nil || ee.err != nil {
		fmt.Fprintln(os.Stderr, "carp-hook:", err)
	}
	return code
}

func app() *cli.App {
	a := &cli.App{
		Name:  "carp-hook",
		Usage: "move a service with a CARP/VRRP address (ucarp, keepalived, devd, ifstated)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: "/etc/carp-hook.toml",
				EnvVars: []string{"CARP_HOOK_CONFIG"}, Usage: "configuration `FILE`"},
		},
		HideHelpCommand: true,
		Commands: []*cli.Command{
			{Name: "check-config", Usage: "validate a configuration file without acting", ArgsUsage: "[FILE]",
				Action: checkConfigCommand},
			{Name: "status", Usage: "show the last event and outcome of a group", ArgsUsage: "GROUP",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "json", Usage: "print the raw status"},
					&cli.DurationFlag{Name: "wait", Usage: "wait up to `DURATION` for the last event to be applied"},
				},
				Action: statusCommand},
			{Name: "worker", Hidden: true, ArgsUsage: "GROUP", Action: workerCommand},
		},
	}
	for _, src := range event.Sources {
		a.Commands = append(a.Commands, &cli.Command{
			Name:            src,
			Usage:           "handle a state change from " + src,
			ArgsUsage:       event.Forms[src],
			SkipFlagParsing: true, // the caller's words are passed through untouched
			Action:          frontEnd(src),
		})
	}
	return a
}

// load reads the configuration named by --config and opens its state
// directory. It also returns the configuration's absolute path.
func load(c *cli.Context, log Logger) (*Hook, string, error) {
	path, err := filepath.Abs(c.String("config"))
	if err != nil {
		return nil, "", fmt.Errorf("configuration path: %w", err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, path, err
	}
	h, err := New(cfg, log)
	return h, path, err
}

// frontEnd handles one caller's event: parse, record, critical actions,
// detached worker.
func frontEnd(src string) cli.ActionFunc {
	return func(c *cli.Context) error {
		ev, err := event.Parse(src, c.Args().Slice())
		if err != nil {
			return err
		}
		log := newSystemLogger()
		h, path, err := load(c, log)
		if err != nil {
			log.Errorf("%s %v: %v", src, c.Args().Slice(), err)
			return err
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		h.Spawn = func(group string) error {
			return spawnDetached(exe, "--config", path, "worker", group)
		}
		_, _, err = h.Handle(c.Context, ev)
		return err
	}
}

func workerCommand(c *cli.Context) error {
	if c.NArg() != 1 {
		return &exitError{exitUsage, errors.New("usage: carp-hook worker GROUP")}
	}
	h, _, err := load(c, newSystemLogger())
	if err != nil {
		return err
	}
	return h.Work(context.Background(), c.Args().First())
}

func statusCommand(c *cli.Context) error {
	if c.NArg() != 1 {
		return &exitError{exitUsage, errors.New("usage: carp-hook status [--json] [--wait DURATION] GROUP")}
	}
	h, _, err := load(c, nil)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(c.Duration("wait"))
	var st *store.Status
	for {
		if st, err = h.Status(c.Args().First()); err != nil {
			return err
		}
		if st.Settled() || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return err
		}
	} else {
		writeStatus(os.Stdout, st)
	}
	switch {
	case st.Seq == 0 || st.Settled() && st.Outcome == store.OutcomeOK && st.CriticalError == "":
		return nil
	case !st.Settled():
		return &exitError{code: exitPending}
	}
	return &exitError{code: exitFailed}
}

func checkConfigCommand(c *cli.Context) error {
	path := c.Args().First()
	if path == "" {
		path = c.String("config")
	}
	if c.NArg() > 1 {
		return &exitError{exitUsage, errors.New("usage: carp-hook check-config [FILE]")}
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	for _, name := range cfg.GroupNames() {
		g := cfg.Groups[name]
		acts, err := action.ForGroup(g, action.Env{Group: name, OCFRoot: cfg.OCFRoot})
		if err != nil {
			return err
		}
		fmt.Printf("group %s (also: %v, on_error %s, timeout %v)\n", name, g.Match, g.OnError, g.Timeout)
		for i, a := range acts {
			fmt.Printf("  %d. %s\n", i+1, a.Name())
		}
	}
	fmt.Printf("%s: OK\n", path)
	return nil
}
