// Package dnsfailover_test benchmarks dns-failover, as root, in
// namespaces: see bench/dnsfailover.sh.
//
//	BenchmarkThousandMembers  1,000 members (100 names of 10) checked every
//	                          second against one BIND primary: CPU (% of one
//	                          core), peak RSS (goal < 20 %, < 40 MiB) and
//	                          open fds; polling, watched (1,000 idle
//	                          connections), and watched by a server that
//	                          closes each at once (early checks every interval)
//	BenchmarkVersusPowerDNS   three HTTP members; the same member killed
//	                          under both: seconds until dig stops returning
//	                          it from both our BIND primaries (check every
//	                          1 s; fall 1, or fall 2 with fast_interval
//	                          250 ms; each polling only, or with watch =
//	                          true) and from PowerDNS 4.7 Lua ifportup
//	                          (lua-health-checks-interval=1): mean and max
//	                          of each, and the ratio of the means
package dnsfailover_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	// go test ./... runs no benchmark here: build only for -bench.
	if flag.Lookup("test.bench").Value.String() == "" {
		os.Exit(m.Run())
	}
	os.Exit(testenv.MainBuilt(m, "dns-failover-bench-", func(bins []string) { bin = bins[0] }, "./cmd/dns-failover"))
}

const zone = "bench.test."

func must(b testing.TB, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// startNamed starts a BIND primary at addr in ns serving zone with the
// given records and an update-policy for key, and waits for it.
func startNamed(b testing.TB, ns *testenv.NS, dir, addr, key, records string) {
	b.Helper()
	d := filepath.Join(dir, "named-"+addr)
	must(b, os.MkdirAll(d, 0o700))
	z := fmt.Sprintf("$TTL 60\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A %s\n%s", addr, records)
	must(b, os.WriteFile(filepath.Join(d, "zone"), []byte(z), 0o644))
	conf := fmt.Sprintf(`options { directory "%[1]s"; pid-file "%[1]s/named.pid"; session-keyfile "%[1]s/s.key";
	listen-on port 53 { %[2]s; }; listen-on-v6 { none; }; recursion no; notify no; dnssec-validation no; };
controls { };
include "%[3]s";
zone "%[4]s" { type primary; file "%[1]s/zone"; update-policy { grant dns-failover zonesub A; }; };
`, d, addr, key, zone)
	must(b, os.WriteFile(filepath.Join(d, "named.conf"), []byte(conf), 0o600))
	ns.Start(b, "named", "-g", "-c", filepath.Join(d, "named.conf"))
	testenv.WaitFor(b, 20*time.Second, "named", func() error {
		return ns.Command("dig", "+short", "+time=1", "+tries=1", "@"+addr, "ns1."+zone).Run()
	})
}

func keygen(b testing.TB, dir string) string {
	out, err := exec.Command("tsig-keygen", "-a", "hmac-sha256", "dns-failover").Output()
	must(b, err)
	p := filepath.Join(dir, "key")
	must(b, os.WriteFile(p, out, 0o600))
	return p
}

// cpuRSS reads a process's CPU time (user+system) and peak RSS.
func cpuRSS(b testing.TB, pid int) (time.Duration, int64) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	must(b, err)
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(b, err)
	var hwm int64
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			hwm, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, hwm * 1024 // USER_HZ 100
}

// BenchmarkThousandMembers: 100 names of 10 members each on one listener
// (a /22 on the loopback is all local), checked every second: polling
// only; watched, the server holding the idle connections (1,000 of them);
// and watched, the server closing every connection after its banner (each
// watch ends at once: the worst case of early checks, one per member and
// interval).
func BenchmarkThousandMembers(b *testing.B) {
	for _, v := range []struct{ name, watch, hold string }{
		{"poll", "false", "0"},
		{"watch-held", "true", "1"},
		{"watch-closed-at-once", "true", "0"},
	} {
		b.Run(v.name, func(b *testing.B) { thousand(b, v.watch, v.hold) })
	}
}

