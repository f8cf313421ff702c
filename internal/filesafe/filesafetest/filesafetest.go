//go:build unix

// Package filesafetest gives tests a temporary directory that passes
// filesafe's checks: os.TempDir is usually /tmp, which others can write, so
// a configuration under t.TempDir() would be refused.
package filesafetest

import (
	"fmt"
	"os"
	"testing"

	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// Main runs m with TMPDIR set to a new directory that filesafe accepts for
// the current user (under /run for root, else under the user's cache
// directory), and removes it afterwards. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(filesafetest.Main(m)) }
func Main(m *testing.M) int {
	dir, err := SafeDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "filesafetest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Setenv("TMPDIR", dir)
	return m.Run()
}

// SafeDir creates a new directory (mode 0755) that filesafe.CheckDir
// accepts for the effective user.
func SafeDir() (string, error) {
	var bases []string
	if os.Geteuid() == 0 {
		bases = append(bases, "/run", "/var/lib")
	}
	if c, err := os.UserCacheDir(); err == nil {
		bases = append(bases, c)
	}
	var errs []error
	for _, base := range bases {
		if err := os.MkdirAll(base, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		dir, err := os.MkdirTemp(base, "ocfkit-test-")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Chmod(dir, 0o755); err == nil {
			if err = filesafe.CheckDir(dir, os.Geteuid()); err == nil {
				return dir, nil
			}
			errs = append(errs, err)
		}
		os.RemoveAll(dir)
	}
	return "", fmt.Errorf("no safe temporary directory: %v", errs)
}
