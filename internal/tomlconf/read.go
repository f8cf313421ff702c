//go:build unix

package tomlconf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// Read reads the file at path, at most limit bytes. The file says what runs
// as root, so only root or the effective user may have written it and the
// directories above it (filesafe.ReadFile). A missing file is "reading
// config: ..." (wrapping fs.ErrNotExist), any other refusal "refusing
// config: ...".
func Read(path string, limit int) ([]byte, error) {
	data, err := filesafe.ReadFile(path, os.Geteuid(), int64(limit))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("refusing config: %w", err)
	}
	return data, nil
}