// thousand runs one variant of BenchmarkThousandMembers.
func thousand(b *testing.B, watch, hold string) {
	testenv.RequireRoot(b)
	testenv.RequireCommand(b, "named")
	dir := b.TempDir()
	ns := testenv.NewNS(b, "dfb")
	ns.MustRun(b, "ip", "addr", "add", "10.70.0.0/22", "dev", "lo")
	ns.MustRun(b, "ip", "addr", "add", "10.53.0.1/32", "dev", "lo")
	// One banner server answers every member address; with hold it keeps
	// each connection until the client closes it.
	py := testenv.Python3(b)
	ns.Start(b, py, "-c", `import asyncio, resource, sys
hold = sys.argv[1] == "1"
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
async def h(r, w):
    w.write(b"220 bench\r\n")
    try:
        await w.drain()
        if hold:
            while await r.read(4096):
                pass
        w.close()
    except Exception: pass
async def main():
    s = await asyncio.start_server(h, "0.0.0.0", 25, backlog=1024)
    await s.serve_forever()
asyncio.run(main())`, hold)
	testenv.WaitFor(b, 10*time.Second, "banner server", func() error {
		return ns.Command("bash", "-c", "exec 3<>/dev/tcp/10.70.0.1/25").Run()
	})
	key := keygen(b, dir)
	var records, conf strings.Builder
	fmt.Fprintf(&conf, "primaries = [\"10.53.0.1\"]\nzone = %q\ntsig_key = %q\nstate_file = %q\ninterval = \"1s\"\ntimeout = \"800ms\"\nwatch = %s\n",
		zone, key, filepath.Join(dir, "state"), watch)
	for n := 0; n < 100; n++ {
		fmt.Fprintf(&conf, "[[record]]\nname = \"n%d.%s\"\ncheck = { type = \"send-expect\", port = \"smtp\", expect = \"220\" }\n", n, zone)
		for m := 0; m < 10; m++ {
			a := fmt.Sprintf("10.70.%d.%d", (n*10+m)/250, (n*10+m)%250+1)
			fmt.Fprintf(&records, "n%d IN A %s\n", n, a)
			fmt.Fprintf(&conf, "[[record.member]]\naddress = %q\n", a)
		}
	}
	startNamed(b, ns, dir, "10.53.0.1", key, records.String())
	cf := filepath.Join(dir, "dns-failover.toml")
	must(b, os.WriteFile(cf, []byte(conf.String()), 0o600))
	const window = 20 * time.Second
	for range b.N {
		cmd := ns.Command(bin, "run", "-c", cf)
		cmd.Env = append(os.Environ(), "HA_LOGFACILITY=none")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		must(b, testenv.StartTied(cmd))
		// Warm-up: the first round (the state file appears), then one more.
		testenv.WaitFor(b, 30*time.Second, "first round", func() error {
			_, err := os.Stat(filepath.Join(dir, "state"))
			return err
		})
		time.Sleep(time.Second) // measurement: the steady state from here
		cpu0, _ := cpuRSS(b, cmd.Process.Pid)
		t0 := time.Now()
		time.Sleep(window)
		cpu1, rss := cpuRSS(b, cmd.Process.Pid)
		wall := time.Since(t0)
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
		must(b, err)
		testenv.Kill(cmd)
		if strings.Contains(out.String(), "deleted") {
			b.Fatalf("a healthy member was deleted:\n%s", out.String())
		}
		pct := 100 * float64(cpu1-cpu0) / float64(wall)
		b.ReportMetric(pct, "%cpu-of-core")
		b.ReportMetric(float64(rss)/(1<<20), "MiB-peak-rss")
		b.ReportMetric(pct/20, "of-20%-goal")
		b.ReportMetric(float64(rss)/(1<<20)/40, "of-40MiB-goal")
		b.ReportMetric(float64(len(fds)), "fds-at-end")
		st, err := os.ReadFile(filepath.Join(dir, "state"))
		must(b, err)
		b.Logf("fds open at the end: %d; state: %s", len(fds), strings.Join(strings.Fields(string(st[:min(len(st), 80)])), " "))
	}
}

// dig returns the sorted A records of name at server, from inside ns.
func dig(ns *testenv.NS, server, name string) string {
	out, err := ns.Command("dig", "+short", "+time=1", "+tries=1", "@"+server, name, "A").Output()
	if err != nil {
		return "error"
	}
	f := strings.Fields(string(out))
	sort.Strings(f)
	return strings.Join(f, " ")
}

