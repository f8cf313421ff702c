// Package checkstyle turns the outcome of a health check into the exit
// status and output that the program calling the check expects: an OCF
// agent, relayd, keepalived or ldirectord, or a Nagios/Icinga plugin host.
// ocf-sockd check and ocf-vipcheck share it.
package checkstyle

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/internal/oneline"
)

// Style is a caller's convention for check results.
type Style string

// The styles. Keepalived covers MISC_CHECK and ldirectord's external
// checks: 0 is up, anything else down. Relayd reads an exit status above 0
// as up and 0 as down.
const (
	OCF        Style = "ocf"
	Relayd     Style = "relayd"
	Keepalived Style = "keepalived"
	Nagios     Style = "nagios"
)

// EnvVar names the environment variable that chooses the style when no
// --exit-style is given; useful where the caller runs the program without
// arguments of our choosing (relayd's check script).
const EnvVar = "OCFKIT_EXIT_STYLE"

// Status is the outcome of a check.
type Status int

const (
	// Up means the checked service works.
	Up Status = iota
	// Down means the check ran and the service failed it.
	Down
	// Unknown means the check could not run (bad arguments, no
	// permission).
	Unknown
)

// ErrUsage marks an error in how a check was called: a missing or extra
// argument, an unknown flag, a value out of range. Wrap it (with %w, or
// through Usage) and the command line turns the error into the usage exit
// of the caller's style: relayd reads 0 as down, Nagios 3 as UNKNOWN,
// keepalived and ldirectord anything but 0 as down, OCF 2.
var ErrUsage = errors.New("usage error")

// Usage marks err as a usage error (see ErrUsage); nil stays nil.
func Usage(err error) error {
	if err == nil || errors.Is(err, ErrUsage) {
		return err
	}
	return usageError{err}
}

type usageError struct{ err error }

func (u usageError) Error() string   { return u.err.Error() }
func (u usageError) Unwrap() []error { return []error{u.err, ErrUsage} }

// Timing is how long one stage of a check took.
type Timing struct {
	Label string
	Took  time.Duration
}

// Result is what a check reports.
type Result struct {
	// Service names the check in a Nagios status line, such as "SOCKS".
	Service string
	Status  Status
	// Summary is one line saying what was found.
	Summary string
	// Timings are per-stage durations, printed as Nagios perfdata.
	Timings []Timing
}

// Parse returns the style of a name; "ldirectord" is an alias of
// keepalived.
func Parse(name string) (Style, error) {
	switch s := Style(strings.ToLower(name)); s {
	case OCF, Relayd, Keepalived, Nagios:
		return s, nil
	case "ldirectord":
		return Keepalived, nil
	}
	return "", fmt.Errorf("unknown exit style %q (want ocf, relayd, keepalived, ldirectord or nagios)", name)
}

// Default chooses the style when none is given: from $OCFKIT_EXIT_STYLE,
// else from the program's name (a link or copy named with "relayd" gives
// relayd, one named check_* or with "nagios" gives nagios, one named with
// "keepalived" or "ldirectord" gives keepalived), else ocf.
func Default(program string, getenv func(string) string) (Style, error) {
	if v := getenv(EnvVar); v != "" {
		return Parse(v)
	}
	base := strings.ToLower(filepath.Base(program))
	switch {
	case strings.Contains(base, "relayd"):
		return Relayd, nil
	case strings.HasPrefix(base, "check_") || strings.Contains(base, "nagios"):
		return Nagios, nil
	case strings.Contains(base, "keepalived") || strings.Contains(base, "ldirectord"):
		return Keepalived, nil
	}
	return OCF, nil
}

// CommandFor returns a function for ocf.Agent.CommandFor: a program
// invoked under a name that implies a caller's style (see Default: *relayd*,
// check_*, *nagios*, *keepalived*, *ldirectord*) runs the check command
// directly, since those callers pass only their own arguments.
func CommandFor(check string) func(program string) string {
	return func(program string) string {
		if s, _ := Default(program, func(string) string { return "" }); s != OCF {
			return check
		}
		return ""
	}
}

// Flag is the --exit-style option every check command shares.
func Flag() *cli.StringFlag {
	return &cli.StringFlag{
		Name: "exit-style",
		Usage: "exit status convention: ocf (0 up, 1 down), keepalived/ldirectord (0 up, 1 down), " +
			"relayd (1 up, 0 down) or nagios (0 OK, 2 CRITICAL, 3 UNKNOWN); default from $" + EnvVar +
			" or the program name, else ocf",
	}
}

// The keys under which Bind stores the program name and the environment
// in a cli.App's Metadata.
const (
	metaProgram = "checkstyle.program"
	metaGetenv  = "checkstyle.getenv"
)

// Bind records the program name and the environment that FromCLI reads
// for the default style of app's commands, so that a program run with
// arguments and an environment of its caller's choosing (a test, an
// agent's Run) never consults the process's own.
func Bind(app *cli.App, program string, getenv func(string) string) {
	if app.Metadata == nil {
		app.Metadata = map[string]any{}
	}
	app.Metadata[metaProgram] = program
	app.Metadata[metaGetenv] = getenv
}

