package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/filesafe/filesafetest"
)

// Build compiles the package pkg (an import path, or a path relative to
// the module root such as ./cmd/ocf-sockd) into dir, as `make build` does
// (static, trimmed, stripped, with the tags of build.tags), and
// returns the binary's path. It returns an error rather than failing a
// test, so TestMain and sync.Once callers can use it.
func Build(dir, pkg string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(dir, path.Base(pkg))
	tags, err := os.ReadFile(filepath.Join(root, "build.tags"))
	if err != nil {
		return "", fmt.Errorf("the build tags: %w", err)
	}
	cmd := exec.Command("go", "build", "-tags", strings.TrimSpace(string(tags)), "-trimpath", "-ldflags", "-s -w", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// BuildTemp builds the packages into a new temporary directory that every
// user can read (ocf-tester runs meta-data as nobody; helpers in namespaces
// may run as other users) and returns it, to be removed by the caller,
// with the binaries in the order of pkgs.
func BuildTemp(prefix string, pkgs ...string) (dir string, bins []string, err error) {
	if dir, err = os.MkdirTemp("", prefix); err != nil {
		return "", nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return dir, nil, err
	}
	for _, pkg := range pkgs {
		bin, err := Build(dir, pkg)
		if err != nil {
			return dir, nil, err
		}
		bins = append(bins, bin)
	}
	return dir, bins, nil
}

// MainBuilt is TestMain for tests that run programs of this module: as
// root, it builds pkgs into a temporary directory (BuildTemp), hands the
// binaries to set in the order of pkgs, and runs m with TMPDIR a directory
// filesafe accepts (filesafetest.Main), removing both afterwards; without
// root it runs m as it is, building nothing. It returns m's exit code.
func MainBuilt(m *testing.M, prefix string, set func(bins []string), pkgs ...string) int {
	if os.Geteuid() != 0 {
		return m.Run()
	}
	dir, bins, err := BuildTemp(prefix, pkgs...)
	defer os.RemoveAll(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	set(bins)
	return filesafetest.Main(m)
}
