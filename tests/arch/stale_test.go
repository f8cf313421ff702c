package arch

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestBuildRefusesStaleMetadata (adv4 F6: a meta-data document edited
// without go generate built binaries whose every action, stop included,
// failed with metadata.ErrStale, and make deb packaged them; only the test
// suite noticed): make build runs gen.go -check, which passes on the tree
// and fails when a document differs from the table (an overlay edits one).
func TestBuildRefusesStaleMetadata(t *testing.T) {
	goBin := testenv.RequireCommand(t, "go")
	makeBin := testenv.RequireCommand(t, "make")
	out, err := exec.Command(makeBin, "-n", "-C", "../..", "build").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n build: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "gen.go -check") {
		t.Errorf("make build does not check the meta-data table:\n%s", out)
	}
	dir, err := filepath.Abs("../../metadata")
	if err != nil {
		t.Fatal(err)
	}
	check := func(args ...string) (string, error) {
		cmd := exec.Command(goBin, append(append([]string{"run"}, args...), "gen.go", "-check")...)
		cmd.Dir = dir
		cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0", "GOFLAGS=-tags=urfave_cli_no_docs,nethttpomithttp2")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := check(); err != nil {
		t.Errorf("gen.go -check on the tree: %v\n%s", err, out)
	}
	doc, err := os.ReadFile(filepath.Join(dir, "realserver.xml"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	edited := filepath.Join(tmp, "realserver.xml")
	if err := os.WriteFile(edited, append(doc, "<!-- edited -->\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(dir, "realserver.xml"): edited}})
	if err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlay, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := check("-overlay", overlay); err == nil || !strings.Contains(out, "out of date") {
		t.Errorf("gen.go -check with an edited document: %v\n%s", err, out)
	}
}

// TestMetadataBytesPinned (adv4 F6): .gitattributes keeps git from
// converting the line endings of the meta-data documents (a checkout with
// core.autocrlf=true would change their bytes, and every action would fail
// with ErrStale).
func TestMetadataBytesPinned(t *testing.T) {
	b, err := os.ReadFile("../../.gitattributes")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "metadata/*.xml" && f[1] == "-text" {
			return
		}
	}
	t.Errorf(".gitattributes lacks \"metadata/*.xml -text\":\n%s", b)
}
