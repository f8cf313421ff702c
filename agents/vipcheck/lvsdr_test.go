package vipcheck_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/filesafe/filesafetest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

var binary string // built by TestMain when root can run the integration tests

func TestMain(m *testing.M) {
	code := func() int {
		// HA_RSCTMP must pass filesafe's checks; t.TempDir() is
		// usually below /tmp, which others can write.
		safe, err := filesafetest.SafeDir()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(safe)
		os.Setenv("TMPDIR", safe)
		if os.Geteuid() != 0 {
			return m.Run()
		}
		dir, bins, err := testenv.BuildTemp("ocf-vipcheck-test-", "./cmd/ocf-vipcheck")
		defer os.RemoveAll(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		binary = bins[0]
		return m.Run()
	}()
	os.Exit(code)
}

// dropIn returns a link to ocf-vipcheck named name, as a package would
// install it.
func dropIn(t *testing.T, name string) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(binary, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// run runs ocf-vipcheck in ns and returns its exit status and output.
func run(t *testing.T, ns *testenv.NS, env []string, args ...string) (int, string) {
	t.Helper()
	prog := binary
	if len(args) > 0 && filepath.IsAbs(args[0]) {
		prog, args = args[0], args[1:] // a link to it, by another name
	}
	cmd := ns.Command(prog, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running ocf-vipcheck %v: %v", args, err)
	}
	t.Logf("ocf-vipcheck %s -> %d\n%s", strings.Join(args, " "), code, out)
	return code, string(out)
}

// TestCommandLine drives the check_tcp_raw-compatible command line, the
// exit styles, roles and the ARP leak check on a real LVS-DR segment.
func TestCommandLine(t *testing.T) {
	testenv.RequireRoot(t)
	l := testenv.NewLVSDR(t, "vcc")
	rs1, rs2 := l.RSAddr[0], l.RSAddr[1]
	both := rs1 + "," + rs2

	code, out := run(t, l.Master, nil, "tcp", "eth0", rs1, l.VIP, "80")
	testenv.ExpectExit(t, "healthy", code, 0, out, rs1+" up mac=")
	code, out = run(t, l.Master, nil, "tcp", "-c", "-t", "2000", "-v", "eth0", both, l.VIP, "80")
	testenv.ExpectExit(t, "two real servers, FIN close", code, 0, out, rs1+" up", rs2+" up", "role master")
	code, out = run(t, l.Master, nil, "tcp", "-cv", "eth0", rs2, l.VIP, "80")
	testenv.ExpectExit(t, "combined short options", code, 0, out, rs2+" up")

	list := filepath.Join(t.TempDir(), "rs")
	if err := os.WriteFile(list, []byte("# real servers\n"+rs1+"\n"+rs2+" # second\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out = run(t, l.Master, nil, "tcp", "-", "@"+list, l.VIP, "80")
	testenv.ExpectExit(t, "@file, interface from the route", code, 0, out, rs1+" up", rs2+" up")

	code, out = run(t, l.Master, nil, "ldirectord", l.VIP, "80", rs2, "80")
	testenv.ExpectExit(t, "ldirectord arguments", code, 0, out, rs2+" up")
	link := filepath.Join(filepath.Dir(binary), "vipcheck-ldirectord")
	if err := os.Symlink(binary, link); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	cmd := l.Master.Command(link, l.VIP, "80", rs1, "80")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), rs1+" up") {
		t.Errorf("called as vipcheck-ldirectord: %v %s", err, out)
	}
	// A drop-in for check_tcp_raw: its name runs tcp, with its options
	// and argument order (and the Nagios style its check_ name implies).
	backupRole := filepath.Join(t.TempDir(), "role")
	if err := os.WriteFile(backupRole, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkTCPRaw := dropIn(t, "check_tcp_raw")
	code, out = run(t, l.Master, nil, checkTCPRaw, "-vv", "-t", "500", "eth0", rs1, l.VIP, "80")
	testenv.ExpectExit(t, "called as check_tcp_raw", code, 0, out, "VIPCHECK OK: 1 of 1 real servers up through VIP", "role master")
	code, out = run(t, l.Master, nil, checkTCPRaw, "-c", "-r", backupRole, "eth0", rs1, l.VIP, "80")
	testenv.ExpectExit(t, "called as check_tcp_raw, backup by role file", code, 0, out, "by plain connect, backup role")

	code, out = run(t, l.Master, nil, "tcp", "--exit-style", "relayd", "eth0", rs1, l.VIP, "80")
	testenv.ExpectExit(t, "relayd style, up", code, 1, out)
	code, out = run(t, l.Master, nil, "tcp", "--exit-style", "nagios", "eth0", both, l.VIP, "80")
	testenv.ExpectExit(t, "nagios style, up", code, 0, out, "VIPCHECK OK: 2 of 2 real servers up", "| ")

	roleFile := filepath.Join(t.TempDir(), "role")
	setRole := func(b string) {
		if err := os.WriteFile(roleFile, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("VIP missing on rs1", func(t *testing.T) {
		l.RS[0].MustRun(t, "ip", "addr", "del", l.VIP+"/32", "dev", "lo")
		defer l.RS[0].MustRun(t, "ip", "addr", "add", l.VIP+"/32", "dev", "lo")
		code, out := run(t, l.Master, nil, "tcp", "-t", "300", "eth0", both, l.VIP, "80")
		testenv.ExpectExit(t, "master, raw probe", code, 1, out, rs1+" no-answer", rs2+" up")
		code, out = run(t, l.Master, nil, "tcp", "--exit-style", "relayd", "-t", "300", "eth0", rs1, l.VIP, "80")
		testenv.ExpectExit(t, "relayd style, down", code, 0, out)
		code, out = run(t, l.Master, nil, "tcp", "--exit-style", "nagios", "-t", "300", "eth0", both, l.VIP, "80")
		testenv.ExpectExit(t, "nagios style, down", code, 2, out, "VIPCHECK CRITICAL: 1 of 2", rs1+" no-answer")
		// The raw probe from the backup balancer sees it too.
		code, out = run(t, l.Backup, nil, "tcp", "--role", "master", "-t", "300", "eth0", both, l.VIP, "80")
		testenv.ExpectExit(t, "backup balancer, raw probe", code, 1, out, rs1+" no-answer", rs2+" up")
		// A backup by role file connects to the real server's own
		// address, like check_tcp_raw: it cannot see the missing VIP.
		setRole("0\n")
		code, out = run(t, l.Backup, nil, "tcp", "-r", roleFile, "-t", "300", "eth0", both, l.VIP, "80")
		testenv.ExpectExit(t, "backup by role file, plain connect", code, 0, out, rs1+" up connect=")
		setRole("1\n")
		code, out = run(t, l.Master, nil, "tcp", "-r", roleFile, "-t", "300", "eth0", both, l.VIP, "80")
		testenv.ExpectExit(t, "master by role file", code, 1, out, rs1+" no-answer")
		code, out = run(t, l.Master, nil, "tcp", "--role", "auto", "-t", "300", "eth0", rs1, l.VIP, "80")
		testenv.ExpectExit(t, "auto on the VIP holder", code, 1, out, rs1+" no-answer")
		code, out = run(t, l.Backup, nil, "tcp", "--role", "auto", "-t", "300", "eth0", rs1, l.VIP, "80")
		testenv.ExpectExit(t, "auto on the backup", code, 0, out, rs1+" up connect=")
	})

	t.Run("nothing listening on rs2", func(t *testing.T) {
		l.StopListener(1)
		defer l.StartListener(1)
		code, out := run(t, l.Master, nil, "tcp", "eth0", both, l.VIP, "80")
		testenv.ExpectExit(t, "raw", code, 1, out, rs1+" up", rs2+" refused")
		setRole("0")
		code, out = run(t, l.Backup, nil, "tcp", "-r", roleFile, "eth0", both, l.VIP, "80")
		testenv.ExpectExit(t, "backup", code, 1, out, rs2+" refused")
	})

	t.Run("no ARP", func(t *testing.T) {
		code, out := run(t, l.Master, nil, "tcp", "-t", "200", "eth0", "10.206.0.99", l.VIP, "80")
		testenv.ExpectExit(t, "absent", code, 1, out, "10.206.0.99 no-arp")
		code, out = run(t, l.Master, nil, "tcp", "-t", "200", "eth0", rs1+"=02:de:ad:00:00:01", l.VIP, "80")
		testenv.ExpectExit(t, "wrong static MAC", code, 1, out, rs1+" no-answer mac=02:de:ad:00:00:01")
	})

	t.Run("bad arguments", func(t *testing.T) {
		// Usage errors exit 2 in the OCF style (the default).
		code, out := run(t, l.Master, nil, "tcp", "eth0", rs1, l.VIP)
		testenv.ExpectExit(t, "three arguments", code, 2, out, "expected IFACE REAL_SERVER VIP PORT")
		code, out = run(t, l.Master, nil, "tcp", "-vv", "-t", "0", "eth0", rs1, l.VIP, "80")
		testenv.ExpectExit(t, "-vv and -t 0 as check_tcp_raw takes them", code, 0, out, rs1+" up", "timeout 30s")
		code, out = run(t, l.Master, nil, "tcp", "-v", "-t", "700ms", "eth0", rs1, l.VIP, "80")
		testenv.ExpectExit(t, "-t as a Go duration", code, 0, out, rs1+" up", "timeout 700ms")
		for _, bad := range []string{"18446744073710", "9223372036854775807", "-5", "30001", "1h", "soon"} {
			code, out = run(t, l.Master, nil, "tcp", "-t", bad, "eth0", rs1, l.VIP, "80")
			testenv.ExpectExit(t, "tcp -t "+bad, code, 2, out, "-t/--timeout", "milliseconds", "from 0s to 30s")
			code, out = run(t, l.Master, nil, "ldirectord", "-t", bad, l.VIP, "80", rs1, "80")
			testenv.ExpectExit(t, "ldirectord -t "+bad, code, 2, out, "-t/--timeout")
		}
		for _, bad := range []string{"0", "-5", "18446744073710", "0ms"} {
			code, out = run(t, l.Master, nil, "arp-leak", "-t", bad, "eth0", l.VIP)
			testenv.ExpectExit(t, "arp-leak -t "+bad, code, 2, out, "-t/--timeout", "from 1ms to 30s")
		}
		code, out = run(t, l.Master, nil, "tcp", "--exit-style", "nagios", "eth9", rs1, l.VIP, "80")
		testenv.ExpectExit(t, "no such interface", code, 3, out, "VIPCHECK UNKNOWN", "no interface eth9 on this host")
		code, out = run(t, l.Master, nil, "arp-leak", "eth9", l.VIP)
		testenv.ExpectExit(t, "arp-leak, no such interface", code, 1, out, "no interface eth9 on this host")
		code, out = run(t, l.Master, nil, "tcp", "eth0", rs1, "80", l.VIP)
		testenv.ExpectExit(t, "port and VIP swapped", code, 2, out, `the port "80" where VIP goes`, `the address "`+l.VIP+`" where PORT goes`)
		code, out = run(t, l.Master, nil, "tcp", rs1, "eth0", l.VIP, "80")
		testenv.ExpectExit(t, "interface and real server swapped", code, 2, out, "arguments swapped?", `"`+rs1+`" where IFACE goes`)
		code, out = run(t, l.Master, nil, "ldirectord", "80", l.VIP, rs1, "80")
		testenv.ExpectExit(t, "ldirectord, VIP and VPORT swapped", code, 2, out, `the port "80" where VIP goes`)
		code, out = run(t, l.Master, nil, "tcp", "eth0", "2001:db8::1", l.VIP, "80")
		testenv.ExpectExit(t, "mixed address families", code, 1, out, "differ in address family")
	})

	t.Run("IPv6", func(t *testing.T) {
		rs6 := l.RSAddr6[0] + "," + l.RSAddr6[1]
		code, out := run(t, l.Master, nil, "tcp", "eth0", rs6, l.VIP6, "80")
		testenv.ExpectExit(t, "healthy", code, 0, out, l.RSAddr6[0]+" up mac=", l.RSAddr6[1]+" up")
		code, out = run(t, l.Backup, nil, "tcp", "--role", "auto", "eth0", rs6, l.VIP6, "80")
		testenv.ExpectExit(t, "auto on the backup", code, 0, out, l.RSAddr6[0]+" up connect=")
		l.RS[1].MustRun(t, "ip", "addr", "del", l.VIP6+"/128", "dev", "lo")
		defer l.RS[1].MustRun(t, "ip", "addr", "add", l.VIP6+"/128", "dev", "lo", "nodad")
		code, out = run(t, l.Master, nil, "tcp", "-t", "300", "-", rs6, l.VIP6, "80")
		testenv.ExpectExit(t, "VIP missing on rs2", code, 1, out, l.RSAddr6[1]+" no-answer")
	})

	t.Run("many real servers", func(t *testing.T) {
		addrs := l.AddRealServerAddresses(1000)
		list := filepath.Join(t.TempDir(), "many")
		if err := os.WriteFile(list, []byte(strings.Join(addrs, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out := run(t, l.Master, nil, "tcp", "--exit-style", "nagios", "--source", testenv.ManySource, "eth0", "@"+list, l.VIP, "80")
		testenv.ExpectExit(t, "2,000 real servers", code, 0, out, "VIPCHECK OK: 2000 of 2000 real servers up")
	})

	t.Run("ARP leak", func(t *testing.T) {
		code, out := run(t, l.Master, nil, "arp-leak", "eth0", l.VIP)
		testenv.ExpectExit(t, "clean, from the master", code, 0, out, "no other host answers")
		code, out = run(t, l.Backup, nil, "arp-leak", "eth0", l.VIP)
		testenv.ExpectExit(t, "clean, from the backup", code, 0, out, "only the expected host", l.MAC(l.Master).String())
		l.SetARPIgnore(0, 0)
		defer l.SetARPIgnore(0, 1)
		rsMAC := l.MAC(l.RS[0]).String()
		code, out = run(t, l.Master, nil, "arp-leak", "eth0", l.VIP)
		testenv.ExpectExit(t, "leak, from the master", code, 1, out, "ARP leak: 1 host(s)", rsMAC)
		code, out = run(t, l.Backup, nil, "arp-leak", "--exit-style", "nagios", "eth0", l.VIP)
		testenv.ExpectExit(t, "leak, from the backup", code, 2, out, "ARPLEAK CRITICAL", rsMAC)
		code, out = run(t, l.Backup, nil, "arp-leak", "--allow", l.MAC(l.Master).String(), "eth0", l.VIP)
		testenv.ExpectExit(t, "leak, from the backup with --allow", code, 1, out, rsMAC)
	})
}
