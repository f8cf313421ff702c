package ddns

import (
	"os"
	"testing"

	"github.com/ocfkit/ocfkit/internal/filesafe/filesafetest"
)

// TestMain puts temporary files where filesafe accepts them.
func TestMain(m *testing.M) { os.Exit(filesafetest.Main(m)) }
