// Package servicelabtest starts the real servers the probers and
// anycast-probe are tested against, each in a namespace of its own with
// the server-side configuration of docs/snippets: FreeRADIUS with the
// status virtual server, syslog-ng and rsyslog with the relay rules, and
// squid in front of a local origin server.
//
// It knows no prober: the caller says when a server is ready (a Ready
// function probing it inside its namespace), so the probers' own tests
// can use it without an import cycle.
package servicelabtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/proctest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// Snippets is docs/snippets as seen from a test package two levels down
// (probe/NAME, agents/NAME).
const Snippets = "../../docs/snippets"

// Ready probes a server inside ns; nil means it works.
type Ready func(ns *testenv.NS) error

// Server is a server process in a namespace.
type Server struct {
	T     testing.TB
	Name  string
	Hint  string // said when the process exits while starting
	NS    *testenv.NS
	Argv  []string
	Cmd   *exec.Cmd
	Ready Ready
}

// Start runs the server and waits (up to 20 s) until Ready passes.
func (s *Server) Start() {
	s.T.Helper()
	s.Cmd = s.NS.Start(s.T, s.Argv[0], s.Argv[1:]...)
	testenv.WaitFor(s.T, 20*time.Second, s.Name+" ready", func() error {
		if proctest.Exited(s.Cmd.Process.Pid) {
			return testenv.Stop(fmt.Errorf("%s exited%s", s.Name, s.Hint))
		}
		return s.Ready(s.NS)
	})
}

// Stop kills the server.
func (s *Server) Stop() { testenv.Kill(s.Cmd) }

// WriteFile writes content to path (mode 0644), failing t on error.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readSnippet returns a snippet's text.
func readSnippet(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Snippets, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
