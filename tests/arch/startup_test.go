package arch

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// startupDiet lists, per one-shot program, standard packages it must not
// link. Every linked package's initialisation runs on every start, before
// main: Pacemaker runs an OCF agent's monitor every few seconds, and issue
// 13 measures ocf-sockd's depth-0 monitor against a shell agent's.
// encoding/xml belongs to metadata/metaxml (tools and tests); crypto
// (crypto/rand, crypto/sha256) brought its FIPS module's initialisation.
var startupDiet = map[string][]string{
	"./cmd/ocf-sockd":      {"encoding/xml", "crypto"},
	"./cmd/ocf-vipcheck":   {"encoding/xml"},
	"./cmd/ocf-realserver": {"encoding/xml"},
}

// TestStartupDiet proves that the OCF agents do not link the packages
// startupDiet keeps out of their start-up (a package or any below it).
func TestStartupDiet(t *testing.T) {
	goBin := testenv.RequireCommand(t, "go")
	for cmdPkg, banned := range startupDiet {
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
			for _, b := range banned {
				if dep == b || strings.HasPrefix(dep, b+"/") {
					t.Errorf("%s links %s: its initialisation would run on every action", cmdPkg, dep)
				}
			}
		}
	}
}
