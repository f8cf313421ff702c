package vipcheck_test

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestHTTPThroughVIP runs ocf-vipcheck http on a real LVS-DR segment with
// python HTTP servers on the real servers: a full TCP connection through
// the VIP over the userspace stack.
func TestHTTPThroughVIP(t *testing.T) {
	testenv.RequireRoot(t)
	l := testenv.NewLVSDR(t, "vch")
	rs1, rs2 := l.RSAddr[0], l.RSAddr[1]
	both := rs1 + "," + rs2
	const port, tlsPort, host = "8080", "8443", "www.example.test"
	ca := testenv.NewTestCA(t, host)
	for i := range l.RS {
		l.StartHTTP(i, 8080, "", "")
		l.StartHTTP(i, 8443, ca.CertFile, ca.KeyFile)
	}
	big := md5.Sum(testenv.BigBody())
	bigMD5 := hex.EncodeToString(big[:])
	small := md5.Sum([]byte(testenv.SmallBody))

	code, out := run(t, l.Master, nil, "http", "eth0", both, l.VIP, port, host, testenv.HTTPSmall)
	testenv.ExpectExit(t, "200 small body", code, 0, out, rs1+" up status=200 bytes=27 mac=", rs2+" up status=200")
	code, out = run(t, l.Master, nil, "http", "-S", "200", "-R", "X-Check: ok", "-B", testenv.SmallBody,
		"-A", hex.EncodeToString(small[:]), "--expect-regex", "^hello", "-H", "Accept: text/plain, */*",
		"eth0", rs1, l.VIP, port, host, testenv.HTTPSmall)
	testenv.ExpectExit(t, "every expectation", code, 0, out, rs1+" up status=200")
	code, out = run(t, l.Master, nil, "http", "-v", "-R", "X-Check: ok", "eth0", rs1, l.VIP, port, host, testenv.HTTPSmall)
	testenv.ExpectExit(t, "verbose", code, 0, out, "GET http://"+host+"/small; expect status 200; header X-Check: \"ok\"")
	if strings.Count(out, "header X-Check") != 1 {
		t.Errorf("-R counted twice:\n%s", out)
	}
	code, out = run(t, l.Master, nil, "http", "--response-header", "X-Check: ok", "--header", "Accept: */*", "--status-code", "200",
		"--body", testenv.SmallBody, "--method", "GET", "eth0", rs1, l.VIP, port, host, testenv.HTTPSmall)
	testenv.ExpectExit(t, "long options", code, 0, out, rs1+" up status=200")
	code, out = run(t, l.Master, nil, "http", "-t", "5000", "-A", bigMD5, "eth0", both, l.VIP, port, host, testenv.HTTPBig)
	testenv.ExpectExit(t, "1 MiB with md5", code, 0, out, rs1+" up status=200 bytes=1048576", rs2+" up status=200 bytes=1048576")
	code, out = run(t, l.Master, nil, "http", "-B", testenv.ChunkedBody, "eth0", rs1, l.VIP, port, host, testenv.HTTPChunked)
	testenv.ExpectExit(t, "chunked", code, 0, out, rs1+" up status=200 bytes=32")
	code, out = run(t, l.Master, nil, "http", "-B", testenv.LFBody, "-R", "X-Check: lf", "eth0", rs1, l.VIP, port, host, testenv.HTTPLFOnly)
	testenv.ExpectExit(t, "LF-only raw response", code, 0, out, rs1+" up status=200")
	code, out = run(t, l.Master, nil, "http", "-M", "HEAD", "-R", "Content-Length: 1048576", "eth0", rs1, l.VIP, port, host, testenv.HTTPBig)
	testenv.ExpectExit(t, "HEAD", code, 0, out, rs1+" up status=200 bytes=0")
	code, out = run(t, l.Master, nil, "http", "-S", "302", "-R", "Location: /small", "eth0", rs1, l.VIP, port, host, testenv.HTTPRedirect)
	testenv.ExpectExit(t, "redirect not followed", code, 0, out, rs1+" up status=302")
	code, out = run(t, l.Master, nil, dropIn(t, "check_http_raw"), "-v", "-t", "500", "-S", "200", "-R", "X-Check: ok",
		"eth0", rs1, l.VIP, port, host, testenv.HTTPSmall)
	testenv.ExpectExit(t, "called as check_http_raw, -v verbose", code, 0, out, "VIPCHECK OK: 1 of 1 real servers up", "GET http://"+host+"/small")

	t.Run("TLS", func(t *testing.T) {
		code, out := run(t, l.Master, nil, "http", "--tls", "--ca", ca.CAFile, "-B", testenv.SmallBody,
			"eth0", both, l.VIP, tlsPort, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "verified", code, 0, out, rs1+" up status=200", rs2+" up status=200")
		code, out = run(t, l.Master, nil, "http", "--tls", "eth0", rs1, l.VIP, tlsPort, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "unknown CA", code, 1, out, rs1+" tls observed=", "unknown authority")
		code, out = run(t, l.Master, nil, "http", "--tls", "--ca", ca.CAFile, "eth0", rs1, l.VIP, tlsPort, "other.example.test", testenv.HTTPSmall)
		testenv.ExpectExit(t, "wrong name", code, 1, out, rs1+" tls observed=", "other.example.test")
		code, out = run(t, l.Master, nil, "http", "--tls", "--insecure", "eth0", rs1, l.VIP, tlsPort, "other.example.test", testenv.HTTPSmall)
		testenv.ExpectExit(t, "insecure", code, 0, out, rs1+" up status=200")
		code, out = run(t, l.Master, nil, "http", "--tls", "--insecure", "-t", "500", "eth0", rs1, l.VIP, port, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "TLS to a plain HTTP port", code, 1, out, rs1+" tls ")
	})

	t.Run("failures reported as such", func(t *testing.T) {
		code, out := run(t, l.Master, nil, "http", "eth0", rs1, l.VIP, port, host, testenv.HTTPMissing)
		testenv.ExpectExit(t, "wrong status", code, 1, out, rs1+` http-status observed="404"`)
		code, out = run(t, l.Master, nil, "http", "-R", "X-Absent: 1", "eth0", rs1, l.VIP, port, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "missing header", code, 1, out, rs1+` http-header observed="(no X-Absent)"`)
		code, out = run(t, l.Master, nil, "http", "-R", "X-Check: other", "eth0", rs1, l.VIP, port, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "header value", code, 1, out, rs1+` http-header observed="X-Check: ok"`)
		code, out = run(t, l.Master, nil, "http", "-B", "bye", "eth0", rs1, l.VIP, port, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "body mismatch", code, 1, out, rs1+` http-body observed="hello from the real server\n"`)
		code, out = run(t, l.Master, nil, "http", "-A", bigMD5, "eth0", rs1, l.VIP, port, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "md5 mismatch", code, 1, out, rs1+` http-body observed="md5=`+hex.EncodeToString(small[:]))
		code, out = run(t, l.Master, nil, "http", "--expect-regex", "^bye", "eth0", rs1, l.VIP, port, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "regex mismatch", code, 1, out, rs1+" http-body")
		code, out = run(t, l.Master, nil, "http", "--max-body", "1000", "eth0", rs1, l.VIP, port, host, testenv.HTTPBig)
		testenv.ExpectExit(t, "body cap", code, 1, out, rs1+` http-body observed="more than 1000 bytes"`)
		code, out = run(t, l.Master, nil, "http", "--exit-style", "nagios", "eth0", both, l.VIP, port, host, testenv.HTTPMissing)
		testenv.ExpectExit(t, "nagios", code, 2, out, "VIPCHECK CRITICAL: 0 of 2", rs1+" http-status")
		code, out = run(t, l.Master, nil, "http", "eth0", rs1, l.VIP, "8081", host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "refused", code, 1, out, rs1+" refused")
		code, out = run(t, l.Master, nil, "http", "-t", "200", "eth0", "10.206.0.99", l.VIP, port, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "no ARP", code, 1, out, "10.206.0.99 no-arp")
		code, out = run(t, l.Master, nil, "http", "-M", "POST", "eth0", rs1, l.VIP, port, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "bad method: a usage error", code, 2, out, "want GET or HEAD")
		code, out = run(t, l.Master, nil, "http", "-t", "18446744073710", "eth0", rs1, l.VIP, port, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "-t overflowing", code, 2, out, "out of range", "from 0s to 30s")
	})

	t.Run("VIP missing on rs1", func(t *testing.T) {
		l.RS[0].MustRun(t, "ip", "addr", "del", l.VIP+"/32", "dev", "lo")
		defer l.RS[0].MustRun(t, "ip", "addr", "add", l.VIP+"/32", "dev", "lo")
		code, out := run(t, l.Master, nil, "http", "-t", "400", "eth0", both, l.VIP, port, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "through the VIP", code, 1, out, rs1+" no-answer", rs2+" up status=200")
		// The real server's own address still serves HTTP: the point.
		code, out = run(t, l.Backup, nil, "http", "--role", "backup", "eth0", rs1, l.VIP, port, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "plain GET to the real server's address", code, 0, out, rs1+" up status=200", "connect=")
	})

	t.Run("from the backup balancer", func(t *testing.T) {
		// The backup's kernel answers every segment of the connection
		// with a RST towards the VIP; count those reaching the real
		// servers (none may: they go to the master, the VIP's owner).
		var resets [2]func() int
		for i := range l.RS {
			resets[i] = l.RSTCounter(t, l.RS[i], "input", "ip saddr 10.206.0.11")
		}
		code, out := run(t, l.Backup, nil, "http", "--role", "master", "-t", "5000", "-A", bigMD5, "eth0", both, l.VIP, port, host, testenv.HTTPBig)
		testenv.ExpectExit(t, "1 MiB from the backup", code, 0, out, rs1+" up status=200", rs2+" up status=200")
		code, out = run(t, l.Master, nil, "http", "-t", "5000", "-A", bigMD5, "eth0", l.RSAddr6[0]+","+l.RSAddr6[1], l.VIP6, port, host, testenv.HTTPBig)
		testenv.ExpectExit(t, "1 MiB from the master, IPv6", code, 0, out, l.RSAddr6[0]+" up status=200")
		for i := range l.RS {
			if n := resets[i](); n != 0 {
				t.Errorf("%d RSTs from the backup reached %s", n, l.RS[i].Name)
			}
		}
		// With --nft-guard the backup's kernel never sees the segments,
		// so it sends no RST at all (what protects a real server that
		// answers ARP for the VIP), and the table is gone afterwards.
		l.SetARPIgnore(0, 0)
		defer l.SetARPIgnore(0, 1)
		l.Backup.MustRun(t, "ip", "neigh", "flush", "dev", "eth0")
		backupRSTs := l.RSTCounter(t, l.Backup, "output", "")
		code, out = run(t, l.Backup, nil, "http", "--role", "master", "--nft-guard", "-t", "5000", "-A", bigMD5, "eth0", both, l.VIP, port, host, testenv.HTTPBig)
		testenv.ExpectExit(t, "1 MiB from the backup, guarded, rs1 leaking ARP", code, 0, out, rs1+" up status=200", rs2+" up status=200")
		if n := backupRSTs(); n != 0 {
			t.Errorf("the guarded backup's kernel sent %d RSTs", n)
		}
		if got := l.Backup.MustRun(t, "nft", "list", "tables"); strings.Contains(got, "ocfkit-vipcheck") {
			t.Errorf("guard table left behind:\n%s", got)
		}
		// A table left by a killed check (PID 2147483647 does not exist)
		// is removed by the next guarded check; others' tables stay.
		l.Backup.MustRun(t, "nft", "add", "table", "inet", "ocfkit-vipcheck-2147483647")
		l.Backup.MustRun(t, "nft", "add", "table", "inet", "ocfkit-vipcheck-1") // PID 1 lives
		code, out = run(t, l.Backup, nil, "http", "--nft-guard", "eth0", rs2, l.VIP, port, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "guarded, stale table", code, 0, out, rs2+" up status=200")
		got := l.Backup.MustRun(t, "nft", "list", "tables")
		if strings.Contains(got, "ocfkit-vipcheck-2147483647") || !strings.Contains(got, "ocfkit-vipcheck-1") {
			t.Errorf("stale guard tables: %s", got)
		}
		l.Backup.MustRun(t, "nft", "delete", "table", "inet", "ocfkit-vipcheck-1")
	})

	t.Run("30% loss", func(t *testing.T) {
		l.Loss(t, 8080, 30)
		// TCP under 30 % loss both ways backs off exponentially, so one
		// check in a few dozen can stall past any fixed limit: the claim
		// is that checks pass, counted per real server over four tries
		// (at least three), not that every one does.
		passed := map[string]int{}
		for range 4 {
			_, out := run(t, l.Master, nil, "http", "-t", "20000", "-B", testenv.SmallBody, "eth0", both, l.VIP, port, host, testenv.HTTPSmall)
			for _, rs := range []string{rs1, rs2} {
				if strings.Contains(out, rs+" up status=200") {
					passed[rs]++
				}
			}
		}
		for _, rs := range []string{rs1, rs2} {
			t.Logf("30 %% loss: %s passed %d of 4 checks", rs, passed[rs])
			if passed[rs] < 3 {
				t.Errorf("30 %% loss: %s passed only %d of 4 checks", rs, passed[rs])
			}
		}
		// Not 1 MiB: at 30 % per-segment loss the kernel's own TCP (a plain
		// GET from the backup role) does not finish it in 20 s either.
	})

	t.Run("IPv6 neighbour leak", func(t *testing.T) {
		// The arp-leak check with an IPv6 VIP: neighbour solicitations,
		// and every advertisement for the VIP (solicited or not) counts.
		code, out := run(t, l.Master, nil, "arp-leak", "-t", "300", "eth0", l.VIP6)
		testenv.ExpectExit(t, "VIP on the real servers' lo only", code, 0, out, "no other host answers")
		l.RS[0].MustRun(t, "ip", "addr", "add", l.VIP6+"/128", "dev", "eth0", "nodad")
		defer l.RS[0].MustRun(t, "ip", "addr", "del", l.VIP6+"/128", "dev", "eth0")
		code, out = run(t, l.Master, nil, "arp-leak", "-t", "300", "eth0", l.VIP6)
		testenv.ExpectExit(t, "VIP on rs1's eth0", code, 1, out, "neighbour leak: 1 host(s)", l.MAC(l.RS[0]).String())
		code, out = run(t, l.Backup, nil, "arp-leak", "-t", "300", "eth0", l.VIP6)
		testenv.ExpectExit(t, "from the backup", code, 1, out, l.MAC(l.RS[0]).String(), l.MAC(l.Master).String())
	})

	t.Run("IPv6", func(t *testing.T) {
		rs6 := l.RSAddr6[0] + "," + l.RSAddr6[1]
		code, out := run(t, l.Master, nil, "http", "-A", bigMD5, "eth0", rs6, l.VIP6, port, host, testenv.HTTPBig)
		testenv.ExpectExit(t, "1 MiB", code, 0, out, l.RSAddr6[0]+" up status=200", l.RSAddr6[1]+" up status=200")
		code, out = run(t, l.Master, nil, "http", "--tls", "--ca", ca.CAFile, "-B", testenv.ChunkedBody, "eth0", rs6, l.VIP6, tlsPort, host, testenv.HTTPChunked)
		testenv.ExpectExit(t, "TLS, chunked", code, 0, out, l.RSAddr6[0]+" up status=200")
		code, out = run(t, l.Master, nil, "http", "eth0", l.RSAddr6[0], l.VIP6, port, host, testenv.HTTPMissing)
		testenv.ExpectExit(t, "wrong status", code, 1, out, `http-status observed="404"`)
		// The guard's IPv6 rules: the backup's kernel sends no RST.
		// (Unguarded, it sent 56 for this check when measured.)
		backupRSTs := l.RSTCounter(t, l.Backup, "output", "")
		code, out = run(t, l.Backup, nil, "http", "--nft-guard", "-t", "5000", "-A", bigMD5, "eth0", rs6, l.VIP6, port, host, testenv.HTTPBig)
		testenv.ExpectExit(t, "1 MiB from the backup, guarded", code, 0, out, l.RSAddr6[0]+" up status=200", l.RSAddr6[1]+" up status=200")
		if n := backupRSTs(); n != 0 {
			t.Errorf("the guarded backup's kernel sent %d RSTs (IPv6)", n)
		}
		l.RS[1].MustRun(t, "ip", "addr", "del", l.VIP6+"/128", "dev", "lo")
		defer l.RS[1].MustRun(t, "ip", "addr", "add", l.VIP6+"/128", "dev", "lo", "nodad")
		code, out = run(t, l.Master, nil, "http", "-t", "400", "eth0", rs6, l.VIP6, port, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "VIP missing on rs2", code, 1, out, l.RSAddr6[0]+" up", l.RSAddr6[1]+" no-answer")
		code, out = run(t, l.Master, nil, "http", "--role", "backup", "eth0", l.RSAddr6[1], l.VIP6, port, host, testenv.HTTPSmall)
		testenv.ExpectExit(t, "plain GET to rs2's own address", code, 0, out, l.RSAddr6[1]+" up status=200")
	})
}
