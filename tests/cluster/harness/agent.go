package harness

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ocfkit/ocfkit/internal/atomicfile"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// OCFRoot is where Pacemaker looks for OCF agents.
const OCFRoot = "/usr/lib/ocf/resource.d"

// InstallAgent builds the Go package pkg (an import path of this module)
// as `make build` does and installs it, mode 0755, as the OCF agent
// ocf:PROVIDER:TYPE. When the test ends, a file that was there before is put
// back as it was, and a file (and provider directory) the test created is
// removed. It returns the installed path.
func InstallAgent(t testing.TB, pkg, provider, typ string) string {
	t.Helper()
	// Only this function reads the build directory.
	bin, err := testenv.Build(t.TempDir(), pkg)
	if err != nil {
		t.Fatal(err)
	}
	built, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(OCFRoot, provider)
	dest := filepath.Join(dir, typ)
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Remove(dir) })
	}
	if old, err := os.ReadFile(dest); err == nil {
		st, _ := os.Stat(dest)
		t.Cleanup(func() {
			if err := atomicfile.Write(dest, old, st.Mode().Perm()); err != nil {
				t.Errorf("restoring %s: %v", dest, err)
			}
		})
	} else {
		t.Cleanup(func() { _ = os.Remove(dest) })
	}
	if err := atomicfile.Write(dest, built, 0o755); err != nil {
		t.Fatalf("installing %s: %v", dest, err)
	}
	return dest
}
