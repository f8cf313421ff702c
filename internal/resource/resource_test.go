package resource

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

func TestShort(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&os.PathError{Op: "open", Path: "x", Err: syscall.EMFILE}, true},
		{fmt.Errorf("dial: %w", syscall.ENFILE), true},
		{syscall.ENOMEM, true},
		{syscall.ENOBUFS, true},
		{&os.SyscallError{Syscall: "fork/exec", Err: syscall.EAGAIN}, true},
		{syscall.ECONNREFUSED, false},
		{fs.ErrNotExist, false},
		{errors.New("EMFILE"), false},
		{nil, false},
	} {
		if got := Short(tc.err); got != tc.want {
			t.Errorf("Short(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
