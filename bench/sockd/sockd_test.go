// Package sockd benchmarks ocf-sockd against ocf:heartbeat:anything, the
// PID-only agent operators use for Dante otherwise, on the same danted in
// the same run. Run as root:
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/sockd/
//
// It prints the median wall time of 20 runs of each action and its ratio
// to anything's monitor (the depth-0 monitor and anything's run in 200 turns,
// so both meet the same load), the peak memory (maximum resident set) of
// one run, and the depth-0 ratio on a line of its own. Targets: depth 0 at
// most 0.5x, depth 20 with TCP and UDP at most 2x.
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

// pairRuns is how many turns the depth-0 monitor and anything's take for
// the ratio the goal is about: a few milliseconds each, so many turns cost
// little and steady the median on a shared host.
const pairRuns = 200

// depth0Goal is the most a depth-0 monitor may take, as a ratio of
// anything's monitor (issue 13): printed, never asserted, since timing
// on a shared host is no test.
const depth0Goal = 0.5

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
	// interleaved runs each command n times, in turns, from a thread
	// inside the namespace (children inherit its network namespace, with
	// no `ip netns exec` in the measured time) and measures each. Taking
	// turns exposes the commands compared to the same load on a shared
	// host.
	interleaved := func(n int, cmds ...command) []measurement {
		times := make([][]time.Duration, len(cmds))
		ms := make([]measurement, len(cmds))
		for i := 0; i < n; i++ {
			for j, c := range cmds {
				cmd := exec.Command(c.name, c.args...)
				cmd.Env = c.env
				var took time.Duration
				if err := ns.Within(func() error {
					start := time.Now()
					err := cmd.Run()
					took = time.Since(start)
					return err
				}); err != nil {
					b.Fatalf("%s %v: %v", c.name, c.args, err)
				}
				times[j] = append(times[j], took)
				if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > ms[j].maxRSS {
					ms[j].maxRSS = ru.Maxrss
				}
			}
		}
		for j := range cmds {
			slices.Sort(times[j])
			ms[j].median = times[j][n/2]
		}
		return ms
	}
	run := func(n int, env []string, name string, args ...string) measurement {
		return interleaved(n, command{env, name, args})[0]
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
	// The ratio the goal is about is measured in turns.
	pair := interleaved(pairRuns, command{anyEnv, anything, []string{"monitor"}}, command{base, agent, []string{"monitor"}})
	peer := pair[0]
	rows := []struct {
		name string
		m    measurement
	}{
		{"ocf:heartbeat:anything monitor (PID only)", peer},
		{"ocf-sockd monitor depth 0", pair[1]},
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
	depth0 := rows[1].m.median
	fmt.Printf("\ndepth-0 monitor: ours %.2f ms, anything %.2f ms, ratio %.2f (goal at most %.1f)\n",
		ms(depth0), ms(peer.median), ms(depth0)/ms(peer.median), depth0Goal)
	b.ReportMetric(ms(depth0)/ms(peer.median), "depth0/peer")
	b.ReportMetric(ms(rows[4].m.median)/ms(peer.median), "depth20udp/peer")
}

// command is one program run with its environment and arguments.
type command struct {
	env  []string
	name string
	args []string
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
