package snippets

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
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
		if exited(d.Process.Pid) {
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

// snippetLVSDR builds an LVS-DR segment carrying the vipcheck snippets'
// addresses as well: the master balancer 10.0.0.10 holding the VIP
// 10.0.0.100 on eth0, the real servers 10.0.0.21 and 10.0.0.22 with the
// VIP on lo (arp_ignore=1), each listening on port 80.
func snippetLVSDR(t *testing.T) *testenv.LVSDR {
	t.Helper()
	l := testenv.NewLVSDR(t, "sv")
	l.Master.MustRun(t, "ip", "addr", "add", "10.0.0.10/24", "dev", "eth0")
	l.Master.MustRun(t, "ip", "addr", "add", "10.0.0.100/24", "dev", "eth0")
	for i, rs := range l.RS {
		rs.MustRun(t, "ip", "addr", "add", fmt.Sprintf("10.0.0.%d/24", 21+i), "dev", "eth0")
		rs.MustRun(t, "ip", "addr", "add", "10.0.0.100/32", "dev", "lo")
	}
	return l
}

// TestVipcheckForms runs the command lines that keepalived, ldirectord and
// relayd build from the ocf-vipcheck snippets, exactly, on the master
// balancer of a real LVS-DR segment: up for real servers that hold the
// VIP, down for one whose lo lost it.
func TestVipcheckForms(t *testing.T) {
	l := snippetLVSDR(t)
	// The second real server loses the VIP: it still answers on its own
	// address, but not through the VIP.
	l.RS[1].MustRun(t, "ip", "addr", "del", "10.0.0.100/32", "dev", "lo")

	t.Run("keepalived", func(t *testing.T) {
		m := regexp.MustCompile(`misc_path "([^"]+)"`).FindStringSubmatch(snippet(t, "vipcheck.keepalived.conf"))
		words := shellWords(m[1])
		mustSandbox(t, l.Master, 0, words[0], words[1:]...)
	})

	t.Run("ldirectord", func(t *testing.T) {
		conf := snippet(t, "vipcheck-ldirectord.cf")
		link := linkLine(t, conf)
		vip := regexp.MustCompile(`virtual = ([0-9.]+):(\d+)`).FindStringSubmatch(conf)
		cmd := regexp.MustCompile(`checkcommand = (\S+)`).FindStringSubmatch(conf)[1]
		for _, real := range regexp.MustCompile(`real = ([0-9.]+):(\d+)`).FindAllStringSubmatch(conf, -1) {
			want := 0
			if real[1] == "10.0.0.22" {
				want = 1
			}
			mustSandbox(t, l.Master, want, "sh", append([]string{"-c", `"$@" && exec "$0" ` + strings.Join([]string{vip[1], vip[2], real[1], real[2]}, " "), cmd}, link...)...)
		}
	})

	t.Run("relayd", func(t *testing.T) {
		script := filepath.Join(testenv.SharedTempDir(t, "relayd"), "vipcheck-relayd")
		if err := os.WriteFile(script, []byte(snippet(t, "vipcheck-relayd.sh")), 0o755); err != nil {
			t.Fatal(err)
		}
		// relayd passes the host only; exit 1 is up, 0 down.
		mustSandbox(t, l.Master, 1, script, "10.0.0.21")
		mustSandbox(t, l.Master, 0, script, "10.0.0.22")
	})
}

// TestUcarpSnippet runs the ucarp snippet as a script, exactly (it writes
// the up and down scripts and starts ucarp), in a namespace whose eth0 has
// 10.0.0.11, with /etc/carp-hook.toml a group dante that adds the VIP: alone
// on its link, ucarp becomes master and calls the up script, and carp-hook
// adds 10.0.0.50 to eth0.
func TestUcarpSnippet(t *testing.T) {
	testenv.RequireCommand(t, "ucarp")
	ns := withEth0(t, "snu", "10.0.0.11/24")
	dir := testenv.SharedTempDir(t, "ucarp")
	conf := filepath.Join(dir, "carp-hook.toml")
	toml := fmt.Sprintf(`state_dir = %q

[group.dante]

[[group.dante.action]]
type = "address"
interface = "eth0"
addresses = ["10.0.0.50/24"]
`, filepath.Join(dir, "state"))
	if err := os.WriteFile(conf, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := sandbox(t, ns, "bash", "-c", `install -m 0644 "$1" /etc/carp-hook.toml && . "$2"`, "ucarp-snippet", conf, snippetPath(t, "carp-hook-ucarp.sh"))
	logf, err := os.Create(filepath.Join(dir, "ucarp.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	out := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := testenv.StartTied(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testenv.Kill(cmd) })
	testenv.WaitFor(t, 20*time.Second, "ucarp to become master and carp-hook to add 10.0.0.50", func() error {
		if exited(cmd.Process.Pid) {
			return testenv.Stop(fmt.Errorf("ucarp exited: %s", out()))
		}
		if a := ns.MustRun(t, "ip", "-4", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(a, "10.0.0.50/24") {
			return fmt.Errorf("eth0: %s; ucarp: %s", strings.TrimSpace(a), out())
		}
		return nil
	})
}

// exited reports whether our child pid has ended (gone, or a zombie not yet
// reaped).
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}
