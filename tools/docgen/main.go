// Command docgen writes ocfkit's man pages and shell completions at build
// time, from the one source of each: the programs' urfave/cli command
// definitions (registered in programs) and the agents' meta-data
// (metadata/*.xml). Nothing it writes is kept in the repository.
//
//	go run ./tools/docgen -version V -date YYYY-MM-DD man DIR
//	go run ./tools/docgen completion DIR
//	go run ./tools/docgen agents | programs | daemons
//
// man writes DIR/NAME.SECTION for every program (8), every agent (7, named
// as resource-agents names them: ocf_PROVIDER_TYPE.7) and every
// configuration file (5). completion writes DIR/bash/NAME and
// DIR/zsh/_NAME. agents prints one PROVIDER/TYPE=PROGRAM line per agent,
// for installing them under $OCF_ROOT/resource.d; programs and daemons
// list the registered programs, and those that run under systemd.
//
// It builds with or without the urfave_cli_no_docs tag: it writes roff
// itself rather than through urfave/cli's generator.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ocfkit/ocfkit/agents/ocf"
)

const usage = "usage: docgen [-version V] [-date D] [-root DIR] man DIR | completion DIR | agents | programs | daemons"

func main() {
	g := &gen{}
	flag.StringVar(&g.Version, "version", "dev", "ocfkit `VERSION` for the pages' footer and --version")
	flag.StringVar(&g.Date, "date", "", "the pages' `DATE` (YYYY-MM-DD); default today")
	flag.StringVar(&g.Root, "root", ".", "the repository's `DIR`, for the example files")
	flag.Parse()
	ocf.Version = g.Version
	if g.Date == "" {
		g.Date = today()
	}
	args := flag.Args()
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch {
	case args[0] == "man" && len(args) == 2:
		err = writeAll(args[1], g.manPages)
	case args[0] == "completion" && len(args) == 2:
		err = writeAll(args[1], completions)
	case args[0] == "daemons" && len(args) == 1:
		for _, p := range programs {
			if p.Daemon {
				fmt.Println(p.Name)
			}
		}
	case args[0] == "programs" && len(args) == 1:
		for _, p := range programs {
			fmt.Println(p.Name)
		}
	case args[0] == "agents" && len(args) == 1:
		for _, a := range agentNames() {
			p, ok := programOf(a)
			if !ok {
				err = fmt.Errorf("agent %s: no program serves it", a)
				break
			}
			fmt.Printf("%s=%s\n", strings.TrimPrefix(installPath(a), "resource.d/"), p.Name)
		}
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}

// writeAll writes the files pages returns (relative path: text) under dir.
func writeAll(dir string, pages func() (map[string]string, error)) error {
	files, err := pages()
	if err != nil {
		return err
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// manPages returns every man page by file name.
func (g *gen) manPages() (map[string]string, error) {
	out := map[string]string{}
	for _, p := range programs {
		out[p.Name+".8"] = g.programPage(p)
		for _, extra := range p.Pages {
			name, text := extra(g)
			out[name] = text
		}
	}
	for _, a := range agentNames() {
		text, err := g.agentPageText(a)
		if err != nil {
			return nil, err
		}
		out[agentPage(a)+".7"] = text
	}
	return out, nil
}

// completions returns every completion file by path.
func completions() (map[string]string, error) {
	out := map[string]string{}
	for _, p := range programs {
		out["bash/"+p.Name] = bashCompletion(p)
		out["zsh/_"+p.Name] = zshCompletion(p)
	}
	return out, nil
}
