// Package ocfcode holds the OCF exit codes and nothing else: a leaf that
// imports nothing of this module, so that both agents/ocf (which re-exports
// the codes and owns the rules around them) and packages below the agents
// layer (action's ocf action, which reads another agent's exit status) use
// one declaration. Probers must not import it: they know nothing of OCF.
package ocfcode

import "fmt"

// Code is an OCF exit code.
type Code int

// The OCF exit codes (OCF 1.1, with Pacemaker's degraded codes).
const (
	Success          Code = 0
	ErrGeneric       Code = 1
	ErrArgs          Code = 2
	Unimplemented    Code = 3
	ErrPerm          Code = 4
	ErrInstalled     Code = 5
	ErrConfigured    Code = 6
	NotRunning       Code = 7
	RunningPromoted  Code = 8
	FailedPromoted   Code = 9
	Degraded         Code = 190
	DegradedPromoted Code = 191
)

// ExitReasonPrefix starts the stderr line in which an agent gives the
// reason for a failure (unless OCF_EXIT_REASON_PREFIX says otherwise).
const ExitReasonPrefix = "ocf-exit-reason:"

var codeNames = map[Code]string{
	Success: "success", ErrGeneric: "generic error", ErrArgs: "invalid arguments",
	Unimplemented: "unimplemented", ErrPerm: "insufficient privileges",
	ErrInstalled: "not installed", ErrConfigured: "not configured",
	NotRunning: "not running", RunningPromoted: "running promoted",
	FailedPromoted: "failed promoted", Degraded: "degraded",
	DegradedPromoted: "degraded promoted",
}

// String returns the name Pacemaker's tools use for the code.
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code %d", int(c))
}
