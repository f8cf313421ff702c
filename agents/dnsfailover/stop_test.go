package dnsfailover

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/ddns"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestStopMidRoundJudgesNothing: a round or early check that SIGTERM
// (its context) cuts short judges no one: the probes it cut fail with
// "operation was canceled", which says nothing of the members. Before,
// they counted as failed checks, saved in the state file: with fall = 1
// every member probed was marked down, and the next start removed them.
func TestStopMidRoundJudgesNothing(t *testing.T) {
	for _, early := range []bool{false, true} {
		t.Run(fmt.Sprintf("early=%v", early), func(t *testing.T) {
			p := newFakePrimary(t, all4)
			e, log := testEngine(t, "", map[string]bool{"10.0.0.1": true, "10.0.0.2": true, "10.0.0.3": true, "10.0.0.4": true}, p.addr)
			if err := e.Round(context.Background()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			e.probe = func(pctx context.Context, m *Member) error {
				cancel() // SIGTERM arrives while the members are probed
				<-pctx.Done()
				return fmt.Errorf("send-expect %s:80: connect: %w", m.Addr, pctx.Err())
			}
			if early {
				_ = e.EarlyCheck(ctx, e.cfg.Records[0].Members)
			} else {
				_ = e.Round(ctx)
			}
			for _, m := range e.cfg.Records[0].Members {
				if st := e.state.member(memberKey(e.cfg.Records[0], m)); !st.Up || st.Fail != 0 {
					t.Errorf("%s judged by a check cut short by the stop: %+v\n%s", m.Addr, st, log)
				}
			}
			if got := p.get("www.z.test."); got != "10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4" {
				t.Errorf("primary holds %s\n%s", got, log)
			}
		})
	}
}

// TestReloadDryRunStaysSilent: a dry run tells no one (newLogger drops
// notify), and a reload keeps it so. Before, the reload put the new
// configuration's notify in force, and the dry run's events ran the
// hook: "down" and "changed" sent for changes never made.
func TestReloadDryRunStaysSilent(t *testing.T) {
	p := newFakePrimary(t, all4)
	e, _ := testEngine(t, "", map[string]bool{"10.0.0.1": true}, p.addr)
	e.DryRun, e.Out = true, io.Discard
	next, err := ParseConfig("t.toml", []byte(fmt.Sprintf("primaries = [%q]\nzone = \"z.test\"\nnotify = [\"/bin/true\"]\ninterval = \"1h\"\n[[record]]\nname = \"www.z.test\"\ncheck = { type = \"exec\", command = [\"/bin/true\"] }\n[[record.member]]\naddress = \"10.0.0.1\"\n", p.addr)))
	if err != nil {
		t.Fatal(err)
	}
	_ = e.reload(func() (*Config, *ddns.Key, error) { return next, nil, nil })
	if e.cfg != next {
		t.Fatal("the reload was refused")
	}
	e.stopWatch()
	if len(e.log.notify) != 0 {
		t.Fatalf("a dry run's reload put notify %q in force", e.log.notify)
	}
}

// TestReloadStorm: a storm of HUPs reloads each time but brings at most
// one round per fast_interval (here an hour): the first reload's round
// comes at once, the next reloads' round waits. Before, every HUP
// brought a round at once: rounds back to back, fall reached within
// milliseconds and max_removals renewed each time.
func TestReloadStorm(t *testing.T) {
	p := newFakePrimary(t, map[string][]string{"www.z.test.": {"127.0.0.1"}})
	cfg, err := ParseConfig("t.toml", []byte(fmt.Sprintf("primaries = [%q]\nzone = \"z.test\"\ninterval = \"1h\"\ntimeout = \"1s\"\n[[record]]\nname = \"www.z.test\"\n[[record.member]]\naddress = \"127.0.0.1\"\ncheck = { type = \"exec\", command = [\"/bin/true\"] }\n", p.addr)))
	if err != nil {
		t.Fatal(err)
	}
	log := &testenv.SyncBuffer{}
	e := newEngine(cfg, nil, newState(), &logger{stderr: log, debug: true})
	e.probe = func(context.Context, *Member) error { return nil }
	hup := make(chan os.Signal, 1)
	reload := func() (*Config, *ddns.Key, error) { return cfg, nil, nil }
	stopLoop := startLoop(e, hup, reload)
	waitLog := func(what string, n int) {
		testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("%d × %q", n, what), func() error {
			if got := strings.Count(log.String(), what); got < n {
				return fmt.Errorf("%d so far", got)
			}
			return nil
		})
	}
	waitLog("round 1:", 1)
	for i := 1; i <= 5; i++ {
		hup <- syscall.SIGHUP
		waitLog("reloaded:", i)
		if i == 1 {
			waitLog("round 2:", 1)
		}
	}
	if err := stopLoop(); err != nil {
		t.Fatal(err)
	}
	if e.state.Rounds != 2 {
		t.Fatalf("%d rounds after 5 HUPs within fast_interval, want 2\n%s", e.state.Rounds, log)
	}
}

