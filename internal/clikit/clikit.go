// Package clikit is the command-line contract every ocfkit program shares
// on top of urfave/cli: -V and --version on the program and on every
// command (never -v, which check_tcp_raw and others use for verbose),
// --debug on every command, usage errors marked with checkstyle.ErrUsage
// instead of printed with the whole help, and options after positional
// arguments as glibc's getopt allows (Permute).
package clikit

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/checkstyle"
)

// VersionFlag is -V/--version. Use it instead of urfave/cli's default
// cli.VersionFlag, which is -v.
func VersionFlag() *cli.BoolFlag {
	return &cli.BoolFlag{Name: "version", Aliases: []string{"V"}, Usage: "print the program's name and version"}
}

// DebugFlag is --debug, which turns debug messages on as HA_debug=1 does.
func DebugFlag() *cli.BoolFlag {
	return &cli.BoolFlag{Name: "debug", Usage: "log debug messages too (as HA_debug=1)"}
}

// Prepare gives app and every one of its commands the shared contract:
// -V/--version printing "NAME VERSION" (app.Name, app.Version), --debug,
// no help subcommand inside commands (so "help" stays an argument), and
// flag errors returned as usage errors (checkstyle.Usage) rather than
// printed with the help. Call it once, before app.Run.
func Prepare(app *cli.App) {
	app.HideVersion = true // urfave/cli's own version flag is -v
	addFlag(&app.Flags, VersionFlag())
	if app.OnUsageError == nil {
		app.OnUsageError = usageError
	}
	next := app.Action
	app.Action = func(c *cli.Context) error {
		if c.Bool("version") {
			return printVersion(c)
		}
		if next != nil {
			return next(c)
		}
		if c.Args().Present() {
			return checkstyle.Usage(fmt.Errorf("unknown command %q", c.Args().First()))
		}
		return cli.ShowAppHelp(c)
	}
	prepareCommands(app.Commands)
}

func prepareCommands(cmds []*cli.Command) {
	for _, cmd := range cmds {
		addFlag(&cmd.Flags, VersionFlag())
		addFlag(&cmd.Flags, DebugFlag())
		cmd.HideHelpCommand = true
		if cmd.OnUsageError == nil {
			cmd.OnUsageError = usageError
		}
		if next := cmd.Action; next != nil {
			cmd.Action = func(c *cli.Context) error {
				if c.Bool("version") {
					return printVersion(c)
				}
				return next(c)
			}
		}
		prepareCommands(cmd.Subcommands)
	}
}

// usageError marks a flag parsing error as a usage error.
func usageError(_ *cli.Context, err error, _ bool) error { return checkstyle.Usage(err) }

func printVersion(c *cli.Context) error {
	_, err := fmt.Fprintf(c.App.Writer, "%s %s\n", c.App.Name, c.App.Version)
	return err
}

// addFlag appends f unless a flag already uses one of its names.
func addFlag(flags *[]cli.Flag, f cli.Flag) {
	for _, name := range f.Names() {
		if lookup(*flags, name) != nil {
			return
		}
	}
	*flags = append(*flags, f)
}

