package testenv

import (
	"bytes"
	"sync"
)

// SyncBuffer collects what a process or a goroutine writes while the test
// reads it: a bytes.Buffer behind a lock. Its zero value is ready, and a
// nil one reads as empty.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
