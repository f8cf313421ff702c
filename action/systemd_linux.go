//go:build linux

package action

import (
	"context"
	"errors"
	"fmt"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
)

// Up starts or restarts the unit and waits for ActiveState active.
func (s *Systemd) Up(ctx context.Context) error {
	return s.do(ctx, s.Verb, "active")
}

// Down stops the unit and waits for ActiveState inactive or failed.
func (s *Systemd) Down(ctx context.Context) error {
	return s.do(ctx, Stop, "inactive", "failed")
}

// connect dials systemd directly (root), falling back to the system bus.
func connect(ctx context.Context) (*sd.Conn, error) {
	c, err := sd.NewSystemdConnectionContext(ctx)
	if err == nil {
		return c, nil
	}
	c, err2 := sd.NewWithContext(ctx)
	if err2 == nil {
		return c, nil
	}
	return nil, fmt.Errorf("connecting to systemd: %w", errors.Join(err, err2))
}

func (s *Systemd) do(ctx context.Context, verb Verb, want ...string) error {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	c, err := connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	done := make(chan string, 1)
	switch verb {
	case Start:
		_, err = c.StartUnitContext(ctx, s.Unit, "replace", done)
	case Restart:
		_, err = c.RestartUnitContext(ctx, s.Unit, "replace", done)
	case Stop:
		_, err = c.StopUnitContext(ctx, s.Unit, "replace", done)
	default:
		return fmt.Errorf("unknown systemd verb %q", verb)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, s.Unit, err)
	}
	var job string
	select {
	case job = <-done:
	case <-ctx.Done():
		return fmt.Errorf("%s %s: no job result within %v", verb, s.Unit, s.Timeout)
	}
	// The job result says whether systemd did it; the ActiveState says
	// whether the unit is where we want it (a start job is "done" when
	// ExecStart ran, the unit may fail right after).
	last := ""
	for {
		p, err := c.GetUnitPropertyContext(ctx, s.Unit, "ActiveState")
		if err == nil {
			last, _ = p.Value.Value().(string)
			for _, w := range want {
				if last == w {
					return nil
				}
			}
			if verb != "stop" && last == "failed" {
				return fmt.Errorf("%s %s: job %s, unit failed", verb, s.Unit, job)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: job %s, ActiveState %q, not %v within %v", verb, s.Unit, job, last, want, s.Timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// State returns the unit's ActiveState, for status reports and tests.
func (s *Systemd) State(ctx context.Context) (string, error) {
	c, err := connect(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	p, err := c.GetUnitPropertyContext(ctx, s.Unit, "ActiveState")
	if err != nil {
		return "", err
	}
	v, _ := p.Value.Value().(string)
	return v, nil
}
