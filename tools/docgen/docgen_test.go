package main

import (
	"bytes"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/helptest"
	"github.com/ocfkit/ocfkit/internal/testenv"
	"github.com/ocfkit/ocfkit/metadata"
)

const root = "../.."

// TestEveryCommandRegistered fails when a program under cmd/ has no entry
// in programs (its man page and completion would be missing), or an entry
// names no program.
func TestEveryCommandRegistered(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(root, "cmd"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs, registered []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	for _, p := range programs {
		registered = append(registered, p.Name)
		if (p.Agent == nil) == (p.App == nil) {
			t.Errorf("program %s: set exactly one of Agent and App", p.Name)
		}
		if p.Agent != nil && p.Agent.Program != p.Name {
			t.Errorf("program %s: its agent calls itself %s", p.Name, p.Agent.Program)
		}
	}
	if !reflect.DeepEqual(sorted(dirs), sorted(registered)) {
		t.Errorf("cmd/ has %v, tools/docgen/programs.go registers %v: add the missing program to programs", dirs, registered)
	}
}

// TestEveryAgentHasProgram fails when a meta-data document has no program
// that serves it.
func TestEveryAgentHasProgram(t *testing.T) {
	for _, a := range metadata.Names() {
		if _, ok := programOf(a); !ok {
			t.Errorf("metadata/%s.xml: no registered program has agent %s", a, a)
		}
	}
}

// TestAgentTreeMatchesProgram compares the command tree docgen builds for
// an agent with the help the program itself prints (agents/ocf's runCLI):
// the same commands, and for each command the same options.
func TestAgentTreeMatchesProgram(t *testing.T) {
	for _, p := range programs {
		if p.Agent == nil {
			continue
		}
		tree := p.tree()
		help := agentHelp(t, p.Agent, "--help")
		got := helptest.Commands(help)
		var want []string
		for _, c := range tree.Commands {
			want = append(want, c.Name)
		}
		if !reflect.DeepEqual(sorted(got), sorted(want)) {
			t.Errorf("%s --help lists commands %v, the page %v", p.Name, got, want)
		}
		for _, c := range tree.Commands {
			help := agentHelp(t, p.Agent, c.Name, "--help")
			got := helptest.Options(help, "OPTIONS:")
			want := c.allOptions()
			if !reflect.DeepEqual(sorted(got), sorted(want)) {
				t.Errorf("%s %s --help lists options %v, the page %v", p.Name, c.Name, got, want)
			}
		}
	}
}

func agentHelp(t *testing.T, a *ocf.Agent, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	env := func(string) (string, bool) { return "", false }
	if code := a.Run(append([]string{a.Program}, args...), env, &out, &errb); code != 0 {
		t.Fatalf("%s %v: exit %d: %s", a.Program, args, code, errb.String())
	}
	return out.String()
}

// TestTOMLKeysDocumented fails when a program's configuration has a key
// its section 5 page does not describe, or the page describes one it does
// not have. It walks the structs each file decodes into from the top, so
// a key, or a table, added later without docs fails here.
func TestTOMLKeysDocumented(t *testing.T) {
	for _, tp := range tomlPages {
		documented := map[reflect.Type]tomlTable{}
		for _, tb := range tp.Tables {
			documented[reflect.TypeOf(tb.Struct)] = tb
		}
		for _, rt := range tomlTables(reflect.TypeOf(tp.Tables[0].Struct)) {
			tb, ok := documented[rt]
			if !ok {
				t.Errorf("%s: table %s (keys %v) has no section", tp.name(), rt.Name(), tomlKeys(rt))
				continue
			}
			var keys, docs []string
			for _, k := range tomlKeys(rt) {
				if !contains(tb.Tables, k) {
					keys = append(keys, k)
				}
			}
			for _, d := range tb.Keys {
				docs = append(docs, d.Key)
			}
			if !reflect.DeepEqual(sorted(keys), sorted(docs)) {
				t.Errorf("%s: %s: keys %v, documented %v", tp.name(), rt.Name(), sorted(keys), sorted(docs))
			}
			for _, k := range tb.Tables {
				if !contains(tomlKeys(rt), k) {
					t.Errorf("%s: %s has no table %s", tp.name(), rt.Name(), k)
				}
			}
		}
	}
}

// TestEveryTOMLConfigHasPage fails when a package of the repository
// reads TOML (imports go-toml or internal/tomlconf, the shared reader,
// which itself has no file) and no page documents its file.
func TestEveryTOMLConfigHasPage(t *testing.T) {
	have := map[string]bool{}
	for _, tp := range tomlPages {
		have[reflect.TypeOf(tp.Tables[0].Struct).PkgPath()] = true
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		if strings.HasPrefix(rel, "tools") || strings.HasPrefix(rel, ".") && rel != "." {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := "github.com/ocfkit/ocfkit/" + filepath.ToSlash(rel)
		if pkg == "github.com/ocfkit/ocfkit/internal/tomlconf" {
			return nil
		}
		for _, imp := range f.Imports {
			toml := imp.Path.Value == `"github.com/pelletier/go-toml/v2"` || imp.Path.Value == `"github.com/ocfkit/ocfkit/internal/tomlconf"`
			if toml && !have[pkg] {
				t.Errorf("%s reads TOML but no tomlPages entry documents its file", pkg)
				have[pkg] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestExampleConfigParses checks that each shipped example is a valid
// configuration for its program's own parser.
func TestExampleConfigParses(t *testing.T) {
	for _, tp := range tomlPages {
		b, err := os.ReadFile(filepath.Join(root, tp.Example))
		if err != nil {
			t.Fatal(err)
		}
		if err := tp.Parse(tp.Example, b); err != nil {
			t.Errorf("%s: %v", tp.Example, err)
		}
	}
}

// generate writes every page and completion into a temporary directory.
func generate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	g := &gen{Version: "v0.0.0-test", Date: "2026-01-01", Root: root}
	if err := writeAll(filepath.Join(dir, "man"), g.manPages); err != nil {
		t.Fatal(err)
	}
	if err := writeAll(filepath.Join(dir, "completion"), completions); err != nil {
		t.Fatal(err)
	}
	return dir
}

// render returns a page as man shows it, failing on any groff warning.
func render(t *testing.T, path string) string {
	t.Helper()
	man := testenv.RequireCommand(t, "man")
	cmd := exec.Command(man, "--warnings", "-l", path)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=", "LANG=C.UTF-8")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || errb.Len() > 0 {
		t.Errorf("man -l %s: %v\n%s", filepath.Base(path), err, errb.String())
	}
	// mandoc formats the pages on the BSDs; its lint is stricter.
	mandoc := testenv.RequireCommand(t, "mandoc")
	if lint, err := exec.Command(mandoc, "-T", "lint", "-W", "warning", path).CombinedOutput(); err != nil || len(lint) > 0 {
		t.Errorf("mandoc -T lint %s: %v\n%s", filepath.Base(path), err, lint)
	}
	return plain(out.String())
}

// plain removes overstriking and joins words hyphenated across lines.
func plain(s string) string {
	s = regexp.MustCompile(".\b").ReplaceAllString(s, "")
	s = strings.NewReplacer("\u2010\n", "", "\u2010", "-", "\u2212", "-").Replace(s)
	return regexp.MustCompile(`-\n\s+`).ReplaceAllString(s, "-")
}

// TestPagesRenderAndListEverything renders every page without warnings and
// checks that each lists what it documents: an agent page every parameter
// and action of its meta-data, a program page every command and option.
func TestPagesRenderAndListEverything(t *testing.T) {
	dir := generate(t)
	var names []string
	files, _ := os.ReadDir(filepath.Join(dir, "man"))
	for _, f := range files {
		names = append(names, f.Name())
	}
	var want []string
	for _, p := range programs {
		want = append(want, p.Name+".8")
	}
	for _, tp := range tomlPages {
		want = append(want, tp.name())
	}
	for _, a := range metadata.Names() {
		want = append(want, agentPage(a)+".7")
	}
	if !reflect.DeepEqual(sorted(names), sorted(want)) {
		t.Errorf("pages %v, want %v", names, want)
	}
	for _, a := range metadata.Names() {
		text := render(t, filepath.Join(dir, "man", agentPage(a)+".7"))
		d, err := loadDoc(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range d.Parameters {
			if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(p.Name) + `\s`).MatchString(text) {
				t.Errorf("%s.7 does not list parameter %s", agentPage(a), p.Name)
			}
		}
		for _, act := range d.meta.Actions {
			if !strings.Contains(text, act.Name) {
				t.Errorf("%s.7 does not list action %s", agentPage(a), act.Name)
			}
		}
	}
	for _, p := range programs {
		text := render(t, filepath.Join(dir, "man", p.Name+".8"))
		tree := p.tree()
		for _, c := range tree.Commands {
			if !strings.Contains(text, c.Name) {
				t.Errorf("%s.8 does not list command %s", p.Name, c.Name)
			}
		}
		for _, o := range tree.allOptions() {
			if !regexp.MustCompile(`(^|[\s,])` + regexp.QuoteMeta(o) + `\b`).MatchString(text) {
				t.Errorf("%s.8 does not list option %s", p.Name, o)
			}
		}
		for _, a := range p.actions() {
			if !strings.Contains(text, a) {
				t.Errorf("%s.8 does not list OCF action %s", p.Name, a)
			}
		}
	}
	for _, tp := range tomlPages {
		text := render(t, filepath.Join(dir, "man", tp.name()))
		for _, tb := range tp.Tables {
			for _, k := range tb.Keys {
				if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(k.Key) + `\b`).MatchString(text) {
					t.Errorf("%s does not list key %s", tp.name(), k.Key)
				}
			}
		}
	}
}

// TestCompletion checks the scripts' syntax and that bash completes the
// commands and each command's options.
func TestCompletion(t *testing.T) {
	dir := generate(t)
	bash := testenv.RequireCommand(t, "bash")
	zsh := testenv.RequireCommand(t, "zsh")
	for _, p := range programs {
		bashFile := filepath.Join(dir, "completion", "bash", p.Name)
		zshFile := filepath.Join(dir, "completion", "zsh", "_"+p.Name)
		for _, c := range [][]string{{bash, "-n", bashFile}, {zsh, "-n", zshFile}} {
			if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
				t.Errorf("%v: %v\n%s", c, err, out)
			}
		}
		tree := p.tree()
		complete := func(words ...string) []string {
			script := ". " + bashFile + "\nCOMP_WORDS=(" + strings.Join(quoteAll(words), " ") + ")\n" +
				"COMP_CWORD=" + strconv.Itoa(len(words)-1) + "\n_" + strings.ReplaceAll(p.Name, "-", "_") + "\n" +
				`printf '%s\n' "${COMPREPLY[@]}"`
			out, err := exec.Command(bash, "-c", script).CombinedOutput()
			if err != nil {
				t.Errorf("completing %v: %v\n%s", words, err, out)
			}
			return strings.Fields(string(out))
		}
		got := complete(p.Name, "")
		for _, w := range firstWords(p, tree) {
			if !contains(got, w) {
				t.Errorf("%s <TAB>: %v lacks %s", p.Name, got, w)
			}
		}
		for _, c := range tree.Commands {
			if c.Verbatim {
				continue
			}
			got := complete(p.Name, c.Name, "-")
			for _, o := range c.allOptions() {
				if !contains(got, o) {
					t.Errorf("%s %s -<TAB>: %v lacks %s", p.Name, c.Name, got, o)
				}
			}
		}
	}
}

func quoteAll(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = shq(w)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestMakefileAgents fails when the Makefile's AGENTS list (make install)
// differs from the agents docgen installs (make deb): provider/type=program
// for every meta-data document.
func TestMakefileAgents(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^AGENTS\s*:?=(.*)$`).FindSubmatch(mk)
	switch {
	case m == nil:
		t.Fatal("the Makefile has no AGENTS list")
	case strings.Contains(string(m[1]), "docgen agents"):
		return // derived from the same source
	}
	var want []string
	for _, a := range agentNames() {
		p, _ := programOf(a)
		want = append(want, strings.TrimPrefix(installPath(a), "resource.d/")+"="+p.Name)
	}
	if got := strings.Fields(string(m[1])); !reflect.DeepEqual(sorted(got), sorted(want)) {
		t.Errorf("Makefile AGENTS = %v, the agents are %v", got, want)
	}
}
