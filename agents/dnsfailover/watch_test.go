package dnsfailover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// watchServer listens on addr (127.0.0.1:0 when empty) and hands each
// accepted connection to serve; it returns the listener's port.
func watchServer(t *testing.T, addr string, serve func(*net.TCPConn)) int {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); serve(c.(*net.TCPConn)) }()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// loopMember is a member on 127.0.0.1 whose check connects to port.
func loopMember(port int) *Member {
	return &Member{Addr: netip.MustParseAddr("127.0.0.1"), Check: &Check{Type: "send-expect", PortNum: port, Watched: true}}
}

func testWatcher(t *testing.T, every time.Duration) (*watcher, *testenv.SyncBuffer) {
	t.Helper()
	log := &testenv.SyncBuffer{}
	w := newWatcher(time.Second, every, &logger{stderr: log, debug: true})
	t.Cleanup(w.close)
	return w, log
}

// pending reports whether m waits for an early check.
func (w *watcher) pending(m *Member) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state(m).ended
}

func (w *watcher) bytesRead(m *Member) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state(m).read
}

// waitOpen waits until the watch of m is connected.
func waitOpen(t *testing.T, w *watcher, m *Member) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, "watch connected", func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.state(m).conn == nil {
			return fmt.Errorf("not connected")
		}
		return nil
	})
}

// waitWake waits for the watcher's wake-up and wants m due.
func waitWake(t *testing.T, w *watcher, m *Member) {
	t.Helper()
	select {
	case <-w.wake:
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up within 5s")
	}
	due, _ := w.due(time.Now())
	if len(due) != 1 || due[0] != m {
		t.Fatalf("due %v, want the member", due)
	}
}

