// Package sockd benchmarks ocf-sockd against ocf:heartbeat:anything, the
// PID-only agent operators use for Dante otherwise, on the same danted in
// the same run. Run as root:
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/sockd/
//
// It prints the median wall time of 20 runs of each action and its ratio
// to anything's monitor, and the peak memory (maximum resident set) of one
// run. Targets: depth 0 at most 0.5x, depth 20 with TCP and UDP at most 2x.
package sockd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

const runs = 20

// measurement is the median wall time and peak memory of repeated runs.
type measurement struct {
	median time.Duration
	maxRSS int64 // KiB
}

func BenchmarkMonitor(b *testing.B) {
	testenv.RequireRoot(b)
	danted := testenv.RequireCommand(b, "danted")
	anything := "/usr/lib/ocf/resource.d/heartbeat/anything"
	if _, err := os.Stat(anything); err != nil {
		b.Skip("resource-agents' anything agent is not installed")
	}
	dir := b.TempDir()
	agent, err := testenv.Build(dir, "./cmd/ocf-sockd")
	if err != nil {
		b.Fatal(err)
	}
	testenv.DanteConfig{LogFile: filepath.Join(dir, "danted.log")}.Write(b, filepath.Join(dir, "danted.conf"))
	ns := testenv.NewNS(b, "bsk")
	base := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=bench",
		"OCF_RESKEY_sockd=" + danted, "OCF_RESKEY_sockd_config=" + dir + "/danted.conf",
		"OCF_RESKEY_sockd_pidfile=" + dir + "/danted.pid", "OCF_RESKEY_CRM_meta_interval=10000"}
	// run runs one command n times from a thread inside the namespace
	// (children inherit its network namespace, with no `ip netns exec` in
	// the measured time) and measures it.
	run := func(n int, env []string, name string, args ...string) measurement {
		var times []time.Duration
		var m measurement
		for i := 0; i < n; i++ {
			cmd := exec.Command(name, args...)
			cmd.Env = env
			var took time.Duration
			if err := ns.Within(func() error {
				start := time.Now()
				err := cmd.Run()
				took = time.Since(start)
				return err
			}); err != nil {
				b.Fatalf("%s %v: %v", name, args, err)
			}
			times = append(times, took)
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > m.maxRSS {
				m.maxRSS = ru.Maxrss
			}
		}
		slices.Sort(times)
		m.median = times[len(times)/2]
		return m
	}
	stop := func() { run(1, base, agent, "stop") }
	b.Cleanup(stop)

	metaData := run(runs, nil, agent, "meta-data")
	var starts []time.Duration
	for i := 0; i < 5; i++ {
		stop()
		starts = append(starts, run(1, base, agent, "start").median)
	}
	slices.Sort(starts)

	anyEnv := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=bench",
		"OCF_RESKEY_binfile=" + danted, "OCF_RESKEY_pidfile=" + dir + "/danted.pid", "OCF_RESKEY_CRM_meta_interval=10000"}
	peer := run(runs, anyEnv, anything, "monitor")
	rows := []struct {
		name string
		m    measurement
	}{
		{"ocf:heartbeat:anything monitor (PID only)", peer},
		{"ocf-sockd monitor depth 0", run(runs, base, agent, "monitor")},
		{"ocf-sockd monitor depth 10", run(runs, append(base, "OCF_CHECK_LEVEL=10"), agent, "monitor")},
		{"ocf-sockd monitor depth 20 (TCP)", run(runs, append(base, "OCF_CHECK_LEVEL=20"), agent, "monitor")},
		{"ocf-sockd monitor depth 20 (TCP+UDP)", run(runs, append(base, "OCF_CHECK_LEVEL=20", "OCF_RESKEY_check_udp=true"), agent, "monitor")},
		{"ocf-sockd meta-data", metaData},
	}
	fmt.Printf("\n%-44s %12s %10s %12s\n", "median of runs", "wall", "vs peer", "peak RSS")
	for _, r := range rows {
		fmt.Printf("%-44s %10.2fms %9.2fx %9d KiB\n", r.name, ms(r.m.median), ms(r.m.median)/ms(peer.median), r.m.maxRSS)
	}
	fmt.Printf("%-44s %10.2fms   (median of %d)\n", "ocf-sockd start (to SOCKS5 answering)", ms(starts[len(starts)/2]), len(starts))
	b.ReportMetric(ms(rows[1].m.median)/ms(peer.median), "depth0/peer")
	b.ReportMetric(ms(rows[4].m.median)/ms(peer.median), "depth20udp/peer")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
