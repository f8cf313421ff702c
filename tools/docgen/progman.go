package main

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ocfkit/ocfkit/metadata"
)

// gen holds what every page shares.
type gen struct {
	Version string // ocfkit version, in the page footer
	Date    string // the pages' date, YYYY-MM-DD (the last commit's)
	Root    string // the repository, for example files
}

// today returns the date for pages, from SOURCE_DATE_EPOCH when set, so
// that builds are reproducible.
func today() string {
	t := time.Now().UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			t = time.Unix(n, 0).UTC()
		}
	}
	return t.Format("2006-01-02")
}

func (g *gen) source() string { return "ocfkit " + g.Version }

// programPage returns the section 8 page of a program.
func (g *gen) programPage(p program) string {
	t := p.tree()
	summary := p.Summary
	if summary == "" {
		summary = t.Usage
	}
	if p.Agent != nil {
		if m, err := loadDoc(p.Agent.Name); err == nil {
			summary = m.ShortDesc + " (OCF agent " + ocfName(p.Agent.Name) + ")"
		}
	}
	var pg page
	pg.header(p.Name, 8, g.Date, g.source(), "System Manager's Manual", summary)
	g.synopsis(&pg, p, t)

	pg.section("DESCRIPTION")
	var desc []string
	if doc := g.commandDoc(p.Name); doc != "" {
		desc = append(desc, doc)
	}
	if p.Agent != nil {
		a := p.Agent.Name
		desc = append(desc, fmt.Sprintf("The agent is installed as $OCF_ROOT/%s (/usr/lib/ocf/%s); "+
			"its parameters, actions and monitor depths are described in %s(7). "+
			"As a resource agent it is called with one OCF action: %s. "+
			"Parameters come from OCF_RESKEY_* environment variables; `%s meta-data` prints them.",
			installPath(a), installPath(a), agentPage(a), strings.Join(p.actions(), ", "), p.Name))
	}
	if t.Description != "" {
		desc = append(desc, t.Description)
	}
	pg.text(strings.Join(desc, "\n\n"), ".PP")

	if len(t.Flags) > 0 {
		pg.section("OPTIONS")
		flagList(&pg, t.Flags)
	}
	if len(t.Commands) > 0 {
		pg.section("COMMANDS")
		common := commonFlags(t.Commands)
		if len(common) > 0 {
			pg.text("Every command takes these options:", ".PP")
			flagList(&pg, common)
		}
		for _, c := range t.Commands {
			g.commandEntry(&pg, p.Name, c, common)
		}
	}
	g.environment(&pg, p, t)
	exit := p.Exit
	if p.Agent != nil {
		exit = agentExit
	}
	if exit != "" {
		pg.section("EXIT STATUS")
		pg.text(exit, ".PP")
	}
	files := p.Files
	if p.Agent != nil {
		a := p.Agent.Name
		files = append(files, [2]string{"/usr/lib/ocf/" + installPath(a), "the agent, a copy of or link to this program"})
	}
	if len(files) > 0 {
		pg.section("FILES")
		for _, f := range files {
			pg.tagged(italic(f[0]))
			pg.text(f[1], ".IP")
		}
	}
	see := p.SeeAlso
	if p.Agent != nil {
		see = append([]string{agentPage(p.Agent.Name) + "(7)"}, see...)
	}
	if len(see) > 0 {
		pg.section("SEE ALSO")
		refs := make([]string, len(see))
		for i, s := range see {
			name, sec, _ := strings.Cut(s, "(")
			refs[i] = bold(name) + "(" + sec
		}
		pg.raw(strings.Join(refs, ",\n"))
	}
	return pg.String()
}

// synopsis writes the SYNOPSIS section: the OCF form, then one line per
// command.
func (g *gen) synopsis(pg *page, p program, t command) {
	pg.section("SYNOPSIS")
	first := true
	br := func() {
		if !first {
			pg.raw(".br")
		}
		first = false
	}
	if p.Agent != nil {
		br()
		pg.raw(bold(p.Name) + " " + italic("ACTION"))
	}
	global := ""
	if len(t.Flags) > 0 {
		global = " [" + italic("OPTIONS") + "]"
	}
	for _, c := range t.Commands {
		br()
		line := bold(p.Name) + global + " " + bold(c.Name)
		if len(c.Flags) > 0 && !c.Verbatim {
			line += " [" + italic("OPTIONS") + "]"
		}
		if c.Args != "" {
			line += " " + italic(c.Args)
		}
		pg.raw(line)
	}
}

