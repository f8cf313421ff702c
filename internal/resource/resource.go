// Package resource tells an error this host caused by running short of
// something (file descriptors, memory, socket buffers, processes) from
// one that says something about the peer or the file it was about.
package resource

import (
	"errors"
	"syscall"
)

// shortages are the errors of a host short of descriptors (EMFILE,
// ENFILE), memory (ENOMEM), socket buffers (ENOBUFS) or processes (EAGAIN
// from fork).
var shortages = []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.ENOBUFS, syscall.EAGAIN}

// Short reports whether err says this host was short of a resource: a
// check that failed so says nothing of what it checked, and a file that
// could not be read so is not damaged.
func Short(err error) bool {
	for _, e := range shortages {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
