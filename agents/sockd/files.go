package sockd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// openRegular opens a file the agent reads (pidfile, password file,
// configuration) without blocking on a named pipe or a device, and refuses
// anything that is not a regular file. flags may add syscall.O_NOFOLLOW.
func openRegular(path string, flags int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY|flags, 0)
	if errors.Is(err, syscall.ELOOP) && flags&syscall.O_NOFOLLOW != 0 {
		return nil, fmt.Errorf("%s is a symbolic link", path)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file (%s)", path, filesafe.TypeName(fi.Mode()))
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// readRegular reads at most limit bytes of a regular file; whether there
// was more is reported, so a caller can refuse an oversized file.
func readRegular(path string, flags int, limit int64) (b []byte, more bool, err error) {
	f, err := openRegular(path, flags)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	b, err = io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > limit {
		return b[:limit], true, nil
	}
	return b, false, nil
}