// lookup returns the flag called name, or nil.
func lookup(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// PermuteApp returns args (args[0] the program) with the options of the
// command they name moved before its positional arguments, recursively for
// subcommands; see Permute. Options of the app itself must come before
// the command, as urfave/cli requires; the arguments of a command with
// SkipFlagParsing (carp-hook's front-ends) stay as they are.
func PermuteApp(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	flags := append(append([]cli.Flag{}, app.Flags...), cli.HelpFlag)
	return append(args[:1:1], permuteCommands(app.Commands, flags, args[1:])...)
}

// permuteCommands skips the leading options (of flags) in args; when the
// next argument names one of cmds, the rest is that command's, permuted.
func permuteCommands(cmds []*cli.Command, flags []cli.Flag, args []string) []string {
	i := 0
	for i < len(args) && isOption(args[i]) {
		i += 1 + valueCount(flags, args[i], args[i+1:])
	}
	if i >= len(args) {
		return args
	}
	var cmd *cli.Command
	for _, c := range cmds {
		if c.HasName(args[i]) {
			cmd = c
		}
	}
	if cmd == nil {
		return args
	}
	own := append(append([]cli.Flag{}, cmd.Flags...), cli.HelpFlag)
	rest := args[i+1:]
	switch {
	case cmd.SkipFlagParsing: // the caller's words, untouched
	case len(cmd.Subcommands) > 0:
		rest = permuteCommands(cmd.Subcommands, own, rest)
	default:
		rest = Permute(rest, own)
	}
	return append(append([]string{}, args[:i+1]...), rest...)
}

// Permute moves the options in args (a command's arguments, after its
// name) before the positional arguments, keeping the order within each,
// as glibc's getopt and argp do: "eth0 10.0.0.2 VIP 80 -t 300" becomes
// "-t 300 eth0 10.0.0.2 VIP 80". An option of flags that takes a value
// brings the next argument along (unless given as --name=value). "--"
// ends the options: it and everything after it stay behind the
// positional arguments, so "--" still protects an argument that starts
// with "-". A lone "-" is a positional argument.
func Permute(args []string, flags []cli.Flag) []string {
	var opts, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(append(append(opts, a), pos...), args[i+1:]...)
		}
		if !isOption(a) {
			pos = append(pos, a)
			continue
		}
		n := valueCount(flags, a, args[i+1:])
		opts = append(opts, args[i:i+1+n]...)
		i += n
	}
	return append(opts, pos...)
}

// isOption reports whether a looks like an option.
func isOption(a string) bool { return len(a) > 1 && a[0] == '-' && a != "--" }

// valueCount returns how many of the following arguments the option a
// takes: 1 for an option of flags that takes a value and is given without
// "=" (also as the last of combined short options, "-ct 300"), else 0.
func valueCount(flags []cli.Flag, a string, following []string) int {
	if len(following) == 0 || strings.Contains(a, "=") {
		return 0
	}
	name := strings.TrimLeft(a, "-")
	if f := lookup(flags, name); f != nil {
		if takesValue(f) {
			return 1
		}
		return 0
	}
	// Combined short options (-cv, -ct 300): the last one may take a value.
	if a[1] != '-' && len(name) > 1 {
		for _, r := range name[:len(name)-1] {
			if f := lookup(flags, string(r)); f == nil || takesValue(f) {
				return 0
			}
		}
		if f := lookup(flags, name[len(name)-1:]); f != nil && takesValue(f) {
			return 1
		}
	}
	return 0
}

// takesValue reports whether a flag needs a value (all but booleans).
func takesValue(f cli.Flag) bool {
	if v, ok := f.(interface{ TakesValue() bool }); ok {
		return v.TakesValue()
	}
	return true
}

// HasOption reports whether the boolean option --name (or -name) is given
// in args before any "--", as a permuted command line (Permute) has it
// before the command's positional arguments.
func HasOption(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "-"+name || a == "--"+name || a == "--"+name+"=true" || a == "-"+name+"=true" {
			return true
		}
	}
	return false
}

// Run gives app the shared contract (Prepare, with version as its
// version) and runs it with args permuted (PermuteApp); for programs
// without agents/ocf's runCLI, such as carp-hook. Usage errors come back
// marked with checkstyle.ErrUsage, for the caller's one mapping to exit
// codes.
func Run(app *cli.App, version string, args []string) error {
	app.Version = version
	Prepare(app)
	return app.Run(PermuteApp(app, args))
}

// Debug reports whether --debug was given on the command line anywhere in
// c's lineage: before the command (the program's own flag, with its
// environment variables) or after it (the flag Prepare adds to every
// command, which would otherwise hide the program's one).
func Debug(c *cli.Context) bool {
	for _, x := range c.Lineage() {
		if x.Bool("debug") {
			return true
		}
	}
	return false
}
