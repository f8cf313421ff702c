package snippets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/filesafe/filesafetest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// bins holds ocf-sockd, ocf-vipcheck and carp-hook built for this run.
var bins string

func TestMain(m *testing.M) {
	// carp-hook refuses a configuration under a directory others can
	// write, such as /tmp: every temporary file of this package lives in
	// a directory it accepts.
	safe, err := filesafetest.SafeDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("TMPDIR", safe)
	dir, _, err := testenv.BuildTemp("ocfkit-snippets-", "./cmd/ocf-sockd", "./cmd/ocf-vipcheck", "./cmd/carp-hook", "./cmd/ocf-realserver")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	bins = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	_ = os.RemoveAll(safe)
	os.Exit(code)
}

// sandboxScript runs a command as if `make install` had run, without
// writing anything on the machine: in a private mount namespace, /usr/sbin,
// /usr/local, /usr/lib/ocf, /etc and /var/cache become overlays whose
// upper layers are a tmpfs, and this run's binaries are installed there
// (/usr/sbin/ocf-sockd, /usr/sbin/ocf-vipcheck, /usr/sbin/carp-hook,
// /usr/sbin/ocf-realserver, the OCF agents dante/sockd, ocfkit/vipcheck and
// ocfkit/realserver). $1 is the binaries'
// directory, $2 an empty directory for the tmpfs, the rest the command.
const sandboxScript = `set -eu
bins=$1 tmp=$2; shift 2
mount -t tmpfs tmpfs "$tmp"
for d in /usr/sbin /usr/local /usr/lib/ocf /etc /var/cache; do
  [ -d "$d" ] || continue
  mkdir -p "$tmp/u$d" "$tmp/w$d"
  mount -t overlay overlay -o "lowerdir=$d,upperdir=$tmp/u$d,workdir=$tmp/w$d" "$d"
done
install -m 0755 "$bins/ocf-sockd" "$bins/ocf-vipcheck" "$bins/carp-hook" "$bins/ocf-realserver" /usr/sbin/
mkdir -p /usr/lib/ocf/resource.d/dante /usr/lib/ocf/resource.d/ocfkit /usr/local/libexec /usr/local/sbin
install -m 0755 "$bins/ocf-sockd" /usr/lib/ocf/resource.d/dante/sockd
install -m 0755 "$bins/ocf-vipcheck" /usr/lib/ocf/resource.d/ocfkit/vipcheck
install -m 0755 "$bins/ocf-realserver" /usr/lib/ocf/resource.d/ocfkit/realserver
exec "$@"
`

// sandbox returns a command that runs name and args in the sandbox, inside
// namespace ns (nil: the machine's network namespace), bounded by a
// minute.
func sandbox(t testing.TB, ns *testenv.NS, name string, args ...string) *exec.Cmd {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "unshare")
	tmp := t.TempDir()
	argv := append([]string{"--mount", "--propagation", "private", "bash", "-c", sandboxScript, "sandbox", bins, tmp, name}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	if ns != nil {
		return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, "unshare"}, argv...)...)
	}
	return exec.CommandContext(ctx, "unshare", argv...)
}

// runSandbox runs a command in the sandbox and returns its combined output
// and exit status (-1 when it could not run or was killed).
func runSandbox(t testing.TB, ns *testenv.NS, name string, args ...string) (string, int) {
	t.Helper()
	var buf bytes.Buffer
	cmd := sandbox(t, ns, name, args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return buf.String(), 0
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return buf.String(), exit.ExitCode()
	}
	return buf.String() + err.Error(), -1
}

// mustSandbox runs a command in the sandbox and fails the test unless it
// exits with want.
func mustSandbox(t testing.TB, ns *testenv.NS, want int, name string, args ...string) string {
	t.Helper()
	out, code := runSandbox(t, ns, name, args...)
	if code != want {
		t.Fatalf("%s %s: exit %d, want %d\n%s", name, strings.Join(args, " "), code, want, out)
	}
	return out
}

// snippet returns the content of docs/snippets/NAME.
func snippet(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "snippets", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// snippetPath returns the absolute path of docs/snippets/NAME.
func snippetPath(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "docs", "snippets", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// withEth0 makes a namespace whose eth0 (one end of a veth pair) carries
// the given addresses (CIDR), for configurations that name eth0.
func withEth0(t testing.TB, prefix string, addrs ...string) *testenv.NS {
	t.Helper()
	ns := testenv.NewNS(t, prefix)
	ns.MustRun(t, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
	for _, a := range addrs {
		ns.MustRun(t, "ip", "addr", "add", a, "dev", "eth0", "nodad")
	}
	ns.MustRun(t, "ip", "link", "set", "eth0p", "up")
	ns.MustRun(t, "ip", "link", "set", "eth0", "up")
	return ns
}

// shellWords splits a command line the way sh does for the simple lines of
// the snippets: words separated by blanks, double quotes grouping.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	in, quoted := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}
