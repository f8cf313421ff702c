package realserver_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// Built by TestMain when root can run the integration tests.
var realserverBin, vipcheckBin string

func TestMain(m *testing.M) {
	// The vipaddrs files must be in a directory filesafe accepts.
	os.Exit(testenv.MainBuilt(m, "ocf-realserver-test-", func(bins []string) { realserverBin, vipcheckBin = bins[0], bins[1] },
		"./cmd/ocf-realserver", "./cmd/ocf-vipcheck"))
}

// node is one real server under test: a namespace and the agent's state
// directory.
type node struct {
	t      *testing.T
	ns     *testenv.NS
	rsctmp string
}

func newNode(t *testing.T, ns *testenv.NS) *node {
	t.Helper()
	testenv.RequireRoot(t)
	if ns == nil {
		ns = testenv.NewNS(t, "rs")
	}
	return &node{t: t, ns: ns, rsctmp: t.TempDir()}
}

// file writes a vipaddrs file (mode 0600) and returns its path.
func (n *node) file(name, text string) string {
	n.t.Helper()
	path := filepath.Join(n.t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		n.t.Fatal(err)
	}
	return path
}

// agent runs an OCF action of instance inst with the parameters, as
// Pacemaker does, and returns its exit status and output.
func (n *node) agent(inst, action string, params ...string) (int, string) {
	n.t.Helper()
	env := []string{"HA_RSCTMP=" + n.rsctmp, "OCF_RESOURCE_INSTANCE=" + inst, "OCF_ROOT=/usr/lib/ocf", "HA_LOGFACILITY=none"}
	for _, p := range params {
		if strings.HasPrefix(p, "OCF_") {
			env = append(env, p)
		} else {
			env = append(env, "OCF_RESKEY_"+p)
		}
	}
	return n.run(env, action)
}

// cli runs the command line.
func (n *node) cli(args ...string) (int, string) {
	n.t.Helper()
	return n.run([]string{"HA_RSCTMP=" + n.rsctmp, "HA_LOGFACILITY=none"}, args...)
}

func (n *node) run(env []string, args ...string) (int, string) {
	n.t.Helper()
	cmd := n.ns.Command(realserverBin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatalf("running ocf-realserver %v: %v", args, err)
	}
	n.t.Logf("%s ocf-realserver %s -> %d\n%s", strings.Join(env[1:2], " "), strings.Join(args, " "), code, out)
	return code, string(out)
}

// addrs returns the addresses on an interface, as `ip -br addr` lists
// them.
func (n *node) addrs(iface string) string {
	n.t.Helper()
	return n.ns.MustRun(n.t, "ip", "-br", "addr", "show", "dev", iface)
}

// has reports whether iface holds addr (a host prefix).
func (n *node) has(iface, addr string) bool {
	n.t.Helper()
	for _, f := range strings.Fields(n.addrs(iface)) {
		if strings.SplitN(f, "/", 2)[0] == addr {
			return true
		}
	}
	return false
}

// sysctl reads a sysctl in the namespace.
func (n *node) sysctl(name string) string {
	n.t.Helper()
	return strings.TrimSpace(n.ns.MustRun(n.t, "sysctl", "-n", name))
}

// setSysctl sets sysctls (name=value) in the namespace.
func (n *node) setSysctl(kv ...string) {
	n.t.Helper()
	n.ns.MustRun(n.t, "sysctl", append([]string{"-qw"}, kv...)...)
}

// arpSysctls returns arp_ignore and arp_announce of all, default, lo and
// eth0 (where there is one), for comparing before and after.
func (n *node) arpSysctls() string {
	n.t.Helper()
	var b strings.Builder
	for _, c := range []string{"all", "default", "lo", "eth0"} {
		if _, err := n.ns.Command("sysctl", "-n", "net.ipv4.conf."+c+".arp_ignore").Output(); err != nil {
			continue
		}
		for _, s := range []string{"arp_ignore", "arp_announce"} {
			fmt.Fprintf(&b, "%s.%s=%s ", c, s, n.sysctl("net.ipv4.conf."+c+"."+s))
		}
	}
	return b.String()
}
