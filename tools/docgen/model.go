package main

import (
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// command is what the man page and the completions say about a program
// or one of its commands, read from its urfave/cli definition.
type command struct {
	Name        string
	Aliases     []string
	Usage       string
	Args        string // the argument synopsis, such as "IFACE VIP"
	Description string // ArgsUsage after its first line, and Description
	Flags       []option
	Commands    []command
	// Verbatim: the arguments are passed on untouched, options included
	// (carp-hook's front-ends).
	Verbatim bool
}

// option is one option.
type option struct {
	Names       []string // long name first, as given
	Placeholder string   // the value's name, "" for a boolean
	Usage       string
	Default     string
	EnvVars     []string
}

// fromApp reads a program's definition. Hidden commands and flags are left
// out; urfave/cli's implicit --help (and --version where the app shows
// it) are included, as the program accepts them.
func fromApp(app *cli.App) command {
	c := command{Name: app.Name, Usage: app.Usage, Description: app.Description}
	c.Flags = flags(app.Flags)
	if !app.HideHelp {
		c.Flags = appendFlag(c.Flags, cli.HelpFlag)
	}
	if app.Version != "" && !app.HideVersion {
		c.Flags = appendFlag(c.Flags, cli.VersionFlag)
	}
	for _, sub := range app.Commands {
		if !sub.Hidden {
			c.Commands = append(c.Commands, fromCommand(sub, app.HideHelp))
		}
	}
	return c
}

func fromCommand(cmd *cli.Command, hideHelp bool) command {
	first, rest, _ := strings.Cut(cmd.ArgsUsage, "\n")
	c := command{Name: cmd.Name, Aliases: cmd.Aliases, Usage: cmd.Usage, Args: strings.TrimSpace(first),
		Verbatim: cmd.SkipFlagParsing}
	c.Description = strings.Trim(rest, "\n")
	if cmd.Description != "" {
		if c.Description != "" {
			c.Description += "\n\n"
		}
		c.Description += cmd.Description
	}
	c.Flags = flags(cmd.Flags)
	if !hideHelp && !cmd.HideHelp && !cmd.SkipFlagParsing {
		c.Flags = appendFlag(c.Flags, cli.HelpFlag)
	}
	for _, sub := range cmd.Subcommands {
		if !sub.Hidden {
			c.Commands = append(c.Commands, fromCommand(sub, hideHelp))
		}
	}
	return c
}

// appendFlag appends f unless a flag already has one of its names.
func appendFlag(fs []option, f cli.Flag) []option {
	for _, have := range fs {
		for _, n := range have.Names {
			for _, m := range f.Names() {
				if n == m {
					return fs
				}
			}
		}
	}
	return append(fs, flags([]cli.Flag{f})...)
}

func flags(in []cli.Flag) []option {
	var out []option
	for _, f := range in {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		d, _ := f.(cli.DocGenerationFlag)
		fl := option{Names: f.Names()}
		if d != nil {
			fl.Usage, fl.EnvVars = d.GetUsage(), d.GetEnvVars()
			if d.TakesValue() {
				fl.Usage, fl.Placeholder = placeholder(fl.Usage, f)
				if v := d.GetValue(); v != "" && v != "0" && v != "0s" && v != `""` {
					fl.Default = strings.Trim(v, `"`)
				}
			}
		}
		out = append(out, fl)
	}
	return out
}

// placeholder returns the usage without its `NAME` quotes and the name of
// the value, as urfave/cli's help shows it: the quoted word, else one
// from the flag's type.
func placeholder(usage string, f cli.Flag) (string, string) {
	if i := strings.Index(usage, "`"); i >= 0 {
		if j := strings.Index(usage[i+1:], "`"); j >= 0 {
			name := usage[i+1 : i+1+j]
			return usage[:i] + name + usage[i+2+j:], name
		}
	}
	switch f.(type) {
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		return usage, "N"
	case *cli.DurationFlag:
		return usage, "DURATION"
	}
	return usage, strings.ToUpper(strings.ReplaceAll(f.Names()[0], "-", "_"))
}

// long returns the flag's names as options, the long ones with --, short
// ones first.
func (f option) options() []string {
	names := append([]string{}, f.Names...)
	sort.SliceStable(names, func(i, j int) bool { return len(names[i]) == 1 && len(names[j]) > 1 })
	out := make([]string, len(names))
	for i, n := range names {
		if len(n) == 1 {
			out[i] = "-" + n
		} else {
			out[i] = "--" + n
		}
	}
	return out
}

// allFlags returns every option name of c and its commands, recursively,
// as they are written on a command line.
func (c command) allOptions() []string {
	var out []string
	for _, f := range c.Flags {
		out = append(out, f.options()...)
	}
	for _, sub := range c.Commands {
		out = append(out, sub.allOptions()...)
	}
	return out
}
