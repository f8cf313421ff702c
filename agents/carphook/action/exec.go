package action

import (
	"context"
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

// Name describes the action.
func (e *Exec) Name() string {
	argv := e.UpArgv
	if len(argv) == 0 {
		argv = e.DownArgv
	}
	return "exec " + strings.Join(argv, " ")
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
