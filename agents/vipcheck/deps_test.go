package vipcheck_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestNoNDPLibrary keeps github.com/mdlayher/ndp out of ocf-vipcheck:
// probe/neigh builds and parses its two neighbour discovery messages
// itself, while ndp brought x/net/icmp and a second copy of x/net/idna
// and x/text's Unicode tables (for the DNS search list option), some
// 140 KB that pushed the binary over the 12 MiB goal. carp-hook may still
// use ndp.
func TestNoNDPLibrary(t *testing.T) {
	goBin := testenv.RequireCommand(t, "go")
	cmd := exec.Command(goBin, "list", "-deps", "./cmd/ocf-vipcheck")
	cmd.Dir = "../.."
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0", "GOFLAGS=-tags=urfave_cli_no_docs")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/mdlayher/ndp", "golang.org/x/net/icmp", "golang.org/x/net/idna", "golang.org/x/text"} {
			if pkg == banned || strings.HasPrefix(pkg, banned+"/") {
				t.Errorf("ocf-vipcheck links %s", pkg)
			}
		}
	}
}
