// Package vipcheck_test benchmarks the LVS-DR probe against its physical
// limit, the veth round trip measured by ping in the same run, and against
// the C check_tcp_raw when this machine has it. Run with bench/vipcheck.sh
// (as root); each benchmark reports ratios as extra metrics.
package vipcheck_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
	"github.com/ocfkit/ocfkit/probe/vip"
)

// pingRTT returns the average round trip to addr from ns.
func pingRTT(b *testing.B, ns *testenv.NS, addr string) time.Duration {
	b.Helper()
	testenv.RequireCommand(b, "ping")
	out := ns.MustRun(b, "ping", "-q", "-c", "200", "-i", "0.002", addr)
	m := regexp.MustCompile(`= [0-9.]+/([0-9.]+)/`).FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("no RTT in ping output: %s", out)
	}
	ms, _ := strconv.ParseFloat(m[1], 64)
	return time.Duration(ms * float64(time.Millisecond))
}

func probe(b *testing.B, l *testenv.LVSDR, targets []vip.Target, source netip.Addr) []vip.Result {
	return probeWithin(b, l, targets, source, 2*time.Second)
}

// probeWithin probes targets from the master within timeout; every one
// must be up.
func probeWithin(b *testing.B, l *testenv.LVSDR, targets []vip.Target, source netip.Addr, timeout time.Duration) []vip.Result {
	var res []vip.Result
	err := l.Master.Within(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		res, err = vip.Probe(ctx, vip.Config{Interface: ifi, VIP: netip.MustParseAddr(l.VIP), Port: uint16(l.Port), Source: source}, targets)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range res {
		if r.Status != vip.Up {
			b.Fatalf("%v: %v", r.Target, r.Status)
		}
	}
	return res
}

// BenchmarkProbeOne probes one real server per iteration, in process: SYN
// to SYN-ACK against the ping round trip, and the whole call (sockets, ARP,
// SYN, RST) against it.
func BenchmarkProbeOne(b *testing.B) {
	l := testenv.NewLVSDR(b, "vcb")
	ping := pingRTT(b, l.Master, l.RSAddr[0])
	targets := []vip.Target{{Addr: netip.MustParseAddr(l.RSAddr[0])}}
	var rtt time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rtt += probe(b, l, targets, netip.Addr{})[0].RTT
	}
	b.StopTimer()
	perCall := b.Elapsed() / time.Duration(b.N)
	mean := rtt / time.Duration(b.N)
	b.ReportMetric(float64(ping.Microseconds()), "ping-µs")
	b.ReportMetric(float64(mean.Microseconds()), "syn-rtt-µs")
	b.ReportMetric(float64(mean)/float64(ping), "syn-rtt/ping")
	b.ReportMetric(float64(perCall)/float64(ping), "call/ping")
}

// BenchmarkProbe256 probes 256 real-server addresses in one call (goal:
// under 0.5 s wall).
func BenchmarkProbe256(b *testing.B) {
	l := testenv.NewLVSDR(b, "vcb")
	var targets []vip.Target
	for _, a := range l.AddRealServerAddresses(128) {
		targets = append(targets, vip.Target{Addr: netip.MustParseAddr(a)})
	}
	src := netip.MustParseAddr(testenv.ManySource)
	ping := pingRTT(b, l.Master, l.RSAddr[0])
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		probe(b, l, targets, src)
	}
	b.StopTimer()
	perCall := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(perCall.Seconds(), "s/256-servers")
	b.ReportMetric(perCall.Seconds()/0.5, "of-0.5s-goal")
	b.ReportMetric(float64(perCall)/float64(256*ping), "call/(256×ping)")
}

