package arch

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// diet lists, per program, packages it must not link (a package or any
// below it), each with the reason.
var diet = map[string][]banned{
	// Every linked package's initialisation runs on every start, before
	// main: Pacemaker runs an OCF agent's monitor every few seconds, and
	// issue 13 measures ocf-sockd's depth-0 monitor against a shell agent's.
	// encoding/xml belongs to metadata/metaxml (tools and tests); crypto
	// (crypto/rand, crypto/sha256) brought its FIPS module's initialisation.
	"./cmd/ocf-sockd":      {startup("encoding/xml"), startup("crypto")},
	"./cmd/ocf-realserver": {startup("encoding/xml")},
	"./cmd/ocf-vipcheck": {
		startup("encoding/xml"),
		// probe/neigh builds and parses its two neighbour discovery
		// messages itself, while mdlayher/ndp brought x/net/icmp and a
		// second copy of x/net/idna and x/text's Unicode tables (for the
		// DNS search list option), some 140 KB that pushed the binary over
		// the 12 MiB goal. carp-hook may still use ndp.
		size("github.com/mdlayher/ndp"), size("golang.org/x/net/icmp"),
		size("golang.org/x/net/idna"), size("golang.org/x/text"),
	},
}

// banned is a package kept out of a program, and why.
type banned struct{ pkg, why string }

func startup(pkg string) banned {
	return banned{pkg, "its initialisation would run on every action"}
}

func size(pkg string) banned { return banned{pkg, "it would push the binary over its size goal"} }

// TestLinkDiet proves that no program links a package its diet keeps out.
func TestLinkDiet(t *testing.T) {
	goBin := testenv.RequireCommand(t, "go")
	for cmdPkg, bans := range diet {
		cmd := exec.Command(goBin, "list", "-deps", cmdPkg)
		cmd.Dir = "../.."
		cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0", "GOFLAGS=-tags=urfave_cli_no_docs,nethttpomithttp2")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", cmdPkg, err, stderr.String())
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range bans {
				if dep == b.pkg || strings.HasPrefix(dep, b.pkg+"/") {
					t.Errorf("%s links %s: %s", cmdPkg, dep, b.why)
				}
			}
		}
	}
}
