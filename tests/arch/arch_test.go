// Package arch enforces the import rules of docs/architecture.md: the
// layers cmd → agents → probe, action → internal, with checkstyle and
// metadata as shared leaves. It reads the real import graph with go list,
// for every system the programs are built for.
package arch

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// module is the module path; rules speak of paths inside it.
const module = "github.com/ocfkit/ocfkit"

// rule says what a package (by its path inside the module) may not import.
type rule struct {
	// what the rule is about, as the architecture page says it.
	name string
	// applies reports whether the rule is about package pkg.
	applies func(pkg string) bool
	// allowed reports whether pkg may import dep (both inside the module).
	allowed func(pkg, dep string) bool
}

// under reports whether p is dir or below it.
func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// top returns the first element of p ("agents" for "agents/ocf").
func top(p string) string { t, _, _ := strings.Cut(p, "/"); return t }

// agentOf returns the agent a package under agents/ belongs to ("ocf",
// "carphook"), "" elsewhere.
func agentOf(p string) string {
	if !under(p, "agents") {
		return ""
	}
	parts := strings.Split(p, "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// agentFor returns the agent package of the program cmd/NAME:
// agents/NAME without a leading "ocf-" and without dashes (cmd/carp-hook:
// agents/carphook, cmd/ocf-sockd: agents/sockd).
func agentFor(cmdPkg string) string {
	name := strings.TrimPrefix(path.Base(cmdPkg), "ocf-")
	return "agents/" + strings.ReplaceAll(name, "-", "")
}

// isLeafShared reports whether p is one of the shared leaves below the
// agents: internal/*, checkstyle, metadata (with metadata/metaxml, the
// XML parser only tools and tests use).
func isLeafShared(p string) bool {
	return under(p, "internal") || p == "checkstyle" || under(p, "metadata")
}

// isTestHelper reports whether p exists to help tests (testenv, *test
// packages, tests/, bench/).
func isTestHelper(p string) bool {
	return under(p, "internal/testenv") || strings.HasSuffix(path.Base(p), "test") ||
		under(p, "tests") || under(p, "bench")
}

// rules are the import rules of docs/architecture.md.
var rules = []rule{
	{"cmd/NAME imports only its own agent, agents/NAME without \"ocf-\" and dashes (and the standard library)",
		func(p string) bool { return under(p, "cmd") },
		func(p, d string) bool { return d == agentFor(p) }},
	{"an agent imports agents/ocf, its own packages and the layers below, never another agent",
		func(p string) bool { return under(p, "agents") && agentOf(p) != "ocf" },
		func(p, d string) bool {
			switch top(d) {
			case "cmd", "tools", "tests", "bench":
				return false
			case "agents":
				return agentOf(d) == "ocf" || agentOf(d) == agentOf(p)
			}
			return true
		}},
	{"agents/ocf (the OCF contract) imports only the shared leaves and its own packages",
		func(p string) bool { return agentOf(p) == "ocf" },
		func(p, d string) bool { return agentOf(d) == "ocf" || isLeafShared(d) }},
	{"agents/ocf/ocfcode is a leaf: it imports nothing of the module",
		func(p string) bool { return p == "agents/ocf/ocfcode" },
		func(p, d string) bool { return false }},
	{"a prober imports only other probers and internal/ (it knows nothing of OCF, agents, actions or exit styles)",
		func(p string) bool { return under(p, "probe") },
		func(p, d string) bool { return under(d, "probe") || under(d, "internal") }},
	{"an action imports only other actions, internal/ and the OCF exit codes (agents/ocf/ocfcode)",
		func(p string) bool { return under(p, "action") },
		func(p, d string) bool {
			return under(d, "action") || under(d, "internal") || d == "agents/ocf/ocfcode"
		}},
	{"internal/, checkstyle and metadata import only each other",
		func(p string) bool { return isLeafShared(p) },
		func(p, d string) bool { return isLeafShared(d) }},
	{"only tests and test helpers import internal/testenv",
		func(p string) bool { return !isTestHelper(p) },
		func(p, d string) bool { return !under(d, "internal/testenv") }},
}

// violations returns one line per import that breaks a rule, for a graph
// of module-relative package paths to their module-relative imports.
func violations(graph map[string][]string) []string {
	var out []string
	for pkg, deps := range graph {
		for _, r := range rules {
			if !r.applies(pkg) {
				continue
			}
			for _, d := range deps {
				if !r.allowed(pkg, d) {
					out = append(out, fmt.Sprintf("%s imports %s: %s", pkg, d, r.name))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// importGraph lists the module's packages and their imports inside the
// module (test files excluded: tests may import what they test) for goos.
func importGraph(t *testing.T, goos string) map[string][]string {
	t.Helper()
	goBin := testenv.RequireCommand(t, "go")
	cmd := exec.Command(goBin, "list", "-e", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...")
	cmd.Dir = "../.."
	cmd.Env = append(cmd.Environ(), "GOOS="+goos, "CGO_ENABLED=0", "GOFLAGS=-tags=urfave_cli_no_docs")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list (GOOS=%s): %v\n%s", goos, err, stderr.String())
	}
	graph := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		pkg, ok := inModule(f[0])
		if !ok {
			continue
		}
		graph[pkg] = nil
		for _, d := range f[1:] {
			if dep, ok := inModule(d); ok {
				graph[pkg] = append(graph[pkg], dep)
			}
		}
	}
	if len(graph) < 10 {
		t.Fatalf("go list (GOOS=%s) listed only %d packages:\n%s", goos, len(graph), out)
	}
	return graph
}

// inModule returns p's path inside the module.
func inModule(p string) (string, bool) {
	return strings.CutPrefix(p, module+"/")
}

// TestImportRules checks the real import graph against the rules, for
// every system carp-hook is built for (files differ by build tags).
func TestImportRules(t *testing.T) {
	for _, goos := range []string{"linux", "freebsd", "openbsd"} {
		t.Run(goos, func(t *testing.T) {
			for _, v := range violations(importGraph(t, goos)) {
				t.Error(v)
			}
		})
	}
}

// TestRulesCatchViolations checks that each kind of forbidden import is
// caught, and that the allowed ones are not: a rule that never fires
// would let the real check pass whatever the code does.
func TestRulesCatchViolations(t *testing.T) {
	bad := map[string]string{
		"probe/vip":          "agents/ocf",
		"probe/l7":           "action",
		"probe/neigh":        "checkstyle",
		"action/announce":    "probe/neigh",
		"action":             "agents/ocf",
		"internal/procstat":  "action",
		"internal/clikit":    "agents/ocf",
		"checkstyle":         "probe/vip",
		"agents/sockd":       "agents/vipcheck",
		"agents/carphook":    "cmd/carp-hook",
		"agents/ocf":         "probe/socks5",
		"agents/ocf/ocfcode": "internal/oneline",
		"cmd/ocf-sockd":      "agents/vipcheck/x",
		"cmd/carp-hook":      "agents/ocf",
		"agents/vipcheck":    "internal/testenv",
	}
	for pkg, dep := range bad {
		if v := violations(map[string][]string{pkg: {dep}}); len(v) == 0 {
			t.Errorf("%s importing %s is not caught", pkg, dep)
		}
	}
	good := map[string][]string{
		"cmd/carp-hook":                    {"agents/carphook"},
		"agents/carphook":                  {"agents/carphook/config", "agents/ocf", "action", "checkstyle", "internal/clikit"},
		"agents/vipcheck":                  {"agents/ocf", "probe/vip", "probe/l7", "internal/route", "checkstyle"},
		"agents/ocf":                       {"agents/ocf/ocfcode", "checkstyle", "metadata", "internal/clikit"},
		"action":                           {"action/announce", "agents/ocf/ocfcode", "internal/atomicfile"},
		"probe/vip":                        {"probe/neigh", "internal/backoff"},
		"internal/clikit":                  {"checkstyle"},
		"checkstyle":                       {"internal/oneline"},
		"internal/systemlog/systemlogtest": {"internal/testenv"},
		"tests/cluster/harness":            {"agents/ocf", "internal/testenv", "metadata"},
		"tools/docgen":                     {"agents/carphook", "agents/sockd"},
	}
	if v := violations(good); len(v) > 0 {
		t.Errorf("allowed imports refused:\n%s", strings.Join(v, "\n"))
	}
}