// TestWatchEnds: each way a member's end reaches the connection (close,
// reset, half-close, close after a banner, a port that refuses) wakes the
// loop with the member due for an early check.
func TestWatchEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(*net.TCPConn)
	}{
		{"close", func(c *net.TCPConn) { c.Close() }},
		{"reset", func(c *net.TCPConn) { c.SetLinger(0); c.Close() }},
		{"half-close", func(c *net.TCPConn) { c.CloseWrite() }},
		{"banner then close", func(c *net.TCPConn) { c.Write([]byte("220 mx ESMTP\r\n")); c.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conns := make(chan *net.TCPConn, 1)
			port := watchServer(t, "", func(c *net.TCPConn) { conns <- c; io.Copy(io.Discard, c); c.Close() })
			w, log := testWatcher(t, time.Second)
			m := loopMember(port)
			w.open(m, "www 127.0.0.1")
			waitOpen(t, w, m)
			tc.end(<-conns)
			waitWake(t, w, m)
			if !strings.Contains(log.String(), "watch of www 127.0.0.1 ended") {
				t.Fatalf("no debug line for the end:\n%s", log)
			}
			if w.count() != 0 {
				t.Fatalf("%d watches open after the end", w.count())
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		w, _ := testWatcher(t, time.Second)
		m := loopMember(port)
		w.open(m, "www 127.0.0.1")
		waitWake(t, w, m)
	})
}

// TestWatchBanner: what a member sends to an idle client (an SMTP
// banner) is read and ends nothing; the watch stays open.
func TestWatchBanner(t *testing.T) {
	banner := "220 mx.example ESMTP ready\r\n"
	hold := make(chan struct{})
	port := watchServer(t, "", func(c *net.TCPConn) { c.Write([]byte(banner)); <-hold; c.Close() })
	defer close(hold)
	w, _ := testWatcher(t, time.Second)
	m := loopMember(port)
	w.open(m, "mx 127.0.0.1")
	testenv.WaitFor(t, 5*time.Second, "banner read", func() error {
		if n := w.bytesRead(m); n != len(banner) {
			return fmt.Errorf("%d bytes read", n)
		}
		return nil
	})
	if w.pending(m) || w.count() != 1 {
		t.Fatalf("the banner ended the watch: pending %v, open %d", w.pending(m), w.count())
	}
}

// TestWatchFlood: a member that sends more than watchCap to the idle
// connection has it closed without an early check, and is not watched
// again before the next regular round.
func TestWatchFlood(t *testing.T) {
	var accepted atomic.Int32
	port := watchServer(t, "", func(c *net.TCPConn) {
		accepted.Add(1)
		chunk := bytes.Repeat([]byte("x"), 8192)
		for {
			if _, err := c.Write(chunk); err != nil {
				c.Close()
				return
			}
		}
	})
	w, log := testWatcher(t, time.Second)
	m := loopMember(port)
	w.open(m, "www 127.0.0.1")
	testenv.WaitFor(t, 5*time.Second, "flooded watch closed", func() error {
		if w.count() != 0 || !strings.Contains(log.String(), "closed after") {
			return fmt.Errorf("%d open", w.count())
		}
		return nil
	})
	if w.pending(m) {
		t.Fatal("a flood caused an early check")
	}
	w.open(m, "www 127.0.0.1")
	if w.count() != 0 || accepted.Load() != 1 {
		t.Fatalf("watched again before the next round: %d open, %d accepted", w.count(), accepted.Load())
	}
	w.round()
	w.open(m, "www 127.0.0.1")
	testenv.WaitFor(t, 5*time.Second, "watched again after the round", func() error {
		if accepted.Load() != 2 {
			return fmt.Errorf("%d accepted", accepted.Load())
		}
		return nil
	})
}

// TestWatchFalseAlarm: a member whose watch ends while it passes its
// early check (its server closes idle connections, at once or after a
// while) is not watched again for an interval, then twice as long after
// each such alarm; a failed check ends the schedule, and so does a watch
// that lived quietMax intervals. (Adversarial adv5 #9: a watch that lived
// an interval used to raise no alarm, so a server timing out idle clients
// after a few seconds, as HAProxy or a TLS server waiting for a handshake
// does, caused an early check every few seconds forever.)
func TestWatchFalseAlarm(t *testing.T) {
	var accepted atomic.Int32
	port := watchServer(t, "", func(c *net.TCPConn) { accepted.Add(1); c.Write([]byte("220 bye\r\n")); c.Close() })
	w, log := testWatcher(t, time.Hour)
	m := loopMember(port)
	quiet := func() time.Duration {
		w.mu.Lock()
		defer w.mu.Unlock()
		return time.Until(w.state(m).quiet).Round(time.Minute)
	}
	alarm := func(want time.Duration) {
		t.Helper()
		w.mu.Lock()
		w.state(m).quiet = time.Time{} // the quiet time is over
		w.mu.Unlock()
		n := accepted.Load()
		w.open(m, "m")
		waitWake(t, w, m)
		w.mu.Lock()
		w.state(m).last = time.Time{} // as if an interval had passed
		w.mu.Unlock()
		if accepted.Load() != n+1 {
			t.Fatalf("%d connections, want %d", accepted.Load(), n+1)
		}
		w.checked(m, "m", nil)
		if q := quiet(); q != want {
			t.Fatalf("quiet for %v, want %v\n%s", q, want, log)
		}
		w.open(m, "m")
		if w.count() != 0 {
			t.Fatal("watched again while quiet")
		}
	}
	alarm(time.Hour)
	alarm(2 * time.Hour)
	alarm(4 * time.Hour)
	w.checked(m, "m", errors.New("down"))
	alarm(time.Hour)
	if !strings.Contains(log.String(), "not watched for 1h0m0s") {
		t.Fatalf("no debug line for the quiet time:\n%s", log)
	}

	// A server that times out idle clients after a while: the watch
	// lived longer than an interval, and is a false alarm all the same.
	conns := make(chan *net.TCPConn, 4)
	port2 := watchServer(t, "", func(c *net.TCPConn) { conns <- c; io.Copy(io.Discard, c); c.Close() })
	m2 := loopMember(port2)
	w2, log2 := testWatcher(t, time.Hour) // closed before the server stops
	endAfter := func(lived time.Duration) {
		t.Helper()
		w2.mu.Lock()
		w2.state(m2).quiet = time.Time{} // the quiet time is over,
		w2.state(m2).last = time.Time{}  // and the last early check an interval old
		w2.mu.Unlock()
		w2.open(m2, "m2")
		waitOpen(t, w2, m2)
		w2.mu.Lock()
		w2.state(m2).opened = time.Now().Add(-lived)
		w2.mu.Unlock()
		(<-conns).Close()
		waitWake(t, w2, m2)
		w2.checked(m2, "m2", nil)
	}
	quiet2 := func() time.Duration {
		w2.mu.Lock()
		defer w2.mu.Unlock()
		return time.Until(w2.state(m2).quiet).Round(time.Minute)
	}
	endAfter(4 * time.Hour)
	if q := quiet2(); q != time.Hour {
		t.Fatalf("a watch closed by the server after 4 intervals: quiet %v, want an interval\n%s", q, log2)
	}
	endAfter(4 * time.Hour)
	if q := quiet2(); q != 2*time.Hour {
		t.Fatalf("the second such close: quiet %v, want two intervals\n%s", q, log2)
	}
	// A watch that lived quietMax intervals: the member has been steady,
	// the schedule starts again from one interval.
	endAfter(quietMax * time.Hour)
	if q := quiet2(); q != time.Hour {
		t.Fatalf("after a watch of %d intervals: quiet %v, want an interval\n%s", quietMax, q, log2)
	}
}

// TestWatchRateLimit: a member whose watch ends again and again is due
// for an early check at most once per interval; a regular round answers
// what is pending.
func TestWatchRateLimit(t *testing.T) {
	w, _ := testWatcher(t, time.Second)
	m := loopMember(1)
	t0 := time.Now()
	w.end(m, "m", io.EOF)
	if due, _ := w.due(t0); len(due) != 1 {
		t.Fatalf("first end: due %v", due)
	}
	w.end(m, "m", io.EOF)
	due, next := w.due(t0.Add(300 * time.Millisecond))
	if len(due) != 0 || !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("second end 300ms later: due %v, next %v, want none until %v", due, next, t0.Add(time.Second))
	}
	if due, _ := w.due(t0.Add(time.Second)); len(due) != 1 {
		t.Fatalf("an interval later: due %v", due)
	}
	w.end(m, "m", io.EOF)
	w.round()
	if due, next := w.due(t0.Add(3 * time.Second)); len(due) != 0 || !next.IsZero() {
		t.Fatalf("after a regular round: due %v, next %v", due, next)
	}
}

