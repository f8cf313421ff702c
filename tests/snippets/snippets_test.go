// Package snippets proves every configuration snippet of README.md: each is
// a file under docs/snippets/ that README.md contains verbatim, and each is
// checked by the program that reads it (pcs on an empty CIB, keepalived -t,
// carp-hook check-config, icinga2 daemon -C) and, for the checks that
// relayd, ldirectord, keepalived and Nagios run, by running the exact
// command line they produce against a real Dante or a real LVS-DR segment
// in namespaces the test makes. The programs of `make install` are
// installed into a private overlay of /usr (see sandboxScript), never on
// the machine.
package snippets

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/agents/realserver"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// checks names the test that proves each snippet file.
var checks = map[string]string{
	"sockd-group.pcs.sh":             "TestPcsSnippets",
	"vipcheck-clone.pcs.sh":          "TestPcsSnippets",
	"vipcheck-https.pcs.sh":          "TestPcsSnippets",
	"sockd.keepalived.conf":          "TestKeepalivedSnippets, TestSockdCheckForms/keepalived",
	"vipcheck.keepalived.conf":       "TestKeepalivedSnippets, TestVipcheckForms/keepalived",
	"vipcheck-http.keepalived.conf":  "TestKeepalivedSnippets",
	"carp-hook.keepalived.conf":      "TestKeepalivedSnippets",
	"carp-hook.toml":                 "TestCarpHookConfig",
	"carp-hook-ucarp.sh":             "TestUcarpSnippet",
	"sockd-relayd.conf":              "TestSockdCheckForms/relayd",
	"sockd-ldirectord.cf":            "TestSockdCheckForms/ldirectord",
	"sockd-nagios.cfg":               "TestSockdCheckForms/nagios",
	"sockd-icinga2.conf":             "TestIcinga2Snippet",
	"vipcheck-ldirectord.cf":         "TestVipcheckForms/ldirectord",
	"vipcheck-relayd.sh":             "TestVipcheckForms/relayd",
	"realserver-clone.pcs.sh":        "TestPcsSnippets",
	"vipaddrs":                       "TestVipaddrsSnippet, TestPcsSnippets (installed as /etc/sysconfig/vipaddrs)",
	"anycast-freeradius-status.conf": "probe/radius TestFreeradius (installed as sites-enabled/status)",
	"anycast-syslog-ng.conf":         "probe/syslog TestSyslogNG (the relay rules of its configuration)",
	"anycast-rsyslog.conf":           "probe/syslog TestRsyslog (the relay rules of its configuration)",
	"anycast-squid.conf":             "probe/proxy TestSquid (the head of its squid.conf)",
	"anycast-probe.toml":             "TestAnycastOSPF (agents/anycastprobe)",
	"anycast-probe-services.toml":    "TestServicesSnippet (agents/anycastprobe: parsed with the secret's path made the test's own; each check type runs against its real server in TestRadiusService, TestSyslogService, TestProxyService, TestSocksService)",
	"anycast-frr-ospfd.conf":         "TestAnycastOSPF (agents/anycastprobe)",
	"anycast-frr-router.conf":        "TestAnycastOSPF (agents/anycastprobe)",
	"anycast-bird-node.conf":         "TestAnycastBIRD (agents/anycastprobe)",
	"anycast-bird-router.conf":       "TestAnycastBIRD (agents/anycastprobe)",
	// dns-failover's snippets are proved by its lab tests against two real
	// BIND 9 primaries (agents/dnsfailover, addresses and paths replaced).
	"dnsfo-tsig-keygen.sh":          "agents/dnsfailover: newLab runs it for every lab",
	"dnsfo-named.conf":              "agents/dnsfailover: both named primaries of every lab load it",
	"dnsfo.toml":                    "agents/dnsfailover TestSnippets, TestBINDFailover, TestBINDWrongKey, TestRunDaemon",
	"dnsfo-failover-monitor.config": "agents/dnsfailover TestSnippets, TestClassicImport",
	"dnsfo-import.sh":               "agents/dnsfailover TestClassicImport",
}

