package action

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Exec runs a command (argv, no shell) on MASTER and another otherwise, for
// rc systems: `service dante onestart`, `rcctl start sockd`. CARP_GROUP and
// CARP_STATE are set in its environment. Exit status 0 is success.
type Exec struct {
	UpArgv, DownArgv []string
	Timeout          time.Duration
	Group, State     string
}

// Name describes the action: its up and down commands.
func (e *Exec) Name() string {
	var parts []string
	if len(e.UpArgv) > 0 {
		parts = append(parts, "up: "+strings.Join(e.UpArgv, " "))
	}
	if len(e.DownArgv) > 0 {
		parts = append(parts, "down: "+strings.Join(e.DownArgv, " "))
	}
	return "exec " + strings.Join(parts, "; ")
}

// StepName names the command of one direction, for the steps of a status.
func (e *Exec) StepName(up bool) string {
	argv := e.DownArgv
	if up {
		argv = e.UpArgv
	}
	if len(argv) == 0 {
		return "exec (nothing)"
	}
	return "exec " + strings.Join(argv, " ")
}

// CheckHost checks that the commands exist and are safe to run as root.
func (e *Exec) CheckHost() error {
	var errs []error
	for _, argv := range [][]string{e.UpArgv, e.DownArgv} {
		if len(argv) > 0 {
			errs = append(errs, CheckCommand(argv))
		}
	}
	return errors.Join(errs...)
}

// Up runs the up command, if any.
func (e *Exec) Up(ctx context.Context) error { return e.run(ctx, e.UpArgv) }

// Down runs the down command, if any.
func (e *Exec) Down(ctx context.Context) error { return e.run(ctx, e.DownArgv) }

func (e *Exec) run(ctx context.Context, argv []string) error {
	if len(argv) == 0 {
		return nil
	}
	env := append(os.Environ(), "CARP_GROUP="+e.Group, "CARP_STATE="+e.State)
	res, err := run(ctx, argv, env, e.Timeout)
	if err != nil {
		return err
	}
	if res.Code != 0 {
		return fmt.Errorf("%s exited with %d: %s", strings.Join(argv, " "), res.Code, lastLine(res.Output))
	}
	return nil
}
