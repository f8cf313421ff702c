package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// StartHTTPServer serves a small file over HTTP from namespace ns on
// addr:port (python3 http.server), waits until it answers, and returns the
// file's URL and content. The server is ended when the test ends.
func StartHTTPServer(t testing.TB, ns *testenv.NS, addr string, port int) (url, body string) {
	t.Helper()
	py := testenv.Python3(t)
	dir := testenv.SharedTempDir(t, "www")
	body = "hello through socks " + testenv.RandomSuffix() + "\n"
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	ns.Start(t, py, "-m", "http.server", "--bind", addr, "--directory", dir, strconv.Itoa(port))
	url = fmt.Sprintf("http://%s:%d/hello.txt", addr, port)
	testenv.WaitFor(t, 10*time.Second, "HTTP server "+url, func() error {
		return fetch(ns, "", url, body, 2*time.Second)
	})
	return url, body
}

// fetch fetches url from namespace ns with curl, through the SOCKS5 proxy
// (host:port) unless proxy is empty, and checks that the answer is want.
func fetch(ns *testenv.NS, proxy, url, want string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+2*time.Second)
	defer cancel()
	args := []string{"-sS", "--max-time", fmt.Sprintf("%.1f", timeout.Seconds())}
	if proxy != "" {
		args = append(args, "--socks5", proxy)
	}
	out, err := ns.CommandContext(ctx, "curl", append(args, url)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("curl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	if string(out) != want {
		return fmt.Errorf("curl %s: got %q, want %q", url, out, want)
	}
	return nil
}

// DanteProcess is one process of a danted instance.
type DanteProcess struct {
	Process
	Title string // "danted -D -f ..." for a mother, "danted: io-child: ..." for a child
}

// DanteProcesses returns the mother named in pidfile, read inside node n
// (a default pidfile lives in the node's private /run), and its live
// children.
func DanteProcesses(n *Node, pidfile string) ([]DanteProcess, error) {
	b, err := n.Output("cat", pidfile)
	if err != nil {
		return nil, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(b))
	if err != nil {
		return nil, fmt.Errorf("pidfile %s: %q: %w", pidfile, b, err)
	}
	mother, ok := Identify(pid)
	if !ok {
		return nil, fmt.Errorf("pidfile %s: process %d is not running", pidfile, pid)
	}
	out := []DanteProcess{{mother, mother.Cmdline()}}
	for _, c := range mother.Children() {
		out = append(out, DanteProcess{c, c.Cmdline()})
	}
	return out, nil
}

// mustDanteProcesses is DanteProcesses that fails the test on error.
func mustDanteProcesses(t testing.TB, n *Node, pidfile string) []DanteProcess {
	t.Helper()
	ps, err := DanteProcesses(n, pidfile)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// WithTitle returns the processes whose title contains s.
func WithTitle(ps []DanteProcess, s string) []DanteProcess {
	var out []DanteProcess
	for _, p := range ps {
		if strings.Contains(p.Title, s) {
			out = append(out, p)
		}
	}
	return out
}