// TestREADMEContainsSnippets checks that README.md contains every snippet
// file exactly (so they cannot drift apart) and that every file has a check.
func TestREADMEContainsSnippets(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../../docs/snippets/*")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		seen[name] = true
		if _, ok := checks[name]; !ok {
			t.Errorf("docs/snippets/%s has no check: add one to tests/snippets", name)
		}
		content := snippet(t, name)
		if !strings.Contains(string(readme), "\n"+content+"```\n") {
			t.Errorf("README.md does not contain docs/snippets/%s verbatim as a code block", name)
		}
	}
	for name := range checks {
		if !seen[name] {
			t.Errorf("checks names docs/snippets/%s, which does not exist", name)
		}
	}
}

// untested names, by their first line, the README code blocks that are not
// snippet files, and why.
var untested = map[string]string{
	"anycast-probe dns --query":               "one-liner synopses, run against real unbound and listeners in agents/anycastprobe (TestDNSOneLiner, TestTCPRoute)",
	"systemctl kill --kill-whom=main -s TSTP": "systemd is not PID 1 here; the signals are tested on the daemon (TestDaemonLifecycle, TestAnycastOSPF)",
	"make demo ":                  "the commands make test is and runs",
	"make deb\n":                  "tests/package builds the package with make's script and installs it with dpkg -i on an overlay",
	"ocf-sockd check [--depth":    "a synopsis",
	"ocf-vipcheck tcp [-c]":       "a synopsis",
	"ocf-vipcheck http [-M":       "a synopsis",
	"10.0.0.21 up status=200":     "sample output",
	"notify 0 {":                  "FreeBSD devd: no FreeBSD machine here",
	"carp_up = ":                  "OpenBSD ifstated: no OpenBSD machine here",
	"go test -v ./tests/cluster/": "make test runs it",
	"go test -run '^$' -bench . ": "make bench runs it",
	"c := &socks5.Client{Proxy: ": "a Go API sketch",
}

// TestREADMEBlocksAreSnippets checks that every code block of README.md is
// a snippet file (and so is tested) or one of the few named in untested.
func TestREADMEBlocksAreSnippets(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../docs/snippets/*")
	snippets := map[string]bool{}
	for _, f := range files {
		snippets[snippet(t, filepath.Base(f))] = true
	}
	blocks := regexp.MustCompile("(?ms)^```[a-z]*\n(.*?)^```$").FindAllStringSubmatch(string(readme), -1)
	for _, b := range blocks {
		if snippets[b[1]] {
			continue
		}
		known := false
		for prefix := range untested {
			known = known || strings.HasPrefix(b[1], prefix)
		}
		if !known {
			first, _, _ := strings.Cut(b[1], "\n")
			t.Errorf("README.md has a code block that is no snippet file, so nothing tests it: %q (move it to docs/snippets/ with a check)", first)
		}
	}
}

// TestPcsSnippets runs every pcs snippet, as a shell script, with pcs
// writing to an empty CIB file (pcs -f): the agents must exist, every
// parameter must be one of the agent's, every resource a constraint names
// must be defined. crm_verify then checks the whole CIB.
func TestPcsSnippets(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "pcs")
	testenv.RequireCommand(t, "cibadmin")
	testenv.RequireCommand(t, "crm_verify")
	files, _ := filepath.Glob("../../docs/snippets/*.pcs.sh")
	sort.Strings(files)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			cib := filepath.Join(t.TempDir(), "cib.xml")
			empty := testenv.Run(t, "cibadmin", "--empty")
			if err := os.WriteFile(cib, []byte(empty), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("CIB", cib)
			// A cluster has fencing configured; this CIB stands for the
			// rest of such a cluster.
			testenv.Run(t, "pcs", "-f", cib, "property", "set", "stonith-enabled=false")
			// The real-server agent's validation reads the vipaddrs file
			// the snippet names: the README's example file, installed.
			mustSandbox(t, nil, 0, "bash", "-c", `set -e; install -d -m 0755 /etc/sysconfig
install -m 0644 "$2" /etc/sysconfig/vipaddrs
pcs() { command pcs -f "$CIB" "$@"; }; . "$1"`, "pcs-snippet", snippetPath(t, name), snippetPath(t, "vipaddrs"))
			out, err := testenvRun("crm_verify", "-V", "-x", cib)
			if err != nil {
				t.Fatalf("crm_verify -x: %v\n%s", err, out)
			}
		})
	}
}

// TestKeepalivedSnippets checks every keepalived snippet with keepalived -t
// in a namespace with an eth0, as keepalived would read it (script paths
// and their security included).
func TestKeepalivedSnippets(t *testing.T) {
	testenv.RequireCommand(t, "keepalived")
	files, _ := filepath.Glob("../../docs/snippets/*.keepalived.conf")
	sort.Strings(files)
	ns := withEth0(t, "snk", "10.0.0.11/24", "192.0.2.11/24")
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			out := mustSandbox(t, ns, 0, "keepalived", "-t", "-l", "-n", "-f", snippetPath(t, name))
			if strings.Contains(out, "WARNING") || strings.Contains(out, "rror") {
				t.Errorf("keepalived -t accepted %s with complaints:\n%s", name, out)
			}
		})
	}
}

// TestCarpHookConfig checks the carp-hook configuration with carp-hook
// check-config, as root would install it: a root-owned 0644 file in a
// root-owned directory no one else may write, read in a namespace with
// eth0 and the OCF agent the configuration names.
func TestCarpHookConfig(t *testing.T) {
	testenv.RequireRoot(t)
	dir, err := os.MkdirTemp("", "ocfkit-carp-conf-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "carp-hook.toml")
	if err := os.WriteFile(conf, []byte(snippet(t, "carp-hook.toml")), 0o644); err != nil {
		t.Fatal(err)
	}
	ns := withEth0(t, "snc", "10.0.0.11/24")
	args := []string{"check-config"}
	// Host checks (interfaces, paths) are the machine's business, not the
	// snippet's; use the switch when carp-hook has it.
	if help, _ := runSandbox(t, ns, "carp-hook", "check-config", "--help"); strings.Contains(help, "--no-host-checks") {
		args = append(args, "--no-host-checks")
	}
	out := mustSandbox(t, ns, 0, "carp-hook", append(args, conf)...)
	t.Logf("carp-hook %s: %s", strings.Join(args, " "), strings.TrimSpace(out))
}

// TestIcinga2Snippet validates the Icinga 2 CheckCommand and its Service
// with icinga2 daemon -C, with the Icinga Template Library and a host that
// selects the service.
func TestIcinga2Snippet(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "icinga2")
	dir := testenv.SharedTempDir(t, "icinga2") // icinga2 reads it as nagios
	main := `include <itl>
include "ocf-sockd.conf"
object Host "socks1" {
    address = "192.0.2.21"
    check_command = "dummy"
    vars.socks = true
}
`
	if err := os.WriteFile(filepath.Join(dir, "icinga2.conf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ocf-sockd.conf"), []byte(snippet(t, "sockd-icinga2.conf")), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustSandbox(t, nil, 0, "icinga2", "daemon", "-C", "-c", filepath.Join(dir, "icinga2.conf"))
	if !strings.Contains(out, "Instantiated 1 Service") {
		t.Errorf("the Service of the snippet was not applied to the host:\n%s", out)
	}
}

// relaydTimeout returns the check timeout (ms) of a relayd forward line.
func relaydTimeout(t testing.TB, conf string) int {
	t.Helper()
	m := regexp.MustCompile(`check script "[^"]+" timeout (\d+)`).FindStringSubmatch(conf)
	if m == nil {
		t.Fatalf("no check script ... timeout in the relayd snippet")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// linkLine returns the ln -s command of a snippet (with or without a
// leading "# ").
func linkLine(t testing.TB, conf string) []string {
	t.Helper()
	for _, l := range strings.Split(conf, "\n") {
		l = strings.TrimPrefix(strings.TrimSpace(l), "# ")
		if strings.HasPrefix(l, "ln -s ") {
			return shellWords(l)
		}
	}
	t.Fatal("no ln -s line in the snippet")
	return nil
}

// testenvRun runs a command on the machine and returns its combined output.
func testenvRun(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// TestVipaddrsSnippet parses the README's vipaddrs example as the agent
// does: a single address, a /24 expanded to its 256 addresses, an IPv6
// address.
func TestVipaddrsSnippet(t *testing.T) {
	addrs, err := realserver.Parse([]byte(snippet(t, "vipaddrs")))
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 258 {
		t.Fatalf("%d addresses, want 258 (1 + 256 + 1)", len(addrs))
	}
}
