// Package event turns the arguments that CARP and VRRP daemons pass to their
// state-change scripts into one event: a group name and one of five states.
//
// Each caller has its own argument form:
//
//	ucarp      up|down IFACE VIP [EXTRA]          (--upscript/--downscript)
//	keepalived [GROUP] GROUP|INSTANCE NAME STATE PRIO  (generic notify)
//	devd       VHID@IFACE MASTER|BACKUP|INIT      (FreeBSD, system CARP)
//	ifstated   STATE [IFACE]                      (OpenBSD)
//	apply      GROUP STATE                        (anything else)
//
// The package knows nothing of configuration or actions.
package event

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// State is the normalised role of this node in a group.
type State string

// The five states every front-end maps to. Only Master brings a group up;
// every other state takes it down.
const (
	Master State = "MASTER"
	Backup State = "BACKUP"
	Fault  State = "FAULT"
	Init   State = "INIT"
	Stop   State = "STOP"
)

// States lists every valid state.
var States = []State{Master, Backup, Fault, Init, Stop}

// ParseState accepts a state name in any case.
func ParseState(s string) (State, error) {
	st := State(strings.ToUpper(s))
	for _, v := range States {
		if st == v {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown state %q (want MASTER, BACKUP, FAULT, INIT or STOP)", s)
}

// Event is one normalised state change.
type Event struct {
	// Source names the front-end: ucarp, keepalived, devd, ifstated, apply.
	Source string
	// Group is the key used to find the configured group. It may be empty
	// (ifstated without an interface): then the only configured group is meant.
	Group string
	// State is the new state.
	State State
	// Interface and VIP are set when the caller passed them (ucarp, devd).
	Interface string
	VIP       string
	// Priority is keepalived's priority, -1 when not given.
	Priority int
}

// UsageError reports arguments that do not match the caller's form. Its
// message names the expected form.
type UsageError struct {
	Source string
	Form   string
	Reason string
}

func (e *UsageError) Error() string {
	return fmt.Sprintf("%s: %s; usage: carp-hook %s %s", e.Source, e.Reason, e.Source, e.Form)
}

// Forms maps each front-end to its argument form, for usage messages.
var Forms = map[string]string{
	"ucarp":      "up|down IFACE VIP [EXTRA]",
	"keepalived": "[GROUP] GROUP|INSTANCE NAME MASTER|BACKUP|FAULT|STOP|DELETED PRIORITY",
	"devd":       "VHID@IFACE MASTER|BACKUP|INIT",
	"ifstated":   "MASTER|BACKUP|INIT|up|down|unknown [IFACE]",
	"apply":      "GROUP MASTER|BACKUP|FAULT|INIT|STOP",
}

// Sources lists the front-ends in the order they are documented.
var Sources = []string{"ucarp", "keepalived", "devd", "ifstated", "apply"}

// Parse parses the arguments of one front-end.
func Parse(source string, args []string) (Event, error) {
	switch source {
	case "ucarp":
		return parseUcarp(args)
	case "keepalived":
		return parseKeepalived(args)
	case "devd":
		return parseDevd(args)
	case "ifstated":
		return parseIfstated(args)
	case "apply":
		return parseApply(args)
	}
	return Event{}, fmt.Errorf("unknown front-end %q", source)
}

func usage(source, format string, a ...any) error {
	return &UsageError{Source: source, Form: Forms[source], Reason: fmt.Sprintf(format, a...)}
}

// IsUsage reports whether err is a usage error.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}

func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == '/' || r == 0x7f || r > 0x7e {
			return false
		}
	}
	return s != "." && s != ".."
}

// ucarp: up|down IFACE VIP [EXTRA]. The group is EXTRA (ucarp -x) when
// given, else the VIP.
func parseUcarp(args []string) (Event, error) {
	if len(args) < 3 || len(args) > 4 {
		return Event{}, usage("ucarp", "got %d arguments, want 3 or 4", len(args))
	}
	ev := Event{Source: "ucarp", Interface: args[1], VIP: args[2], Priority: -1}
	switch strings.ToLower(args[0]) {
	case "up":
		ev.State = Master
	case "down":
		ev.State = Backup
	default:
		return Event{}, usage("ucarp", "first argument %q is neither up nor down", args[0])
	}
	if !validName(ev.Interface) {
		return Event{}, usage("ucarp", "bad interface name %q", ev.Interface)
	}
	if !validName(ev.VIP) {
		return Event{}, usage("ucarp", "bad address %q", ev.VIP)
	}
	ev.Group = ev.VIP
	if len(args) == 4 && args[3] != "" {
		if !validName(args[3]) {
			return Event{}, usage("ucarp", "bad extra argument %q (used as the group name)", args[3])
		}
		ev.Group = args[3]
	}
	return ev, nil
}

