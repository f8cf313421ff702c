package snippets

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// checkDefaultTimeout is ocf-sockd check's own time limit when --timeout is
// not given: a caller's time limit must be longer.
const checkDefaultTimeout = 5 * time.Second

// startSnippetDante runs a real danted in a new namespace on the snippets'
// real-server addresses, 192.0.2.21 and 2001:db8::21 port 1080 (on lo),
// relaying from them, and returns the namespace. 192.0.2.22 has no proxy.
func startSnippetDante(t *testing.T) *testenv.NS {
	t.Helper()
	danted := testenv.RequireCommand(t, "danted")
	testenv.RequireCommand(t, "ss")
	ns := testenv.NewNS(t, "snd")
	for _, a := range []string{"192.0.2.21/32", "192.0.2.22/32"} {
		ns.MustRun(t, "ip", "addr", "add", a, "dev", "lo")
	}
	ns.MustRun(t, "ip", "addr", "add", "2001:db8::21/128", "dev", "lo", "nodad")
	dir := testenv.SharedTempDir(t, "snd")
	conf := filepath.Join(dir, "danted.conf")
	cfg := testenv.DanteConfig{LogFile: filepath.Join(dir, "danted.log"), Internal: []string{"192.0.2.21", "2001:db8::21"}, External: "lo"}
	if err := os.WriteFile(conf, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	d := ns.Start(t, danted, "-f", conf, "-p", filepath.Join(dir, "danted.pid"))
	testenv.WaitFor(t, 10*time.Second, "danted listening on 192.0.2.21 and 2001:db8::21", func() error {
		if d.ProcessState != nil {
			return testenv.Stop(fmt.Errorf("danted exited"))
		}
		out := ns.MustRun(t, "ss", "-Hltn", "sport = :1080")
		if !strings.Contains(out, "192.0.2.21:1080") || !strings.Contains(out, "[2001:db8::21]:1080") {
			b, _ := os.ReadFile(cfg.LogFile)
			return fmt.Errorf("listeners: %q; log: %s", out, b)
		}
		return nil
	})
	return ns
}

// TestSockdCheckForms runs the command lines that relayd, ldirectord,
// keepalived and Nagios build from the ocf-sockd snippets, exactly, against
// a real Dante, and checks the exit status each caller reads as up (and,
// against an address without a proxy, as down).
func TestSockdCheckForms(t *testing.T) {
	ns := startSnippetDante(t)

	t.Run("relayd", func(t *testing.T) {
		conf := snippet(t, "sockd-relayd.conf")
		if ms := relaydTimeout(t, conf); time.Duration(ms)*time.Millisecond <= checkDefaultTimeout || ms >= 10000 {
			t.Errorf("relayd timeout %d ms: must exceed the check's own %v and stay under relayd's 10 s interval", ms, checkDefaultTimeout)
		}
		link := linkLine(t, conf)
		script := regexp.MustCompile(`check script "([^"]+)"`).FindStringSubmatch(conf)[1]
		// relayd runs the script with the host as its only argument; 1 is up.
		mustSandbox(t, ns, 1, "sh", append([]string{"-c", `"$@" && exec "$0" 192.0.2.21`, script}, link...)...)
		mustSandbox(t, ns, 0, "sh", append([]string{"-c", `"$@" && exec "$0" 192.0.2.22`, script}, link...)...)
	})

	t.Run("ldirectord", func(t *testing.T) {
		conf := snippet(t, "sockd-ldirectord.cf")
		link := linkLine(t, conf)
		vip := regexp.MustCompile(`virtual=([0-9.]+):(\d+)`).FindStringSubmatch(conf)
		rip := regexp.MustCompile(`real=([0-9.]+):(\d+)`).FindStringSubmatch(conf)
		cmd := regexp.MustCompile(`checkcommand="([^"]+)"`).FindStringSubmatch(conf)[1]
		if m := regexp.MustCompile(`checktimeout=(\d+)`).FindStringSubmatch(conf); m == nil || atoi(m[1]) <= int(checkDefaultTimeout/time.Second) {
			t.Errorf("ldirectord checktimeout %v must exceed the check's own %v", m, checkDefaultTimeout)
		}
		// ldirectord runs checkcommand VIP VPORT RIP RPORT; 0 is up.
		mustSandbox(t, ns, 0, "sh", append([]string{"-c", `"$@" && exec "$0" ` + strings.Join([]string{vip[1], vip[2], rip[1], rip[2]}, " "), cmd}, link...)...)
		mustSandbox(t, ns, 1, "sh", append([]string{"-c", `"$@" && exec "$0" ` + strings.Join([]string{vip[1], vip[2], "192.0.2.22", rip[2]}, " "), cmd}, link...)...)
	})

	t.Run("keepalived", func(t *testing.T) {
		conf := snippet(t, "sockd.keepalived.conf")
		m := regexp.MustCompile(`misc_path "([^"]+)"`).FindStringSubmatch(conf)
		mustSandbox(t, ns, 0, shellWords(m[1])[0], shellWords(m[1])[1:]...)
	})

	t.Run("nagios", func(t *testing.T) {
		conf := snippet(t, "sockd-nagios.cfg")
		line := regexp.MustCompile(`command_line (.+)`).FindStringSubmatch(conf)[1]
		for _, host := range []string{"192.0.2.21", "2001:db8::21"} {
			words := shellWords(strings.ReplaceAll(line, "$HOSTADDRESS$", host))
			out := mustSandbox(t, ns, 0, words[0], words[1:]...)
			if !strings.HasPrefix(out, "SOCKS OK") {
				t.Errorf("%s: %q, want SOCKS OK ...", host, out)
			}
			t.Logf("%s", strings.TrimSpace(out))
		}
		words := shellWords(strings.ReplaceAll(line, "$HOSTADDRESS$", "192.0.2.22"))
		mustSandbox(t, ns, 2, words[0], words[1:]...)
	})
}

// atoi is strconv.Atoi for digits a regexp matched.
func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
