package action

import (
	"fmt"
	"time"
)

// Verb is the job a Systemd action starts on its unit.
type Verb string

// Verbs: Up uses Start or Restart, Down always Stop.
const (
	Start   Verb = "start"
	Restart Verb = "restart"
	Stop    Verb = "stop"
)

// Systemd starts (or restarts) a unit over D-Bus on MASTER and stops it
// otherwise, then waits until the unit's ActiveState is active (or, going
// down, inactive or failed) within Timeout. It talks to systemd's private
// socket as root, or to the system bus.
type Systemd struct {
	Unit    string
	Verb    Verb // Start or Restart
	Timeout time.Duration
}

// Name describes the action.
func (s *Systemd) Name() string { return fmt.Sprintf("systemd %s %s", s.Verb, s.Unit) }