// keepalived: [GROUP] GROUP|INSTANCE NAME STATE PRIO. keepalived appends the
// last four words to what the notify line holds, so one optional word before
// them names the configured group (default: NAME).
func parseKeepalived(args []string) (Event, error) {
	if len(args) < 4 || len(args) > 5 {
		return Event{}, usage("keepalived", "got %d arguments, want 4 or 5", len(args))
	}
	override := ""
	if len(args) == 5 {
		override, args = args[0], args[1:]
	}
	kind := strings.ToUpper(args[0])
	if kind != "GROUP" && kind != "INSTANCE" {
		return Event{}, usage("keepalived", "type %q is neither GROUP nor INSTANCE", args[0])
	}
	// keepalived's notify_deleted: the instance was removed (a reload
	// without it). Like STOP, it takes the group down: the address is
	// released.
	if strings.EqualFold(args[2], "DELETED") {
		args = append([]string{args[0], args[1], string(Stop)}, args[3:]...)
	}
	st, err := ParseState(args[2])
	if err != nil || st == Init {
		return Event{}, usage("keepalived", "bad state %q", args[2])
	}
	prio, err := strconv.Atoi(args[3])
	if err != nil || prio < 0 || prio > 255 {
		return Event{}, usage("keepalived", "bad priority %q", args[3])
	}
	ev := Event{Source: "keepalived", Group: args[1], State: st, Priority: prio}
	if override != "" {
		ev.Group = override
	}
	if !validName(ev.Group) {
		return Event{}, usage("keepalived", "bad group name %q", ev.Group)
	}
	return ev, nil
}

// devd: VHID@IFACE STATE, from "action \"carp-hook devd $subsystem $type\"".
func parseDevd(args []string) (Event, error) {
	if len(args) != 2 {
		return Event{}, usage("devd", "got %d arguments, want 2", len(args))
	}
	vhid, ifname, ok := strings.Cut(args[0], "@")
	if !ok {
		return Event{}, usage("devd", "subsystem %q is not VHID@IFACE", args[0])
	}
	n, err := strconv.Atoi(vhid)
	if err != nil || n < 1 || n > 255 || strconv.Itoa(n) != vhid {
		return Event{}, usage("devd", "bad vhid %q", vhid)
	}
	if !validName(ifname) {
		return Event{}, usage("devd", "bad interface %q", ifname)
	}
	st, err := ParseState(args[1])
	if err != nil || (st != Master && st != Backup && st != Init) {
		return Event{}, usage("devd", "bad state %q", args[1])
	}
	return Event{Source: "devd", Group: args[0], State: st, Interface: ifname, Priority: -1}, nil
}

// ifstated: STATE [IFACE]. carp link states up/down/unknown are accepted as
// MASTER/BACKUP/INIT. The group is IFACE; without it, the only group.
func parseIfstated(args []string) (Event, error) {
	if len(args) < 1 || len(args) > 2 {
		return Event{}, usage("ifstated", "got %d arguments, want 1 or 2", len(args))
	}
	var st State
	switch strings.ToLower(args[0]) {
	case "up", "master":
		st = Master
	case "down", "backup":
		st = Backup
	case "unknown", "init":
		st = Init
	default:
		return Event{}, usage("ifstated", "bad state %q", args[0])
	}
	ev := Event{Source: "ifstated", State: st, Priority: -1}
	if len(args) == 2 {
		if !validName(args[1]) {
			return Event{}, usage("ifstated", "bad interface %q", args[1])
		}
		ev.Group, ev.Interface = args[1], args[1]
	}
	return ev, nil
}

// apply: GROUP STATE.
func parseApply(args []string) (Event, error) {
	if len(args) != 2 {
		return Event{}, usage("apply", "got %d arguments, want 2", len(args))
	}
	if !validName(args[0]) {
		return Event{}, usage("apply", "bad group name %q", args[0])
	}
	st, err := ParseState(args[1])
	if err != nil {
		return Event{}, usage("apply", "%v", err)
	}
	return Event{Source: "apply", Group: args[0], State: st, Priority: -1}, nil
}
