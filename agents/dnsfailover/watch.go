package dnsfailover

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// watchCap bounds what one watch reads from its member: a server that
// sends more to an idle client (a flood) has its watch closed without an
// event, and gets no new one before the next regular round.
const watchCap = 64 << 10

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

	mu     sync.Mutex
	conns  map[*Member]net.Conn  // open watches (nil while dialling)
	capped map[*Member]bool      // closed for flooding, until the next round
	ended  map[*Member]bool      // ended, early check not run yet
	last   map[*Member]time.Time // last early check
	read   map[*Member]int       // bytes read by the open watch
}

// newWatcher returns a watcher whose dials are bounded by timeout and
// whose early checks of a member come at least every apart.
func newWatcher(timeout, every time.Duration, log *logger) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &watcher{timeout: timeout, every: every, log: log, ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), conns: map[*Member]net.Conn{}, capped: map[*Member]bool{},
		ended: map[*Member]bool{}, last: map[*Member]time.Time{}, read: map[*Member]int{}}
}

// open starts watching m (label names it in the log) unless a watch of
// it is open, it was closed for flooding since the last round, or the
// watcher is closed.
func (w *watcher) open(m *Member, label string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.conns[m]; ok || w.capped[m] || w.ctx.Err() != nil {
		return
	}
	w.conns[m] = nil
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
		w.end(m, label, nil, false, err)
		return
	}
	w.mu.Lock()
	if w.ctx.Err() != nil { // closed while dialling
		w.mu.Unlock()
		conn.Close()
		w.end(m, label, nil, false, w.ctx.Err())
		return
	}
	w.conns[m] = conn
	w.mu.Unlock()
	w.log.debugf("watching %s at %s", label, addr)
	err = w.discard(m, conn)
	conn.Close()
	w.end(m, label, conn, errors.Is(err, errFlood), err)
}

// discard reads what the member sends (a banner) and throws it away,
// counting it in read, until the connection ends or passes watchCap.
func (w *watcher) discard(m *Member, conn net.Conn) error {
	buf := make([]byte, 512)
	total := 0
	for {
		n, err := conn.Read(buf)
		total += n
		w.mu.Lock()
		w.read[m] = total
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

// end forgets m's watch; unless the watcher was closed or the member
// flooded it, m is marked for an early check and the loop woken.
func (w *watcher) end(m *Member, label string, conn net.Conn, flood bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.conns[m]; ok && c == conn {
		delete(w.conns, m)
	}
	n := w.read[m]
	delete(w.read, m)
	switch {
	case w.ctx.Err() != nil:
		return
	case flood:
		w.capped[m] = true
		w.log.debugf("watch of %s closed after %d bytes: %v; none until the next round", label, n, err)
		return
	}
	w.log.debugf("watch of %s ended after %d bytes: %v", label, n, err)
	w.ended[m] = true
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// round is called as a regular round starts: it checks every member, so
// the ended watches need no early check, and flooded members may be
// watched again.
func (w *watcher) round() {
	w.mu.Lock()
	defer w.mu.Unlock()
	clear(w.ended)
	clear(w.capped)
}

// due returns the members whose watch ended and whose last early check
// is at least every before now, and records now as their early check; and
// the time the next of the others becomes due (zero if none).
func (w *watcher) due(now time.Time) (members []*Member, next time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for m := range w.ended {
		at := w.last[m].Add(w.every)
		if !at.After(now) {
			members = append(members, m)
			delete(w.ended, m)
			w.last[m] = now
		} else if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return members, next
}

// count reports how many watches are open or dialling.
func (w *watcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.conns)
}

// close ends every watch, without events, and waits for their goroutines.
func (w *watcher) close() {
	w.mu.Lock()
	w.cancel()
	for _, c := range w.conns {
		if c != nil {
			c.Close()
		}
	}
	w.mu.Unlock()
	w.wg.Wait()
}
