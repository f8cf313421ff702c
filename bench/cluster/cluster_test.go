// Package cluster measures, under a real Pacemaker, how long the clients of
// a hung Dante wait before they are served again: with ocf:dante:sockd
// monitoring at depth 20, against ocf:heartbeat:anything managing the same
// danted (a PID check, which never notices the hang), and across a two-node
// failover.
//
// Run (root, about 3 minutes):
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/cluster/
//
// OCFKIT_BENCH_WAIT (a Go duration, default 60s) bounds the wait for the
// PID-only peer, which is reported as not recovered when it runs out.
package cluster

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
	"github.com/ocfkit/ocfkit/tests/cluster/harness"
)

// peerWait bounds how long the benchmark waits for a peer that never
// notices the hang.
func peerWait(b *testing.B) time.Duration {
	if s := os.Getenv("OCFKIT_BENCH_WAIT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("OCFKIT_BENCH_WAIT: %v", err)
		}
		return d
	}
	return 60 * time.Second
}

// servedAgain polls the client until it is served or limit (counted from
// since) passes, and returns the time from since and whether it was served.
func servedAgain(l *harness.SocksLab, since time.Time, limit time.Duration) (time.Duration, bool) {
	err := testenv.Poll(limit-time.Since(since), func() error { return l.Fetch(2 * time.Second) })
	return time.Since(since), err == nil
}

// cleanup clears the resource's failures and waits until the group runs
// again and serves, ready for the next iteration; it returns the node.
func cleanup(b *testing.B, l *harness.SocksLab) string {
	b.Helper()
	on := l.Cleanup(b, 60*time.Second, "")
	l.WaitServed(b, 20*time.Second)
	return on
}

// hangAndRecover SIGSTOPs the io children of the danted instance on node
// `on` (mother in pidfile) and returns every process of that instance and
// the time until the client is served again (at most limit).
func hangAndRecover(b *testing.B, l *harness.SocksLab, on, pidfile string, limit time.Duration) ([]harness.DanteProcess, time.Duration, bool) {
	b.Helper()
	t0 := time.Now()
	old := harness.HangIOChildren(b, l.C.Node(on), pidfile)
	d, ok := servedAgain(l, t0, limit)
	return old, d, ok
}

// BenchmarkHangRecovery: SIGSTOP of Dante's io children to clients served
// again, one node.
func BenchmarkHangRecovery(b *testing.B) {
	ours := func(name, prefix, net string, depth20Options ...string) {
		b.Run(name, func(b *testing.B) {
			l := harness.StartSocksLab(b, harness.SocksLabOptions{Prefix: prefix, Net: net})
			on := l.CreateGroup(b, nil, l.GuideSockd(depth20Options...)...)
			l.WaitServed(b, 10*time.Second)
			var total time.Duration
			for i := 0; i < b.N; i++ {
				_, d, ok := hangAndRecover(b, l, on, l.Pidfile, 120*time.Second)
				if !ok {
					b.Fatalf("ocf:dante:sockd: clients not served again %v after the hang", d)
				}
				total += d
				b.Logf("ocf:dante:sockd (guide's depth-20 monitor, extra options %v): clients served again %v after the SIGSTOP", depth20Options, d.Round(time.Millisecond))
				if i+1 < b.N {
					on = cleanup(b, l)
				}
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "s-to-served")
		})
	}
	// The op of Dante's failover guide: its timeout (and so the deep
	// check's time limit) comes from the agent's metadata.
	ours("ocf-sockd-depth20", "bh", "10.212")
	// The same with a 5 s op timeout: detection is bounded by interval +
	// check time limit.
	ours("ocf-sockd-depth20-timeout5s", "bt", "10.215", "timeout=5s")

	b.Run("heartbeat-anything", func(b *testing.B) {
		l := harness.StartSocksLab(b, harness.SocksLabOptions{Prefix: "ba", Net: "10.213"})
		const pidfile = "/var/run/anything-sockd.pid"
		on := l.CreateGroup(b, nil, "ocf:heartbeat:anything", "binfile=/usr/sbin/danted",
			"cmdline_options=-f "+l.Conf, "pidfile="+pidfile, "op", "monitor", "interval=5s")
		l.WaitServed(b, 10*time.Second)
		limit := peerWait(b)
		// One measurement is the answer: a peer that never notices does not
		// get faster with more iterations.
		old, d, ok := hangAndRecover(b, l, on, pidfile, limit)
		s, err := l.C.Status()
		if err != nil {
			b.Fatal(err)
		}
		fc := s.FailCount(harness.SockdResource, on)
		if fc == "" {
			fc = "0"
		}
		if ok {
			b.Logf("ocf:heartbeat:anything: clients served again %v after the SIGSTOP (fail-count %s)", d.Round(time.Millisecond), fc)
			b.ReportMetric(d.Seconds(), "s-to-served")
		} else {
			b.Logf("ocf:heartbeat:anything: clients NOT served again after waiting %v; Pacemaker never noticed (fail-count %s, resource %s)",
				d.Round(time.Second), fc, s.Describe(harness.SockdResource))
			b.ReportMetric(d.Seconds(), "s-waited-never-recovered")
		}
		// What the PID-only agent's stop leaves behind.
		l.C.Pcs(b, "resource", "disable", harness.SockdResource)
		l.C.WaitStatus(b, 60*time.Second, harness.SockdResource+" stopped", func(s *harness.Status) error {
			if d := s.Describe(harness.SockdResource); d != "Stopped" {
				return fmt.Errorf("%s is %s", harness.SockdResource, d)
			}
			return nil
		})
		left := harness.Left(old)
		b.Logf("ocf:heartbeat:anything stop: %d process(es) of the hung instance left running: %v", len(left), left)
		b.ReportMetric(float64(len(left)), "procs-left-after-stop")
	})
}

// BenchmarkFailoverTwoNodes: SIGSTOP of Dante's io children on the active
// node to clients served through the shared address by the other node
// (migration-threshold=1).
func BenchmarkFailoverTwoNodes(b *testing.B) {
	l := harness.StartSocksLab(b, harness.SocksLabOptions{Nodes: 2, Prefix: "bf", Net: "10.214"})
	on := l.CreateGroup(b, []string{"migration-threshold=1"}, l.GuideSockd()...)
	l.WaitServed(b, 10*time.Second)
	var total time.Duration
	for i := 0; i < b.N; i++ {
		_, d, ok := hangAndRecover(b, l, on, l.Pidfile, 120*time.Second)
		if !ok {
			b.Fatalf("clients not served again %v after the hang on %s", d, on)
		}
		now := l.C.WaitStarted(b, 10*time.Second, harness.SockdResource, "")
		b.Logf("two-node failover %s -> %s: clients served again %v after the SIGSTOP", on, now, d.Round(time.Millisecond))
		total += d
		if i+1 < b.N {
			on = cleanup(b, l)
		}
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s-to-served")
}
