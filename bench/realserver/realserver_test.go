// Package realserver_test benchmarks ocf-realserver against the vendors'
// shell scripts, measured in the same run: see bench/realserver.sh.
package realserver_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// ifupLo is the vendors' ifup-lo as their documentation describes it: each
// line of vipaddrs an address or a subnet, a /24 expanded in a loop, one
// `ip address add VIP/32 dev lo` per address, then the ARP sysctls.
const ifupLo = `#!/bin/bash
while read -r line; do
  line=${line%%#*}; line=${line// /}
  [ -z "$line" ] && continue
  case $line in
  */24) base=${line%.*/24}; for i in $(seq 0 255); do ip address add "$base.$i/32" dev lo; done ;;
  */*) ip address add "$line" dev lo ;;
  *) ip address add "$line/32" dev lo ;;
  esac
done < "$1"
for c in all default lo; do
  echo 1 > /proc/sys/net/ipv4/conf/$c/arp_ignore
  echo 2 > /proc/sys/net/ipv4/conf/$c/arp_announce
done
`

// ifdownLo deletes the same addresses and resets the sysctls to 0.
const ifdownLo = `#!/bin/bash
while read -r line; do
  line=${line%%#*}; line=${line// /}
  [ -z "$line" ] && continue
  case $line in
  */24) base=${line%.*/24}; for i in $(seq 0 255); do ip address del "$base.$i/32" dev lo; done ;;
  */*) ip address del "$line" dev lo ;;
  *) ip address del "$line/32" dev lo ;;
  esac
done < "$1"
for c in all default lo; do
  echo 0 > /proc/sys/net/ipv4/conf/$c/arp_ignore
  echo 0 > /proc/sys/net/ipv4/conf/$c/arp_announce
done
`

// statusLo is the shell's fairest monitor: one listing of lo, every
// address of the file looked up in it, and the two sysctls of all.
const statusLo = `#!/bin/bash
have=$(ip -o -4 addr show dev lo | awk '{print $4}')
while read -r line; do
  line=${line%%#*}; line=${line// /}
  [ -z "$line" ] && continue
  base=${line%.*/24}
  for i in $(seq 0 255); do echo "$base.$i/32"; done
done < "$1" | awk 'NR==FNR {h[$1]=1; next} !($1 in h) {print "missing " $1; bad=1} END {exit bad}' <(echo "$have") -
[ "$(cat /proc/sys/net/ipv4/conf/all/arp_ignore)" = 1 ] && [ "$(cat /proc/sys/net/ipv4/conf/all/arp_announce)" = 2 ]
`

var bin string

func TestMain(m *testing.M) {
	os.Exit(testenv.MainBuilt(m, "ocf-realserver-bench-", func(bins []string) { bin = bins[0] }, "./cmd/ocf-realserver"))
}

// setup returns a namespace, the vipaddrs file of four /24s (1,024
// addresses), the shell scripts and the agent's environment.
type setup struct {
	ns                     *testenv.NS
	vipaddrs, up, down, st string
	env                    []string
}

func newSetup(b *testing.B) *setup {
	b.Helper()
	testenv.RequireRoot(b)
	s := &setup{ns: testenv.NewNS(b, "rsb")}
	dir := b.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			b.Fatal(err)
		}
		return p
	}
	s.vipaddrs = write("vipaddrs", "# four /24s\n10.20.0.0/24\n10.20.1.0/24\n10.20.2.0/24\n10.20.3.0/24\n", 0o600)
	s.up, s.down, s.st = write("ifup-lo", ifupLo, 0o700), write("ifdown-lo", ifdownLo, 0o700), write("status-lo", statusLo, 0o700)
	s.env = append(os.Environ(), "HA_RSCTMP="+filepath.Join(dir, "rsc"), "OCF_RESOURCE_INSTANCE=bench",
		"OCF_RESKEY_vipaddrs="+s.vipaddrs, "HA_LOGFACILITY=none", "OCF_RESKEY_CRM_meta_interval=10000")
	return s
}

// timed runs a command in the namespace and returns its wall time.
func (s *setup) timed(b *testing.B, name string, args ...string) time.Duration {
	b.Helper()
	cmd := s.ns.Command(name, args...)
	cmd.Env = s.env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return d
}

// count returns how many IPv4 addresses lo holds.
func (s *setup) count(b *testing.B) int {
	b.Helper()
	return strings.Count(s.ns.MustRun(b, "ip", "-o", "-4", "addr", "show", "dev", "lo"), "\n")
}

// BenchmarkStart1024 starts 1,024 addresses (four /24s) with the agent and
// with the shell ifup-lo, and stops them with the agent and ifdown-lo, in
// the same run. Metrics: mean wall times, shell/agent ratios, and the
// agent's start as a fraction of its 0.5 s goal.
func BenchmarkStart1024(b *testing.B) {
	s := newSetup(b)
	var start, stop, up, down time.Duration
	for i := 0; i < b.N; i++ {
		start += s.timed(b, bin, "start")
		if n := s.count(b); n != 1025 {
			b.Fatalf("after start lo has %d IPv4 addresses, want 1025", n)
		}
		stop += s.timed(b, bin, "stop")
		up += s.timed(b, "bash", s.up, s.vipaddrs)
		if n := s.count(b); n != 1025 {
			b.Fatalf("after ifup-lo lo has %d IPv4 addresses, want 1025", n)
		}
		down += s.timed(b, "bash", s.down, s.vipaddrs)
	}
	n := time.Duration(b.N)
	b.ReportMetric(float64((start / n).Milliseconds()), "start-ms")
	b.ReportMetric(float64((up / n).Milliseconds()), "ifup-lo-ms")
	b.ReportMetric(float64(up)/float64(start), "ifup-lo/start")
	b.ReportMetric(float64(start/n)/float64(500*time.Millisecond), "start-of-0.5s-goal")
	b.ReportMetric(float64((stop / n).Milliseconds()), "stop-ms")
	b.ReportMetric(float64((down / n).Milliseconds()), "ifdown-lo-ms")
	b.ReportMetric(float64(down)/float64(stop), "ifdown-lo/stop")
}

// BenchmarkMonitor1024 runs the agent's monitor of 1,024 addresses (depth
// 0, and depth 10) against the shell's one-listing status, in the same
// run.
func BenchmarkMonitor1024(b *testing.B) {
	s := newSetup(b)
	s.timed(b, bin, "start")
	var mon, deep, sh time.Duration
	for i := 0; i < b.N; i++ {
		mon += s.timed(b, bin, "monitor")
		deep += s.timed(b, "env", "OCF_CHECK_LEVEL=10", bin, "monitor")
		sh += s.timed(b, "bash", s.st, s.vipaddrs)
	}
	s.timed(b, bin, "stop")
	n := time.Duration(b.N)
	b.ReportMetric(float64((mon/n).Microseconds())/1000, "monitor-ms")
	b.ReportMetric(float64((deep/n).Microseconds())/1000, "monitor10-ms")
	b.ReportMetric(float64((sh/n).Microseconds())/1000, "shell-status-ms")
	b.ReportMetric(float64(sh)/float64(mon), "shell/monitor")
	b.ReportMetric(float64(mon/n)/float64(50*time.Millisecond), "monitor-of-50ms-goal")
}