// TestWatchCloseAll: closing the watcher (exit) closes every connection
// without an event and leaves no goroutine behind; it opens no more.
func TestWatchCloseAll(t *testing.T) {
	before := runtime.NumGoroutine()
	var closed atomic.Int32
	port := watchServer(t, "", func(c *net.TCPConn) { io.Copy(io.Discard, c); closed.Add(1); c.Close() })
	w := newWatcher(time.Second, time.Second, &logger{stderr: &testenv.SyncBuffer{}})
	var ms []*Member
	for range 20 {
		m := loopMember(port)
		ms = append(ms, m)
		w.open(m, "m")
	}
	for _, m := range ms {
		waitOpen(t, w, m)
	}
	w.close()
	if w.count() != 0 {
		t.Fatalf("%d watches open after close", w.count())
	}
	select {
	case <-w.wake:
		t.Fatal("closing woke the loop")
	default:
	}
	for _, m := range ms {
		if w.pending(m) {
			t.Fatal("closing made an early check due")
		}
	}
	testenv.WaitFor(t, 5*time.Second, "the server sees every watch closed", func() error {
		if n := closed.Load(); n != 20 {
			return fmt.Errorf("%d closed", n)
		}
		return nil
	})
	w.open(ms[0], "m")
	if w.count() != 0 {
		t.Fatal("a closed watcher opened a watch")
	}
	testenv.WaitFor(t, 5*time.Second, "goroutines back to the start", func() error {
		if n := runtime.NumGoroutine(); n > before+1 { // +1: the listener's accept loop until cleanup
			return fmt.Errorf("%d goroutines, %d before", n, before)
		}
		return nil
	})
}

