package dnsfailover

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ocfkit/ocfkit/action"
)

// ocfRoot is where OCF agents are found.
const ocfRoot = "/usr/lib/ocf"

// restartAction builds the shared action that restarts a member's
// service: a systemd unit restarted over D-Bus, an OCF agent stopped and
// started, or a command.
func restartAction(m *Member) (action.Action, error) {
	r := m.Restart
	switch r.Type {
	case "systemd":
		return &action.Systemd{Unit: r.Unit, Verb: action.Restart, Timeout: r.TimeoutD}, nil
	case "ocf":
		parts := strings.Split(strings.TrimPrefix(r.Agent, "ocf:"), ":")
		if len(parts) != 2 {
			return nil, fmt.Errorf("ocf agent %q: want PROVIDER:TYPE", r.Agent)
		}
		inst := r.Instance
		if inst == "" {
			inst = parts[1]
		}
		return &action.OCF{Agent: filepath.Join(ocfRoot, "resource.d", parts[0], parts[1]), Instance: inst,
			Params: r.Params, Root: ocfRoot, Timeout: r.TimeoutD}, nil
	case "exec":
		return &action.Exec{UpArgv: r.Command, Timeout: r.TimeoutD, Group: m.Addr.String(), State: "RESTART"}, nil
	}
	return nil, fmt.Errorf("restart type %q unknown", r.Type)
}

// restartMember restarts m's service once: a systemd or exec action is
// brought up (systemd restarts the unit); an OCF agent is stopped, then
// started.
func restartMember(ctx context.Context, m *Member) error {
	a, err := restartAction(m)
	if err != nil {
		return err
	}
	if _, ok := a.(*action.OCF); ok {
		if err := a.Down(ctx); err != nil {
			return errors.Join(fmt.Errorf("%s: %w", a.Name(), err))
		}
	}
	if err := a.Up(ctx); err != nil {
		return fmt.Errorf("%s: %w", a.Name(), err)
	}
	return nil
}