// FromCLI returns the style chosen on a command line, or the default for
// the program name and environment bound to the app (see Bind; without,
// no name and an empty environment: the process's own are never read). A
// bad style is a usage error (ErrUsage).
func FromCLI(c *cli.Context) (Style, error) {
	if c.IsSet("exit-style") {
		s, err := Parse(c.String("exit-style"))
		return s, Usage(err)
	}
	program, getenv := bound(c.App)
	s, err := Default(program, getenv)
	return s, Usage(err)
}

// bound returns the program name and environment bound to app, or none.
func bound(app *cli.App) (string, func(string) string) {
	program, getenv := "", func(string) string { return "" }
	if app != nil {
		if p, ok := app.Metadata[metaProgram].(string); ok {
			program = p
		}
		if g, ok := app.Metadata[metaGetenv].(func(string) string); ok {
			getenv = g
		}
	}
	return program, getenv
}

// FromArgs returns the style a raw command line chooses, before (or
// without) flag parsing: the last --exit-style (or -exit-style, with its
// value as the next argument or after "="), else the default for the
// program name and environment. Scanning stops at "--".
func FromArgs(args []string, program string, getenv func(string) string) (Style, error) {
	if v, ok := styleArg(args); ok {
		s, err := Parse(v)
		return s, Usage(err)
	}
	s, err := Default(program, getenv)
	return s, Usage(err)
}

// Guess returns the style to report a usage error in, never failing: the
// style FromArgs finds, else the one the environment names, else the one
// the program name implies (so a relayd link reports a bad --exit-style
// as down).
func Guess(args []string, program string, getenv func(string) string) Style {
	if s, err := FromArgs(args, program, getenv); err == nil {
		return s
	}
	if s, err := Parse(getenv(EnvVar)); err == nil {
		return s
	}
	s, _ := Default(program, func(string) string { return "" })
	return s
}

// styleArg finds the value of the last --exit-style in args.
func styleArg(args []string) (value string, found bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, v, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "exit-style" {
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				break
			}
			i++
			v = args[i]
		}
		value, found = v, true
	}
	return value, found
}

// UsageCode is the exit status of a usage error in the style: the status
// its caller reads as "not up, and not a verdict on the service" where it
// has one. Relayd gets 0 (down; anything above 0 is up), Nagios 3
// (UNKNOWN), keepalived and ldirectord 1 (down), OCF 2 (OCF_ERR_ARGS).
func (s Style) UsageCode() int {
	switch s {
	case Relayd:
		return 0
	case Nagios:
		return 3
	case Keepalived:
		return 1
	}
	return 2
}

// UsageExit reports a usage error as the style's caller reads it and
// returns the exit status (UsageCode): Nagios gets one status line,
// "SERVICE UNKNOWN: reason", on stdout; the others get the reason on
// stderr. This is the one mapping from a usage error to an exit.
func (s Style) UsageExit(stdout, stderr io.Writer, service string, err error) int {
	if s == Nagios {
		s.Report(stdout, Result{Service: service, Status: Unknown, Summary: err.Error()})
	} else {
		fmt.Fprintln(stderr, err)
	}
	return s.UsageCode()
}

// ExitCode maps a result to the exit status the style's caller expects.
func (s Style) ExitCode(st Status) int {
	switch s {
	case Relayd:
		if st == Up {
			return 1
		}
		return 0
	case Nagios:
		switch st {
		case Up:
			return 0
		case Down:
			return 2
		}
		return 3
	}
	if st == Up {
		return 0
	}
	return 1
}

// Report writes the result as the style's caller reads it: a Nagios status
// line with perfdata, or the summary line.
func (s Style) Report(w io.Writer, r Result) {
	if s != Nagios {
		fmt.Fprintln(w, r.Summary)
		return
	}
	word := map[Status]string{Up: "OK", Down: "CRITICAL", Unknown: "UNKNOWN"}[r.Status]
	line := fmt.Sprintf("%s %s: %s", r.Service, word, oneline.Fold(r.Summary))
	if len(r.Timings) > 0 {
		perf := make([]string, len(r.Timings))
		for i, t := range r.Timings {
			perf[i] = fmt.Sprintf("%s=%.6fs;;;0", perfLabel(t.Label), t.Took.Seconds())
		}
		line += " | " + strings.Join(perf, " ")
	}
	fmt.Fprintln(w, line)
}

// Exit reports the result on w and returns the error urfave/cli exits
// with (nil for status 0).
func (s Style) Exit(w io.Writer, r Result) error {
	s.Report(w, r)
	if code := s.ExitCode(r.Status); code != 0 {
		return cli.Exit("", code)
	}
	return nil
}

// perfLabel quotes a perfdata label that holds spaces or quotes.
func perfLabel(l string) string {
	if strings.ContainsAny(l, " '=") {
		return "'" + strings.ReplaceAll(strings.ReplaceAll(l, "'", "''"), "=", "_") + "'"
	}
	return l
}