// TestLoopWatch runs the daemon's loop over a fake primary with an
// interval of an hour: a member whose server dies is removed by the early
// check its ended watch causes, not by a round (one round only ran), and
// the other members stay watched.
func TestLoopWatch(t *testing.T) {
	p := newFakePrimary(t, map[string][]string{"www.z.test.": {"127.0.0.1", "127.0.0.2", "127.0.0.3"}})
	var kill = map[string]chan struct{}{}
	var b strings.Builder
	fmt.Fprintf(&b, "primaries = [%q]\nzone = \"z.test\"\nfall = 1\nrise = 1\ninterval = \"1h\"\ntimeout = \"1s\"\nwatch = true\nmax_removals = 1\n[[record]]\nname = \"www.z.test\"\n", p.addr)
	var lns []net.Listener
	for _, a := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		ln, err := net.Listen("tcp", a+":0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		k := make(chan struct{})
		kill[a] = k
		go serveBanner(ln, k)
		fmt.Fprintf(&b, "[[record.member]]\naddress = %q\ncheck = { type = \"send-expect\", port = \"%d\", expect = \"220\" }\n", a, ln.Addr().(*net.TCPAddr).Port)
	}
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	cfg, err := ParseConfig("t.toml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	log := &testenv.SyncBuffer{}
	e := newEngine(cfg, nil, newState(), &logger{stderr: log, debug: true})
	stopLoop := startLoop(e, nil, nil)
	testenv.WaitFor(t, 5*time.Second, "three watches", func() error {
		if strings.Count(log.String(), "watching") != 3 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	// The member's server dies: its listener and its connections.
	lns[1].Close()
	close(kill["127.0.0.2"])
	testenv.WaitFor(t, 10*time.Second, "removal by the early check", func() error {
		if got := p.get("www.z.test."); got != "127.0.0.1 127.0.0.3" {
			return fmt.Errorf("primary holds %s", got)
		}
		return nil
	})
	if err := stopLoop(); err != nil {
		t.Fatal(err)
	}
	text := log.String()
	if e.state.Rounds != 1 || e.state.EarlyChecks != 1 || !strings.Contains(text, "early check 1 (watch ended) of www.z.test. 127.0.0.2") {
		t.Fatalf("rounds %d, early checks %d, want 1 and 1\n%s", e.state.Rounds, e.state.EarlyChecks, text)
	}
	if e.watch.count() != 0 {
		t.Fatalf("%d watches open after the loop ended", e.watch.count())
	}
}

// serveBanner answers each connection with a banner and holds it until
// kill or the client's close, then closes it.
func serveBanner(ln net.Listener, kill chan struct{}) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		gone := make(chan struct{})
		go func() { io.Copy(io.Discard, c); close(gone) }()
		go func() {
			c.Write([]byte("220 ready\r\n"))
			select {
			case <-kill:
			case <-gone:
			}
			c.Close()
		}()
	}
}

// TestLoopWatchRateLimit: a member that closes or resets every
// connection at once (a server timing out idle clients at once) ends its
// watch after every check; the early checks it causes stay at one per
// interval, however fast it closes.
func TestLoopWatchRateLimit(t *testing.T) {
	t.Run("close", func(t *testing.T) { loopRateLimit(t, false) })
	t.Run("reset", func(t *testing.T) { loopRateLimit(t, true) })
}

func loopRateLimit(t *testing.T, reset bool) {
	p := newFakePrimary(t, map[string][]string{"www.z.test.": {"127.0.0.1"}})
	port := watchServer(t, "", func(c *net.TCPConn) {
		c.Write([]byte("220 bye\r\n"))
		if reset {
			c.SetLinger(0)
		}
		c.Close()
	})
	cfg, err := ParseConfig("t.toml", []byte(fmt.Sprintf("primaries = [%q]\nzone = \"z.test\"\ninterval = \"100ms\"\nwatch = true\n"+
		"[[record]]\nname = \"www.z.test\"\ncheck = { type = \"send-expect\", port = \"%d\", expect = \"220\" }\n[[record.member]]\naddress = \"127.0.0.1\"\n", p.addr, port)))
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(cfg, nil, newState(), &logger{stderr: &testenv.SyncBuffer{}})
	var probes atomic.Int32
	e.probe = func(ctx context.Context, m *Member) error { probes.Add(1); return probe(ctx, m) }
	stopLoop := startLoop(e, nil, nil)
	testenv.WaitFor(t, 10*time.Second, "20 probes", func() error {
		if n := probes.Load(); n < 20 {
			return fmt.Errorf("%d probes", n)
		}
		return nil
	})
	if err := stopLoop(); err != nil {
		t.Fatal(err)
	}
	// Early checks at most once per interval; after a close, the false
	// alarms' doubling quiet too: after rounds 1, 2, 4, 8... (A reset may
	// fail the check, a real alarm that starts the schedule again.)
	most := bits.Len(uint(e.state.Rounds)) + 1
	if reset {
		most = e.state.Rounds + 1
	}
	if e.state.EarlyChecks == 0 || e.state.EarlyChecks > most {
		t.Fatalf("%d early checks in %d rounds: want at least one, and %d at most", e.state.EarlyChecks, e.state.Rounds, most)
	}
	if got := p.get("www.z.test."); got != "127.0.0.1" {
		t.Fatalf("a healthy member that closes idle connections was removed: %q", got)
	}
}

// memberAt finds the member with address a.
func memberAt(e *Engine, a string) *Member {
	for _, r := range e.cfg.Records {
		for _, m := range r.Members {
			if m.Addr.String() == a {
				return m
			}
		}
	}
	return nil
}

// TestEarlyCheckJudgesOnlyItsMembers: an early check of one member
// leaves the others' rise and fall alone: a member down since the last
// round is not counted healthy by it, and not put back.
func TestEarlyCheckJudgesOnlyItsMembers(t *testing.T) {
	p := newFakePrimary(t, all4)
	healthy := map[string]bool{"10.0.0.1": true, "10.0.0.2": true, "10.0.0.3": true}
	e, log := testEngine(t, "", healthy, p.addr)
	if err := e.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.EarlyCheck(context.Background(), []*Member{memberAt(e, "10.0.0.1")}); err != nil {
		t.Fatal(err)
	}
	if got := p.get("www.z.test."); got != "10.0.0.1 10.0.0.2 10.0.0.3" {
		t.Fatalf("after the early check of 10.0.0.1: %s\n%s", got, log)
	}
	st := e.state.member(memberKey(e.cfg.Records[0], memberAt(e, "10.0.0.4")))
	if st.Up || st.OK != 0 || st.Fail != 1 {
		t.Fatalf("10.0.0.4 judged by an early check that did not probe it: %+v", st)
	}
}

// TestEarlyCheckMaxRemovals: early checks draw from the round's
// max_removals: a second failing member found by an early check after a
// round that used the budget is kept, and the next round removes it.
func TestEarlyCheckMaxRemovals(t *testing.T) {
	p := newFakePrimary(t, all4)
	healthy := map[string]bool{"10.0.0.1": true, "10.0.0.2": true, "10.0.0.3": true}
	e, log := testEngine(t, "max_removals = 1", healthy, p.addr)
	if err := e.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	healthy["10.0.0.3"] = false
	if err := e.EarlyCheck(context.Background(), []*Member{memberAt(e, "10.0.0.3")}); err != nil {
		t.Fatal(err)
	}
	if got := p.get("www.z.test."); got != "10.0.0.1 10.0.0.2 10.0.0.3" || !strings.Contains(log.String(), "max_removals (1) reached") {
		t.Fatalf("the early check went past max_removals: %s\n%s", got, log)
	}
	if err := e.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.get("www.z.test."); got != "10.0.0.1 10.0.0.2" {
		t.Fatalf("next round: %s\n%s", got, log)
	}
}

// TestWatchDescriptorBound: the watches hold at most half the limit of
// open files, so that the checks, updates and hooks keep theirs (a check
// that cannot get one gives no verdict, but then no member is judged);
// the members left over are said once and left to the regular checks.
func TestWatchDescriptorBound(t *testing.T) {
	port := watchServer(t, "", func(c *net.TCPConn) { io.Copy(io.Discard, c) })
	w, log := testWatcher(t, time.Hour)
	w.most = 2
	var ms []*Member
	for i := 0; i < 3; i++ {
		m := loopMember(port)
		ms = append(ms, m)
		w.open(m, fmt.Sprintf("m%d", i))
	}
	if n := w.count(); n != 2 {
		t.Fatalf("%d watches open, want the bound, 2", n)
	}
	if !strings.Contains(log.String(), "watch: 2 watches hold half the limit of open files (4); m2 and the others left are not watched") {
		t.Fatalf("the bound was not logged:\n%s", log)
	}
	for _, m := range ms[:2] {
		waitOpen(t, w, m)
	}
	// One ends: its place is free again.
	w.mu.Lock()
	w.state(ms[0]).conn.Close()
	w.mu.Unlock()
	waitWake(t, w, ms[0])
	w.open(ms[2], "m2")
	waitOpen(t, w, ms[2])
}
