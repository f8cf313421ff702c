// Package action holds the things a program does to a host when it takes
// or gives up a role: add an address, announce it, start a systemd unit or
// an OCF agent, run a command, write a role file. carp-hook is the first
// user; any program may build them directly.
//
// Every type implements Action: Up brings it into force, Down takes it
// out; both are idempotent, return errors (they never panic) and stop when
// their context ends. Optional interfaces (Critical, HostChecker,
// Repeating, StepNamer) say more about an action to whoever schedules it.
//
// This package imports only internal/ packages: it knows nothing of OCF
// agents' own rules (beyond the exit codes it reads from agents/ocf/ocfcode)
// nor of any program's configuration.
package action

import "context"

// Action is one thing brought into force on taking a role (Up) and out of
// force otherwise (Down). Both must be idempotent: Down may run whether or
// not Up ran.
type Action interface {
	Name() string
	Up(ctx context.Context) error
	Down(ctx context.Context) error
}

// HostChecker is implemented by actions that can check, before any event,
// that this host has what they need (an interface, a program).
type HostChecker interface {
	CheckHost() error
}

// Critical is implemented by fast actions that decide safety (an address,
// a role file): a scheduler takes them down first and at once.
type Critical interface {
	Critical() bool
}

// Repeating is implemented by actions whose Up is a series of steps over
// time (announcements); step runs each one and may refuse it.
type Repeating interface {
	UpEach(ctx context.Context, step func(func() error) error) error
}

// StepNamer is implemented by actions that do different things in each
// direction (an exec action's up and down commands).
type StepNamer interface {
	StepName(up bool) string
}

// Compile-time checks that every action type is an Action, with the
// optional interfaces it means to have.
var (
	_ Action = (*Address)(nil)
	_ Action = (*Announce)(nil)
	_ Action = (*Systemd)(nil)
	_ Action = (*OCF)(nil)
	_ Action = (*Exec)(nil)
	_ Action = (*RoleFile)(nil)
	_ Action = (*OwnedAddress)(nil)
	_ Action = (*HostRoute)(nil)

	_ HostChecker = (*Address)(nil)
	_ HostChecker = (*Announce)(nil)
	_ HostChecker = (*OCF)(nil)
	_ HostChecker = (*Exec)(nil)
	_ HostChecker = (*RoleFile)(nil)

	_ Critical  = (*Address)(nil)
	_ Critical  = (*RoleFile)(nil)
	_ Critical  = (*OwnedAddress)(nil)
	_ Critical  = (*HostRoute)(nil)
	_ Repeating = (*Announce)(nil)
	_ StepNamer = (*Exec)(nil)
)
