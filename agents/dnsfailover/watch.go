package dnsfailover

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/ocfkit/ocfkit/internal/backoff"
)

// watchCap bounds what one watch reads from its member: a server that
// sends more to an idle client (a flood) has its watch closed without an
// event, and gets no new one before the next regular round.
const watchCap = 64 << 10

// quietMax bounds, in intervals, how long a member whose watches keep
// raising false alarms goes unwatched.
const quietMax = 64

// watcher holds one idle TCP connection to each watched member, opened
// after a successful check, and reports the members whose connection the
// far end closed or reset: their process died, or their host is going
// down, and an early check confirms it without waiting for the next round.
// A host that vanishes without a word (power, cable) ends no watch: the
// regular checks find it.
type watcher struct {
	timeout time.Duration // bound of each dial
	every   time.Duration // least time between two early checks of a member
	log     *logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// wake is signalled (without blocking) when a watch ends.
	wake chan struct{}

	mu      sync.Mutex
	members map[*Member]*watchState
	// held counts the watches open or dialling; most bounds it (half the
	// descriptor limit: the checks, updates and hooks need the rest);
	// refused says the bound was logged.
	held, most int
	refused    bool
}

// watchState is what the watcher knows of one member.
type watchState struct {
	active bool          // a watch is open or dialling
	conn   net.Conn      // the open watch (nil while dialling)
	opened time.Time     // when it connected
	read   int           // bytes it read
	capped bool          // closed for flooding: none until the next round
	ended  bool          // ended, early check not run yet
	lived  time.Duration // how long the watch that ended lived
	last   time.Time     // the last early check
	// quiet: no watch before this time; alarms is the schedule of quiet
	// times after false alarms (nil: none raised since the last real one).
	quiet  time.Time
	alarms *backoff.Doubling
}

// newWatcher returns a watcher whose dials are bounded by timeout and
// whose early checks of a member come at least every apart.
func newWatcher(timeout, every time.Duration, log *logger) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &watcher{timeout: timeout, every: every, log: log, ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), members: map[*Member]*watchState{}, most: fdLimit() / 2}
}

// fdLimit is this process's limit of open descriptors.
func fdLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur > 1<<30 {
		return 1 << 30
	}
	return int(l.Cur)
}

// state returns m's state; w.mu is held.
func (w *watcher) state(m *Member) *watchState {
	s := w.members[m]
	if s == nil {
		s = &watchState{}
		w.members[m] = s
	}
	return s
}

// open starts watching m (label names it in the log) unless a watch of
// it is open, it was closed for flooding since the last round, it is
// quiet after false alarms, the watcher is closed, or the watches hold
// half the descriptor limit already (the regular checks find the others).
func (w *watcher) open(m *Member, label string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.state(m)
	if s.active || s.capped || time.Now().Before(s.quiet) || w.ctx.Err() != nil {
		return
	}
	if w.held >= w.most {
		if !w.refused {
			w.refused = true
			w.log.infof("watch: %d watches hold half the limit of open files (%d); %s and the others left are not watched (raise LimitNOFILE)", w.held, 2*w.most, label)
		}
		return
	}
	w.held++
	s.active, s.conn, s.read = true, nil, 0
	w.wg.Add(1)
	go w.run(m, label)
}

// run dials m's check address, then reads and discards what the member
// sends until the connection ends, and reports that end.
func (w *watcher) run(m *Member, label string) {
	defer w.wg.Done()
	addr := m.checkAddr()
	ctx, cancel := context.WithTimeout(w.ctx, w.timeout)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	cancel()
	if err != nil {
		w.end(m, label, err)
		return
	}
	w.mu.Lock()
	if w.ctx.Err() != nil { // closed while dialling
		w.mu.Unlock()
		conn.Close()
		w.end(m, label, w.ctx.Err())
		return
	}
	s := w.state(m)
	s.conn, s.opened = conn, time.Now()
	w.mu.Unlock()
	w.log.debugf("watching %s at %s", label, addr)
	err = w.discard(s, conn)
	conn.Close()
	w.end(m, label, err)
}