// commandEntry writes one command's subsection: usage, arguments, options.
func (g *gen) commandEntry(pg *page, prog string, c command, common []option) {
	title := bold(c.Name)
	if c.Args != "" {
		title += " " + italic(c.Args)
	}
	pg.sub(title)
	pg.text(sentence(c.Usage), ".PP")
	if len(c.Aliases) > 0 {
		pg.text("Also: "+strings.Join(c.Aliases, ", ")+".", ".PP")
	}
	if c.Description != "" {
		pg.raw(".PP")
		pg.text(c.Description, ".PP")
	}
	if c.Verbatim {
		pg.raw(".PP")
		pg.text("The arguments are the caller's words, passed on as they are.", ".PP")
	}
	if own := without(c.Flags, common); len(own) > 0 && !c.Verbatim {
		flagList(pg, own)
	}
	for _, sub := range c.Commands {
		g.commandEntry(pg, prog+" "+c.Name, sub, common)
	}
}

// commonFlags returns the options every command that takes options has,
// to be listed once.
func commonFlags(cmds []command) []option {
	var with []command
	for _, c := range cmds {
		if !c.Verbatim && len(c.Flags) > 0 {
			with = append(with, c)
		}
	}
	if len(with) < 2 {
		return nil
	}
	var out []option
	for _, f := range with[0].Flags {
		all := true
		for _, c := range with[1:] {
			all = all && hasOption(c.Flags, f.Names[0])
		}
		if all {
			out = append(out, f)
		}
	}
	return out
}

// without returns the options of fs that are not in common.
func without(fs, common []option) []option {
	var out []option
	for _, f := range fs {
		if !hasOption(common, f.Names[0]) {
			out = append(out, f)
		}
	}
	return out
}

func hasOption(fs []option, name string) bool {
	for _, f := range fs {
		for _, n := range f.Names {
			if n == name {
				return true
			}
		}
	}
	return false
}

// sourceRef matches a closing reference to the source ("See
// agents/carphook."), which means nothing to a reader of the page.
var sourceRef = regexp.MustCompile(`\s*See (agents|internal|cmd)/\S+$`)

// commandDoc returns the package comment of cmd/NAME (its main), without
// the leading "Command NAME", as the page's description.
func (g *gen) commandDoc(name string) string {
	pkgs, err := parser.ParseDir(token.NewFileSet(), filepath.Join(g.Root, "cmd", name), nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		return ""
	}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			if f.Doc != nil {
				doc := strings.TrimSpace(f.Doc.Text())
				doc = strings.TrimPrefix(doc, "Command ")
				return sourceRef.ReplaceAllString(doc, "")
			}
		}
	}
	return ""
}

// flagList writes options as tagged paragraphs.
func flagList(pg *page, fs []option) {
	for _, f := range fs {
		opts := f.options()
		tag := make([]string, len(opts))
		for i, o := range opts {
			tag[i] = bold(o)
		}
		t := strings.Join(tag, ", ")
		if f.Placeholder != "" {
			t += " " + italic(f.Placeholder)
		}
		pg.tagged(t)
		text := sentence(f.Usage)
		if f.Default != "" {
			text += " Default: " + f.Default + "."
		}
		if len(f.EnvVars) > 0 {
			text += " Environment: $" + strings.Join(f.EnvVars, ", $") + "."
		}
		pg.text(text, ".IP")
	}
}

// environment writes the ENVIRONMENT section: the program's variables and
// those of its flags.
func (g *gen) environment(pg *page, p program, t command) {
	env := append([][2]string{}, p.Env...)
	if p.Agent != nil {
		env = append(env, agentEnv...)
	}
	var walk func(c command)
	walk = func(c command) {
		for _, f := range c.Flags {
			for _, v := range f.EnvVars {
				env = append(env, [2]string{v, "the default of " + f.options()[len(f.options())-1]})
			}
		}
		for _, sub := range c.Commands {
			walk(sub)
		}
	}
	walk(t)
	if len(env) == 0 {
		return
	}
	pg.section("ENVIRONMENT")
	for _, e := range env {
		pg.tagged(bold(e[0]))
		pg.text(sentence(e[1]), ".IP")
	}
}

// sentence capitalises s and ends it with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// agentNames returns every agent with meta-data.
func agentNames() []string { return metadata.Names() }
