package carphook

import (
	"fmt"

	"github.com/ocfkit/ocfkit/action"
	"github.com/ocfkit/ocfkit/agents/carphook/config"
	"github.com/ocfkit/ocfkit/agents/carphook/engine"
)

// actionEnv is what a group's actions need from their surroundings.
type actionEnv struct {
	// Group is the group's name (OCF_RESOURCE_INSTANCE, CARP_GROUP).
	Group string
	// State is the state being applied (CARP_STATE for exec).
	State string
	// OCFRoot is OCF_ROOT for ocf actions.
	OCFRoot string
	// Log receives what an action repaired on its way (an address the
	// kernel removed with ours); nil drops it.
	Log func(format string, a ...any)
}

// newAction builds the action (package action) for a validated
// configuration entry: Up brings it into force on MASTER, Down takes it out.
func newAction(a *config.Action, env actionEnv) (engine.Action, error) {
	switch a.Type {
	case config.TypeAddress:
		return &action.Address{Interface: a.Interface, Prefixes: a.Prefixes, Log: env.Log}, nil
	case config.TypeAnnounce:
		return &action.Announce{Interface: a.Interface, IPs: a.IPs, Count: a.Count, Interval: a.Interval}, nil
	case config.TypeSystemd:
		return &action.Systemd{Unit: a.Unit, Verb: a.Verb, Timeout: a.Timeout}, nil
	case config.TypeOCF:
		inst := a.Instance
		if inst == "" {
			inst = env.Group
		}
		return &action.OCF{Agent: a.Agent, Instance: inst, Params: a.Params, Root: env.OCFRoot, Timeout: a.Timeout}, nil
	case config.TypeRoleFile:
		return &action.RoleFile{Path: a.Path}, nil
	case config.TypeExec:
		return &action.Exec{UpArgv: a.Up, DownArgv: a.Down, Timeout: a.Timeout, Group: env.Group, State: env.State}, nil
	}
	return nil, fmt.Errorf("unknown action type %q", a.Type)
}

// groupActions builds every action of a group, in configuration order.
func groupActions(g *config.Group, env actionEnv) ([]engine.Action, error) {
	acts := make([]engine.Action, 0, len(g.Actions))
	for i, a := range g.Actions {
		act, err := newAction(a, env)
		if err != nil {
			return nil, fmt.Errorf("group %s, action %d: %w", g.Name, i+1, err)
		}
		acts = append(acts, act)
	}
	return acts, nil
}
