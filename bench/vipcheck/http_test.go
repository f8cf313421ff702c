package vipcheck_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// runMeasured runs the command n times in ns and returns the mean wall
// time and the largest peak resident set (KiB) of one run.
func runMeasured(b *testing.B, ns *testenv.NS, n int, name string, args ...string) (time.Duration, int64) {
	b.Helper()
	var maxRSS int64
	start := time.Now()
	for i := 0; i < n; i++ {
		cmd := ns.Command(name, args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > maxRSS {
			maxRSS = ru.Maxrss
		}
	}
	return time.Since(start) / time.Duration(n), maxRSS
}

// BenchmarkHTTPCommand runs `ocf-vipcheck http` (full connection through
// the VIP on the userspace stack, GET of a small body, and a 1 MiB one)
// against `ocf-vipcheck tcp` (SYN probe) in the same run: wall time and
// peak memory per process, and their ratios.
func BenchmarkHTTPCommand(b *testing.B) {
	l := testenv.NewLVSDR(b, "vcb")
	bin := buildBinary(b)
	l.StartHTTP(0, 8080, "", "")
	b.ResetTimer()
	tcp, tcpRSS := runMeasured(b, l.Master, b.N, bin, "tcp", "eth0", l.RSAddr[0], l.VIP, "80")
	web, webRSS := runMeasured(b, l.Master, b.N, bin, "http", "eth0", l.RSAddr[0], l.VIP, "8080", "www.example.test", testenv.HTTPSmall)
	big, bigRSS := runMeasured(b, l.Master, b.N, bin, "http", "-t", "5000", "eth0", l.RSAddr[0], l.VIP, "8080", "www.example.test", testenv.HTTPBig)
	b.StopTimer()
	b.ReportMetric(float64(tcp.Microseconds()), "tcp-µs")
	b.ReportMetric(float64(web.Microseconds()), "http-µs")
	b.ReportMetric(float64(big.Microseconds()), "http-1MiB-µs")
	b.ReportMetric(float64(web)/float64(tcp), "http/tcp")
	b.ReportMetric(float64(tcpRSS), "tcp-maxrss-KiB")
	b.ReportMetric(float64(webRSS), "http-maxrss-KiB")
	b.ReportMetric(float64(bigRSS), "http-1MiB-maxrss-KiB")
	b.ReportMetric(float64(webRSS)/float64(tcpRSS), "http/tcp-rss")
}

// BenchmarkHTTP64 checks 64 real-server addresses over HTTP in one call
// (32 addresses on each of the two real servers), against the tcp check of
// the same 64.
func BenchmarkHTTP64(b *testing.B) {
	l := testenv.NewLVSDR(b, "vcb")
	bin := buildBinary(b)
	for i := range l.RS {
		l.StartHTTP(i, 8080, "", "")
	}
	list := strings.Join(l.AddRealServerAddresses(32), ",")
	b.ResetTimer()
	web, webRSS := runMeasured(b, l.Master, b.N, bin, "http", "-t", "5000", "--source", testenv.ManySource, "eth0", list, l.VIP, "8080", "www.example.test", testenv.HTTPSmall)
	tcp, tcpRSS := runMeasured(b, l.Master, b.N, bin, "tcp", "-t", "5000", "--source", testenv.ManySource, "eth0", list, l.VIP, "80")
	b.StopTimer()
	b.ReportMetric(web.Seconds(), "s/64-http")
	b.ReportMetric(tcp.Seconds(), "s/64-tcp")
	b.ReportMetric(float64(web)/float64(tcp), "http/tcp")
	b.ReportMetric(float64(webRSS), "http-maxrss-KiB")
	b.ReportMetric(float64(tcpRSS), "tcp-maxrss-KiB")
}