// BenchmarkProbe10000 probes 10,000 real-server addresses in one call with
// a time limit of 1 s: every one must be up, and the call must end within
// the limit plus 10 % (the of-1.1s-goal metric at most 1).
func BenchmarkProbe10000(b *testing.B) {
	const n, limit = 10000, time.Second
	l := testenv.NewLVSDR(b, "vcb")
	var targets []vip.Target
	for _, a := range l.AddRealServerAddresses(n / len(l.RS)) {
		targets = append(targets, vip.Target{Addr: netip.MustParseAddr(a)})
	}
	src := netip.MustParseAddr(testenv.ManySource)
	var slowest time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		probeWithin(b, l, targets, src, limit)
		slowest = max(slowest, time.Since(start))
	}
	b.StopTimer()
	perCall := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(perCall.Seconds(), "s/10000-servers")
	b.ReportMetric(slowest.Seconds(), "slowest-s")
	b.ReportMetric(slowest.Seconds()/(1.1*limit.Seconds()), "of-1.1s-goal")
	if slowest > limit+limit/10 {
		b.Errorf("a call took %v, over the limit of %v plus 10 %%", slowest, limit)
	}
}

// BenchmarkCommand runs the ocf-vipcheck binary once per iteration, as
// keepalived does, and check_tcp_raw the same way when it is installed:
// the two alternate, each started directly in the master's namespace (not
// through ip netns exec, whose own cost would hide the difference), and
// each one's median whole-process wall time counts. It logs the start-up
// line bench/vipcheck.sh prints.
func BenchmarkCommand(b *testing.B) {
	l := testenv.NewLVSDR(b, "vcb")
	bin := buildBinary(b)
	ping := pingRTT(b, l.Master, l.RSAddr[0])
	cmds := [][]string{{bin, "tcp", "eth0", l.RSAddr[0], l.VIP, "80"}}
	peer, err := exec.LookPath("check_tcp_raw")
	if err == nil {
		cmds = append(cmds, []string{peer, "eth0", l.RSAddr[0], l.VIP, "80"})
	}
	b.ResetTimer()
	medians := medianRuns(b, l.Master, b.N, cmds...)
	b.StopTimer()
	ours := medians[0]
	b.ReportMetric(float64(ours.Microseconds()), "ocf-vipcheck-µs")
	b.ReportMetric(float64(ours)/float64(ping), "ocf-vipcheck/ping")
	if len(medians) == 1 {
		b.Log("check_tcp_raw is not on PATH: no comparison with the C peer")
		return
	}
	theirs := medians[1]
	b.ReportMetric(float64(theirs.Microseconds()), "check_tcp_raw-µs")
	b.ReportMetric(float64(ours)/float64(theirs), "ocf-vipcheck/check_tcp_raw")
	b.Logf("tcp one real server: ours %.1f ms, check_tcp_raw %.1f ms, ratio %.2f (goal at most 0.5; medians of %d)",
		ms(ours), ms(theirs), float64(ours)/float64(theirs), b.N)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// medianRuns runs each command n times in ns, the commands alternating, and
// returns each one's median whole-process wall time. Every run must
// succeed.
func medianRuns(b *testing.B, ns *testenv.NS, n int, cmds ...[]string) []time.Duration {
	b.Helper()
	times := make([][]time.Duration, len(cmds))
	err := ns.Within(func() error {
		for range n {
			for i, c := range cmds {
				start := time.Now()
				out, err := exec.Command(c[0], c[1:]...).CombinedOutput()
				if err != nil {
					return fmt.Errorf("%s: %w\n%s", strings.Join(c, " "), err, out)
				}
				times[i] = append(times[i], time.Since(start))
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	medians := make([]time.Duration, len(cmds))
	for i, t := range times {
		slices.Sort(t)
		medians[i] = t[len(t)/2]
	}
	return medians
}

// buildBinary builds ocf-vipcheck as `make build` does, for the benchmark.
func buildBinary(b *testing.B) string {
	b.Helper()
	bin, err := testenv.Build(b.TempDir(), "./cmd/ocf-vipcheck")
	if err != nil {
		b.Fatal(err)
	}
	return bin
}
