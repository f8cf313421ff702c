// Package action implements carp-hook's action types. Each is an
// engine.Action built from one [[group.NAME.action]] of the configuration;
// Up brings it into force on MASTER, Down takes it out. Both are idempotent.
package action

import (
	"fmt"

	"github.com/ocfkit/ocfkit/agents/carphook/config"
	"github.com/ocfkit/ocfkit/agents/carphook/engine"
)

// Env is what actions need from their surroundings.
type Env struct {
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

// New builds the action for a validated configuration entry.
func New(a *config.Action, env Env) (engine.Action, error) {
	switch a.Type {
	case config.TypeAddress:
		return &Address{Interface: a.Interface, Prefixes: a.Prefixes, Log: env.Log}, nil
	case config.TypeAnnounce:
		return &Announce{Interface: a.Interface, IPs: a.IPs, Count: a.Count, Interval: a.Interval}, nil
	case config.TypeSystemd:
		return &Systemd{Unit: a.Unit, Verb: a.Verb, Timeout: a.Timeout}, nil
	case config.TypeOCF:
		inst := a.Instance
		if inst == "" {
			inst = env.Group
		}
		return &OCF{Agent: a.Agent, Instance: inst, Params: a.Params, Root: env.OCFRoot, Timeout: a.Timeout}, nil
	case config.TypeRoleFile:
		return &RoleFile{Path: a.Path}, nil
	case config.TypeExec:
		return &Exec{UpArgv: a.Up, DownArgv: a.Down, Timeout: a.Timeout, Group: env.Group, State: env.State}, nil
	}
	return nil, fmt.Errorf("unknown action type %q", a.Type)
}

// ForGroup builds every action of a group, in configuration order.
func ForGroup(g *config.Group, env Env) ([]engine.Action, error) {
	acts := make([]engine.Action, 0, len(g.Actions))
	for i, a := range g.Actions {
		act, err := New(a, env)
		if err != nil {
			return nil, fmt.Errorf("group %s, action %d: %w", g.Name, i+1, err)
		}
		acts = append(acts, act)
	}
	return acts, nil
}