// TestReloadLowersMaxRemovals: the removals left until the next round
// are bounded by the new max_removals at once: early checks between a
// reload and its round (up to fast_interval in a HUP storm) do not spend
// what the old, larger one left.
func TestReloadLowersMaxRemovals(t *testing.T) {
	p := newFakePrimary(t, all4)
	healthy := map[string]bool{"10.0.0.1": true, "10.0.0.2": true, "10.0.0.3": true, "10.0.0.4": true}
	e, log := testEngine(t, "max_removals = 3", healthy, p.addr)
	if err := e.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	next, _ := testEngine(t, "max_removals = 1", healthy, p.addr)
	if !e.reload(func() (*Config, *ddns.Key, error) { return next.cfg, nil, nil }) {
		t.Fatal("reload refused")
	}
	e.stopWatch()
	healthy["10.0.0.3"], healthy["10.0.0.4"] = false, false
	if err := e.EarlyCheck(context.Background(), []*Member{memberAt(e, "10.0.0.3"), memberAt(e, "10.0.0.4")}); err != nil {
		t.Fatal(err)
	}
	if got := p.get("www.z.test."); strings.Count(got, " ") != 2 {
		t.Fatalf("an early check after a reload to max_removals = 1 left %q\n%s", got, log)
	}
}

// TestReloadKeepsWatchSchedule: a member left unwatched after false
// alarms (its server closes idle connections at once) stays so across a
// reload that keeps it, and its last early check still counts. Before,
// the new watcher started blank: each reload watched it again, and in a
// HUP storm its early checks came at every reload's round.
func TestReloadKeepsWatchSchedule(t *testing.T) {
	conf := func() *Config {
		cfg, err := ParseConfig("t.toml", []byte("primaries = [\"127.0.0.1:53\"]\nzone = \"z.test\"\ninterval = \"1h\"\nwatch = true\n[[record]]\nname = \"www.z.test\"\ncheck = { type = \"send-expect\", port = \"9\" }\n[[record.member]]\naddress = \"127.0.0.1\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	e := newEngine(conf(), nil, newState(), &logger{stderr: io.Discard})
	e.startWatch()
	defer e.stopWatch()
	m := e.cfg.Records[0].Members[0]
	quiet, last := time.Now().Add(time.Hour), time.Now()
	e.watch.mu.Lock()
	s := e.watch.state(m)
	s.quiet, s.last = quiet, last
	e.watch.mu.Unlock()
	if !e.reload(func() (*Config, *ddns.Key, error) { return conf(), nil, nil }) {
		t.Fatal("reload refused")
	}
	n := e.cfg.Records[0].Members[0]
	e.watch.open(n, "www")
	e.watch.mu.Lock()
	got := *e.watch.state(n)
	e.watch.mu.Unlock()
	if !got.quiet.Equal(quiet) || !got.last.Equal(last) || got.active {
		t.Fatalf("after the reload: quiet %v last %v active %v; want %v, %v, not watched", got.quiet, got.last, got.active, quiet, last)
	}
}

// TestWatchMassDeath: 200 watched members die at once (their server
// killed): every watch ends together, and the early checks that follow
// remove no more than max_removals until the next round (an hour away),
// and never below min_records.
func TestWatchMassDeath(t *testing.T) {
	t.Run("max_removals", func(t *testing.T) { massDeath(t, 5, 190, 195) })
	t.Run("min_records", func(t *testing.T) { massDeath(t, 0, 190, 190) })
}

func massDeath(t *testing.T, maxRemovals, minRecords, want int) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	kill := make(chan struct{})
	go serveBanner(ln, kill)
	port := ln.Addr().(*net.TCPAddr).Port
	var all []string
	for i := 1; i <= 200; i++ {
		all = append(all, fmt.Sprintf("127.0.%d.%d", i/250, i%250+1))
	}
	p := newFakePrimary(t, map[string][]string{"www.z.test.": all})
	var b strings.Builder
	fmt.Fprintf(&b, "primaries = [%q]\nzone = \"z.test\"\nfall = 1\nrise = 1\ninterval = \"1h\"\ntimeout = \"1s\"\nwatch = true\nmax_removals = %d\n[[record]]\nname = \"www.z.test\"\nmin_records = %d\ncheck = { type = \"send-expect\", port = \"%d\", expect = \"220\" }\n", p.addr, maxRemovals, minRecords, port)
	for _, a := range all {
		fmt.Fprintf(&b, "[[record.member]]\naddress = %q\n", a)
	}
	cfg, err := ParseConfig("t.toml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	log := &testenv.SyncBuffer{}
	e := newEngine(cfg, nil, newState(), &logger{stderr: log, debug: true})
	stopLoop := startLoop(e, nil, nil)
	testenv.WaitFor(t, 20*time.Second, "200 watches", func() error {
		if n := strings.Count(log.String(), "debug: watching "); n < 200 {
			return fmt.Errorf("%d so far", n)
		}
		return nil
	})
	ln.Close()
	close(kill)
	testenv.WaitFor(t, 20*time.Second, "the early checks of the 200", func() error {
		if n := strings.Count(log.String(), " failed 1 checks: "); n < 200 {
			return fmt.Errorf("%d down so far", n)
		}
		return nil
	})
	if err := stopLoop(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(p.get("www.z.test."), " ") + 1; got != want || e.state.Rounds != 1 {
		t.Fatalf("%d records left after %d rounds, want %d (max_removals %d, min_records %d) and 1 round\n%s", got, e.state.Rounds, want, maxRemovals, minRecords, log)
	}
}
