package anycastprobe

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ocfkit/ocfkit/internal/filesafe/filesafetest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestMain runs the tests with TMPDIR where filesafe accepts files.
func TestMain(m *testing.M) { os.Exit(filesafetest.Main(m)) }

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds anycast-probe once per test run.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "acp-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath, buildErr = testenv.Build(dir, "./cmd/anycast-probe")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// writeConfig writes a configuration file under a safe directory.
func writeConfig(t testing.TB, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "anycast.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