// BenchmarkVersusPowerDNS kills the same member under dns-failover (BIND
// primaries, check every 1 s, each variant of fall and watch) and PowerDNS 4.7's Lua ifportup
// (lua-health-checks-interval=1) and reports the seconds until dig stops
// returning it from each, and PowerDNS's answer before its first check.
func BenchmarkVersusPowerDNS(b *testing.B) {
	testenv.RequireRoot(b)
	for _, c := range []string{"named", "pdns_server", "pdnsutil", "sqlite3", "dig"} {
		testenv.RequireCommand(b, c)
	}
	dir := b.TempDir()
	must(b, os.Chmod(dir, 0o755))
	ns := testenv.NewNS(b, "dfp")
	members := []string{"10.71.0.1", "10.71.0.2", "10.71.0.3"}
	for _, a := range append([]string{"10.53.0.1", "10.53.0.2", "10.53.0.3"}, members...) {
		ns.MustRun(b, "ip", "addr", "add", a+"/32", "dev", "lo")
	}
	web := filepath.Join(dir, "web")
	must(b, os.MkdirAll(web, 0o755))
	must(b, os.WriteFile(filepath.Join(web, "robots.txt"), []byte("httpd is working\n"), 0o644))
	py := testenv.Python3(b)
	procs := map[string]*exec.Cmd{}
	start := func(a string) {
		procs[a] = ns.Start(b, py, "-m", "http.server", "--bind", a, "--directory", web, "80")
		testenv.WaitFor(b, 10*time.Second, "member "+a, func() error {
			return ns.Command("bash", "-c", "exec 3<>/dev/tcp/"+a+"/80").Run()
		})
	}
	for _, a := range members {
		start(a)
	}
	key := keygen(b, dir)
	var rr strings.Builder
	for _, a := range members {
		fmt.Fprintf(&rr, "www IN A %s\n", a)
	}
	startNamed(b, ns, dir, "10.53.0.1", key, rr.String())
	startNamed(b, ns, dir, "10.53.0.3", key, rr.String())

	// PowerDNS with the same members in a Lua record.
	pd := filepath.Join(dir, "pdns")
	must(b, os.MkdirAll(pd, 0o755))
	lua := "'" + strings.Join(members, "','") + "'"
	must(b, os.WriteFile(filepath.Join(pd, "zone"), []byte(fmt.Sprintf(
		"$ORIGIN %[1]s\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 10.53.0.2\n"+
			"www-all 1 IN LUA A \"ifportup(80, {%[2]s}, {selector='all'})\"\n", zone, lua)), 0o644))
	must(b, os.WriteFile(filepath.Join(pd, "pdns.conf"), []byte(fmt.Sprintf(
		"config-dir=%[1]s\nsocket-dir=%[1]s\ndaemon=no\nguardian=no\ndisable-syslog=yes\nlocal-address=10.53.0.2\nlocal-port=53\n"+
			"launch=gsqlite3\ngsqlite3-database=%[1]s/pdns.sqlite3\nwebserver=no\napi=no\nenable-lua-records=yes\n"+
			"lua-health-checks-interval=1\nlua-health-checks-expire-delay=3600\n", pd)), 0o644))
	schema := "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"
	if _, err := os.Stat(schema); err != nil {
		schema = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"
	}
	sq := exec.Command("sqlite3", filepath.Join(pd, "pdns.sqlite3"))
	sqf, err := os.Open(schema)
	must(b, err)
	sq.Stdin = sqf
	if out, err := sq.CombinedOutput(); err != nil {
		b.Fatalf("sqlite3 schema: %v %s", err, out)
	}
	if out, err := exec.Command("pdnsutil", "--config-dir="+pd, "load-zone", zone, filepath.Join(pd, "zone")).CombinedOutput(); err != nil {
		b.Fatalf("pdnsutil: %v %s", err, out)
	}
	ns.Start(b, "pdns_server", "--config-dir="+pd)
	testenv.WaitFor(b, 20*time.Second, "pdns_server", func() error {
		if dig(ns, "10.53.0.2", "ns1."+zone) == "10.53.0.2" {
			return nil
		}
		return fmt.Errorf("not yet")
	})
	first := dig(ns, "10.53.0.2", "www-all."+zone)
	b.Logf("PowerDNS's first answer, before its first check round: %q", first)
	all := strings.Join(members, " ")
	testenv.WaitFor(b, 20*time.Second, "PowerDNS sees every member up", func() error {
		if got := dig(ns, "10.53.0.2", "www-all."+zone); got != all {
			return fmt.Errorf("www-all: %s", got)
		}
		return nil
	})

	// Ours, checking every second as PowerDNS does: one failed check takes
	// a member out (as ifportup), or two, the second fast_interval later;
	// polling only, or also watching an idle connection to each member
	// (the kill closes it: the member is checked at once).
	for _, v := range []struct{ name, timing string }{
		{"fall1", "rise = 1\nfall = 1"},
		{"fall2-fast250ms", "rise = 2\nfall = 2\nfast_interval = \"250ms\""},
		{"fall1-watch", "rise = 1\nfall = 1\nwatch = true"},
		{"fall2-fast250ms-watch", "rise = 2\nfall = 2\nfast_interval = \"250ms\"\nwatch = true"},
	} {
		b.Run(v.name, func(b *testing.B) { compare(b, ns, dir, key, v.timing, members, procs, start) })
	}
}

