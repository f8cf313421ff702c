package vipcheck_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestOCFAgent runs ocf:ocfkit:vipcheck's actions on the master balancer of
// a real LVS-DR segment: ocf-tester, the exit codes of validate-all, and
// the node attribute monitor publishes (through a stand-in attrd_updater
// that records its arguments; tests/cluster runs it under Pacemaker).
func TestOCFAgent(t *testing.T) {
	testenv.RequireRoot(t)
	tester := testenv.RequireCommand(t, "ocf-tester")
	l := testenv.NewLVSDR(t, "vco")
	rsctmp := t.TempDir()
	fakeBin := t.TempDir()
	calls := filepath.Join(t.TempDir(), "attrd")
	if err := os.WriteFile(filepath.Join(fakeBin, "attrd_updater"),
		[]byte("#!/bin/sh\necho \"$*\" >>"+calls+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := []string{"HA_RSCTMP=" + rsctmp, "PATH=" + fakeBin + ":" + os.Getenv("PATH"),
		"OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=vc",
		"OCF_RESKEY_vip=" + l.VIP, "OCF_RESKEY_port=80", "OCF_RESKEY_interface=eth0",
		"OCF_RESKEY_real_servers=" + l.RSAddr[0] + "," + l.RSAddr[1], "OCF_RESKEY_multiplier=100"}
	action := func(want int, act string, extra ...string) string {
		t.Helper()
		cmd := l.Master.Command(binary, act)
		cmd.Env = append(append(os.Environ(), base...), extra...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Errorf("%s %v: exit %d, want %d\n%s", act, extra, code, want, out)
		}
		return string(out)
	}
	lastCall := func() string {
		b, _ := os.ReadFile(calls)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		return lines[len(lines)-1]
	}

	t.Run("ocf-tester", func(t *testing.T) {
		cmd := l.Master.Command(tester, "-n", "vc", "-o", "vip="+l.VIP, "-o", "port=80",
			"-o", "real_servers="+l.RSAddr[0], "-o", "interface=eth0", binary)
		cmd.Env = append(os.Environ(), "HA_RSCTMP="+rsctmp, "PATH="+fakeBin+":"+os.Getenv("PATH")) // attrd_updater needs a cluster
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "passed all tests") {
			t.Fatalf("ocf-tester: %v\n%s", err, out)
		}
	})

	t.Run("validate-all", func(t *testing.T) {
		action(0, "validate-all")
		action(6, "validate-all", "OCF_RESKEY_vip=10.206.0.800")
		action(6, "validate-all", "OCF_RESKEY_real_servers=")
		action(6, "validate-all", "OCF_RESKEY_port=0")
		action(6, "validate-all", "OCF_RESKEY_role=primary")
		action(6, "validate-all", "OCF_RESKEY_timeout=-1")
		action(5, "validate-all", "OCF_RESKEY_interface=lo")
		action(0, "validate-all", "OCF_RESKEY_interface=lo", "OCF_RESKEY_role=backup")
		out := action(5, "validate-all", "OCF_RESKEY_interface=eth9")
		if !strings.Contains(out, "ocf-exit-reason:no interface eth9 on this host") {
			t.Errorf("no exit reason: %s", out)
		}
		// Durations out of range never pass as zero or as a huge wait.
		for _, bad := range []string{"10000000000000", "18446744073710", "0", "2h", "-5ms"} {
			out = action(6, "validate-all", "OCF_RESKEY_timeout="+bad)
			if !strings.Contains(out, "ocf-exit-reason:timeout: ") || !strings.Contains(out, "from 1ms to 1h") {
				t.Errorf("timeout=%s: exit reason lacks the range: %s", bad, out)
			}
		}
		action(0, "validate-all", "OCF_RESKEY_timeout=750ms")
		for _, missing := range []string{"vip", "real_servers"} {
			out = action(6, "validate-all", "OCF_RESKEY_"+missing+"=")
			if !strings.Contains(out, "ocf-exit-reason:"+missing+" is required") {
				t.Errorf("%s missing: exit reason: %s", missing, out)
			}
		}
	})

	t.Run("without CAP_NET_RAW", func(t *testing.T) {
		// The raw probe cannot run: 5; the backup role needs no raw socket.
		capsh := testenv.RequireCommand(t, "capsh")
		cmd := l.Master.Command(capsh, "--drop=cap_net_raw", "--", "-c", binary+" validate-all")
		cmd.Env = append(os.Environ(), base...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 || !strings.Contains(string(out), "CAP_NET_RAW") ||
			!strings.Contains(string(out), "setcap cap_net_raw+ep "+binary) {
			t.Errorf("validate-all without CAP_NET_RAW: %v\n%s", err, out)
		}
		// The check command says what is missing and how a Nagios user
		// gets it.
		cmd = l.Master.Command(capsh, "--drop=cap_net_raw", "--", "-c", binary+" tcp --exit-style nagios eth0 "+l.RSAddr[0]+" "+l.VIP+" 80")
		out, err = cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.Contains(string(out), "VIPCHECK UNKNOWN: the raw probe needs root or CAP_NET_RAW") ||
			!strings.Contains(string(out), "for Nagios or another unprivileged user, setcap cap_net_raw+ep "+binary) {
			t.Errorf("tcp without CAP_NET_RAW: %v\n%s", err, out)
		}
		cmd = l.Master.Command(capsh, "--drop=cap_net_raw", "--", "-c", binary+" arp-leak eth0 "+l.VIP)
		out, err = cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "setcap cap_net_raw+ep "+binary) {
			t.Errorf("arp-leak without CAP_NET_RAW: %v\n%s", err, out)
		}
		cmd = l.Master.Command(capsh, "--drop=cap_net_raw", "--", "-c", binary+" validate-all")
		cmd.Env = append(append(os.Environ(), base...), "OCF_RESKEY_role=backup")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("validate-all, backup role, without CAP_NET_RAW: %v\n%s", err, out)
		}
		// nft_guard needs CAP_NET_ADMIN as well.
		guard := []string{"OCF_RESKEY_check=http", "OCF_RESKEY_nft_guard=true"}
		cmd = l.Master.Command(capsh, "--drop=cap_net_admin", "--", "-c", binary+" validate-all")
		cmd.Env = append(append(os.Environ(), base...), guard...)
		out, err = cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 || !strings.Contains(string(out), "CAP_NET_ADMIN") {
			t.Errorf("validate-all with nft_guard, without CAP_NET_ADMIN: %v\n%s", err, out)
		}
		action(0, "validate-all", guard...)
	})

	t.Run("lifecycle and attribute", func(t *testing.T) {
		recurring := "OCF_RESKEY_CRM_meta_interval=10000"
		action(7, "monitor")
		action(7, "monitor", recurring)
		action(0, "stop")
		action(0, "start")
		if got := lastCall(); got != "-n vipcheck -v 200 -d 5s" {
			t.Errorf("start published %q", got)
		}
		action(0, "start")
		action(0, "monitor") // a probe only looks at the state file
		l.RS[0].MustRun(t, "ip", "addr", "del", l.VIP+"/32", "dev", "lo")
		action(0, "monitor", recurring, "OCF_RESKEY_attribute=rs_ok", "OCF_RESKEY_timeout=300")
		if got := lastCall(); got != "-n rs_ok -v 100 -d 5s" {
			t.Errorf("monitor with rs1 broken published %q", got)
		}
		// A probe timeout at or above the operation's is cut short so
		// that the count is still published: rs1 is silent until the
		// deadline.
		action(0, "monitor", recurring, "OCF_RESKEY_attribute=clamped", "OCF_RESKEY_timeout=20000", "OCF_RESKEY_CRM_meta_timeout=2000")
		if got := lastCall(); got != "-n clamped -v 100 -d 5s" {
			t.Errorf("monitor with timeout=20000 and a 2 s operation published %q", got)
		}
		// A count that could not be published is a failure.
		failing := t.TempDir()
		if err := os.WriteFile(filepath.Join(failing, "attrd_updater"), []byte("#!/bin/sh\necho attrd down >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		out := action(1, "monitor", recurring, "PATH="+failing+":"+os.Getenv("PATH"))
		if !strings.Contains(out, "ocf-exit-reason:publishing node attribute vipcheck=100") || !strings.Contains(out, "attrd down") {
			t.Errorf("monitor with attrd_updater failing:\n%s", out)
		}
		l.RS[0].MustRun(t, "ip", "addr", "add", l.VIP+"/32", "dev", "lo")
		l.SetARPIgnore(1, 0)
		out = action(0, "monitor", recurring, "OCF_RESKEY_arp_leak_check=true")
		if !strings.Contains(out, "ARP leak") || !strings.Contains(out, l.MAC(l.RS[1]).String()) {
			t.Errorf("monitor did not log the ARP leak of rs2:\n%s", out)
		}
		if got := lastCall(); got != "-n vipcheck -v 200 -d 5s" {
			t.Errorf("monitor published %q", got)
		}
		l.SetARPIgnore(1, 1)
		action(0, "stop")
		if got := lastCall(); got != "-D -n vipcheck -d 5s" {
			t.Errorf("stop ran %q", got)
		}
		action(0, "stop")
		action(7, "monitor", recurring)
	})

	t.Run("check=http and https", func(t *testing.T) {
		ca := testenv.NewTestCA(t, "www.example.test")
		for i := range l.RS {
			l.StartHTTP(i, 8080, "", "")
			l.StartHTTP(i, 8443, ca.CertFile, ca.KeyFile)
		}
		recurring := "OCF_RESKEY_CRM_meta_interval=10000"
		web := []string{"OCF_RESKEY_check=http", "OCF_RESKEY_port=8080", "OCF_RESKEY_http_path=" + testenv.HTTPSmall,
			"OCF_RESKEY_http_expect_headers=X-Check: ok", "OCF_RESKEY_http_body=" + testenv.SmallBody}
		action(0, "validate-all", web...)
		action(6, "validate-all", append(web, "OCF_RESKEY_check=ftp")...)
		action(6, "validate-all", append(web, "OCF_RESKEY_http_md5=xyz")...)
		action(0, "start", web...)
		action(0, "monitor", append(web, recurring)...)
		if got := lastCall(); got != "-n vipcheck -v 200 -d 5s" {
			t.Errorf("http monitor published %q", got)
		}
		out := action(0, "monitor", append(web, recurring, "OCF_RESKEY_http_path="+testenv.HTTPMissing)...)
		if got := lastCall(); got != "-n vipcheck -v 0 -d 5s" || !strings.Contains(out, `http-status observed="404"`) {
			t.Errorf("http monitor of a 404 published %q, logged:\n%s", got, out)
		}
		tls := []string{"OCF_RESKEY_check=https", "OCF_RESKEY_port=8443", "OCF_RESKEY_http_host=www.example.test",
			"OCF_RESKEY_http_path=" + testenv.HTTPChunked, "OCF_RESKEY_tls_ca=" + ca.CAFile}
		action(0, "monitor", append(tls, recurring)...)
		if got := lastCall(); got != "-n vipcheck -v 200 -d 5s" {
			t.Errorf("https monitor published %q", got)
		}
		out = action(0, "monitor", append(tls, recurring, "OCF_RESKEY_tls_ca=")...)
		if got := lastCall(); got != "-n vipcheck -v 0 -d 5s" || !strings.Contains(out, "tls observed=") {
			t.Errorf("https monitor without the CA published %q, logged:\n%s", got, out)
		}
		action(0, "stop", web...)
		cmd := l.Master.Command(tester, "-n", "vch", "-o", "vip="+l.VIP, "-o", "port=8443", "-o", "check=https",
			"-o", "real_servers="+l.RSAddr[0], "-o", "interface=eth0", "-o", "http_host=www.example.test",
			"-o", "http_path="+testenv.HTTPSmall, "-o", "tls_ca="+ca.CAFile, binary)
		cmd.Env = append(os.Environ(), "HA_RSCTMP="+rsctmp, "PATH="+fakeBin+":"+os.Getenv("PATH")) // attrd_updater needs a cluster
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "passed all tests") {
			t.Errorf("ocf-tester, check=https: %v\n%s", err, out)
		}
	})
}