// discard reads what the member sends (a banner) and throws it away,
// counting it in s.read, until the connection ends or passes watchCap.
func (w *watcher) discard(s *watchState, conn net.Conn) error {
	buf := make([]byte, 512)
	total := 0
	for {
		n, err := conn.Read(buf)
		total += n
		w.mu.Lock()
		s.read = total
		w.mu.Unlock()
		if total > watchCap {
			return errFlood
		}
		if err != nil {
			return err
		}
	}
}

// errFlood ends the watch of a member that sent more than watchCap.
var errFlood = errors.New("the member sent more than 64 KiB to an idle connection")

// end forgets m's watch, ended by err; unless the watcher was closed or
// the member flooded it, m is marked for an early check and the loop
// woken.
func (w *watcher) end(m *Member, label string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.state(m)
	lived := time.Duration(0)
	if s.conn != nil {
		lived = time.Since(s.opened)
	}
	if s.active {
		w.held--
	}
	s.active, s.conn = false, nil
	switch {
	case w.ctx.Err() != nil:
		return
	case errors.Is(err, errFlood):
		s.capped = true
		w.log.debugf("watch of %s closed after %d bytes: %v; none until the next round", label, s.read, err)
		return
	}
	w.log.debugf("watch of %s ended after %v and %d bytes: %v", label, lived.Round(time.Millisecond), s.read, err)
	s.ended, s.lived = true, lived
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// checked is told the outcome of m's early check. A member that passed
// it raised a false alarm: its server closed the watch although it works
// (it closes idle connections, at once or after a while, or it was
// restarted). It is not watched again for an interval, then twice as long
// after each such alarm, up to quietMax intervals, so that a server that
// times out idle clients costs next to nothing. A failed check ends the
// schedule, and so does a watch that lived quietMax intervals: a member
// that steady starts again from one interval.
func (w *watcher) checked(m *Member, label string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.state(m)
	if err != nil || s.lived >= quietMax*w.every {
		s.alarms = nil
	}
	if err != nil {
		return
	}
	if s.alarms == nil {
		d := backoff.New(w.every, quietMax*w.every)
		s.alarms = &d
	}
	q := s.alarms.Next()
	s.quiet = time.Now().Add(q)
	w.log.debugf("watch of %s: closed by the member after %v, which still passes its check; not watched for %v", label, s.lived.Round(time.Millisecond), q)
}

// round is called as a regular round starts: it checks every member, so
// the ended watches need no early check, and flooded members may be
// watched again.
func (w *watcher) round() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.members {
		s.ended, s.capped = false, false
	}
}

// due returns the members whose watch ended and whose last early check
// is at least every before now, and records now as their early check; and
// the time the next of the others becomes due (zero if none).
func (w *watcher) due(now time.Time) (members []*Member, next time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for m, s := range w.members {
		if !s.ended {
			continue
		}
		at := s.last.Add(w.every)
		if !at.After(now) {
			members = append(members, m)
			s.ended, s.last = false, now
		} else if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return members, next
}

// inherit gives w what old knew of the members that recs still hold
// under the same name, address and check address (oldRecs are old's):
// their last early check, their quiet after false alarms, and a flood's
// ban, so that a reload neither checks them early again at once nor
// watches again a member that floods or keeps closing at once.
func (w *watcher) inherit(old *watcher, oldRecs, recs []*Record) {
	key := func(r *Record, m *Member) string { return label(r, m) + " " + m.checkAddr() }
	was := map[string]watchState{}
	old.mu.Lock()
	for _, r := range oldRecs {
		for _, m := range r.Members {
			if s := old.members[m]; s != nil {
				was[key(r, m)] = *s
			}
		}
	}
	old.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range recs {
		for _, m := range r.Members {
			if s, ok := was[key(r, m)]; ok {
				n := w.state(m)
				n.last, n.quiet, n.alarms, n.capped = s.last, s.quiet, s.alarms, s.capped
			}
		}
	}
}

// count reports how many watches are open or dialling.
func (w *watcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range w.members {
		if s.active {
			n++
		}
	}
	return n
}

// close ends every watch, without events, and waits for their goroutines.
func (w *watcher) close() {
	w.mu.Lock()
	w.cancel()
	for _, s := range w.members {
		if s.conn != nil {
			s.conn.Close()
		}
	}
	w.mu.Unlock()
	w.wg.Wait()
}