// compare runs dns-failover with timing against the running PowerDNS and
// kills members b.N times.
func compare(b *testing.B, ns *testenv.NS, dir, key, timing string, members []string, procs map[string]*exec.Cmd, start func(string)) {
	all := strings.Join(members, " ")
	state := filepath.Join(dir, strings.ReplaceAll(b.Name(), "/", "-")+".state")
	conf := fmt.Sprintf("primaries = [\"10.53.0.1\", \"10.53.0.3\"]\nzone = %q\ntsig_key = %q\nstate_file = %q\ninterval = \"1s\"\ntimeout = \"500ms\"\n"+
		"%s\nmax_removals = 0\n[[record]]\nname = \"www.%s\"\n"+
		"check = { type = \"send-expect\", port = \"http\", send = \"GET /robots.txt HTTP/1.0\", expect = \"httpd is working\" }\n",
		zone, key, state, timing, zone)
	for _, a := range members {
		conf += fmt.Sprintf("[[record.member]]\naddress = %q\n", a)
	}
	cf := state + ".toml"
	must(b, os.WriteFile(cf, []byte(conf), 0o600))
	cmd := ns.Command(bin, "run", "-c", cf)
	cmd.Env = append(os.Environ(), "HA_LOGFACILITY=none", "HA_debug="+os.Getenv("DNSFO_DEBUG"))
	var daemonOut strings.Builder
	cmd.Stdout, cmd.Stderr = &daemonOut, &daemonOut
	must(b, testenv.StartTied(cmd))
	defer func() {
		testenv.Kill(cmd)
		if os.Getenv("DNSFO_DEBUG") == "1" {
			b.Log(daemonOut.String())
		}
	}()
	testenv.WaitFor(b, 30*time.Second, "first round", func() error {
		_, err := os.Stat(state)
		return err
	})

	var ours, theirs []time.Duration
	b.ResetTimer()
	for i := range b.N {
		victim := members[i%len(members)]
		// The return was seen right after one of our rounds: kill at a
		// random phase of the interval, or every kill would wait a whole one.
		time.Sleep(rand.N(time.Second))
		t0 := time.Now()
		testenv.Kill(procs[victim])
		var tOurs, tTheirs time.Duration
		testenv.WaitFor(b, 30*time.Second, "both drop "+victim, func() error {
			if tOurs == 0 && !strings.Contains(dig(ns, "10.53.0.1", "www."+zone), victim) &&
				!strings.Contains(dig(ns, "10.53.0.3", "www."+zone), victim) {
				tOurs = time.Since(t0)
			}
			if tTheirs == 0 && !strings.Contains(dig(ns, "10.53.0.2", "www-all."+zone), victim) {
				tTheirs = time.Since(t0)
			}
			if tOurs == 0 || tTheirs == 0 {
				return fmt.Errorf("ours %v, PowerDNS %v", tOurs, tTheirs)
			}
			return nil
		})
		ours, theirs = append(ours, tOurs), append(theirs, tTheirs)
		b.Logf("run %d, %s killed: gone from both our BIND primaries after %v, from PowerDNS after %v", i+1, victim, tOurs.Round(time.Millisecond), tTheirs.Round(time.Millisecond))
		start(victim)
		testenv.WaitFor(b, 30*time.Second, "both return "+victim, func() error {
			if dig(ns, "10.53.0.1", "www."+zone) != all || dig(ns, "10.53.0.3", "www."+zone) != all || dig(ns, "10.53.0.2", "www-all."+zone) != all {
				return fmt.Errorf("not yet")
			}
			return nil
		})
	}
	b.StopTimer()
	mean := func(d []time.Duration) float64 {
		var s time.Duration
		for _, x := range d {
			s += x
		}
		return s.Seconds() / float64(len(d))
	}
	maxOf := func(d []time.Duration) float64 {
		var m time.Duration
		for _, x := range d {
			m = max(m, x)
		}
		return m.Seconds()
	}
	b.ReportMetric(mean(ours), "s-ours-mean")
	b.ReportMetric(maxOf(ours), "s-ours-max")
	b.ReportMetric(mean(theirs), "s-pdns-mean")
	b.ReportMetric(maxOf(theirs), "s-pdns-max")
	b.ReportMetric(mean(ours)/mean(theirs), "ours/pdns")
	b.ReportMetric(maxOf(ours)/maxOf(theirs), "ours/pdns-max")
}
