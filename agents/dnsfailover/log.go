package dnsfailover

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/ocfkit/ocfkit/action"
	"github.com/ocfkit/ocfkit/internal/ddns"
	"github.com/ocfkit/ocfkit/internal/oneline"
	"github.com/ocfkit/ocfkit/internal/systemlog"
)

// notifyTimeout bounds one run of the notify hook.
const notifyTimeout = 30 * time.Second

// hookParallel bounds the notify processes run at once, and hookQueue
// the events waiting for one: beyond it, events are dropped and counted
// in the log. A thousand members failing in one check raise two thousand
// events (down, refused, changed): each ran its process at once, so many
// that forks and descriptors ran out for the checks themselves.
// (Variables for the tests.)
var hookParallel, hookQueue = 8, 1024

// hookDrain bounds how long wait lets queued events start their hook at
// the end: the ones still waiting then are dropped, so that a stop after
// a burst ends within hookDrain and notifyTimeout (systemd's stop timeout
// is 90s), not after a thousand hooks in turn. (A variable for the tests.)
var hookDrain = notifyTimeout

// logger sends every change and refusal to stderr, the system log and
// the notify hook.
type logger struct {
	mu     sync.Mutex
	stderr io.Writer
	sys    *systemlog.Log // nil: none
	debug  bool
	notify []string
	wg     sync.WaitGroup
	// hooks holds a token per notify process running (made on first use);
	// waiting counts the events queued or running, dropped those dropped
	// since the queue was last empty. Under mu.
	hooks   chan struct{}
	waiting int
	dropped int
	// drained is closed when wait has waited hookDrain (made with hooks).
	drained   chan struct{}
	drainOnce sync.Once
}

func (l *logger) line(pri systemlog.Priority, msg string) {
	msg = oneline.Fold(msg)
	l.mu.Lock()
	fmt.Fprintf(l.stderr, "dns-failover: %s\n", msg)
	l.mu.Unlock()
	if l.sys != nil {
		l.sys.Send(pri, msg)
	}
}

func (l *logger) infof(format string, a ...any) { l.line(systemlog.Info, fmt.Sprintf(format, a...)) }

func (l *logger) debugf(format string, a ...any) {
	if l.debug {
		l.line(systemlog.Debug, "debug: "+fmt.Sprintf(format, a...))
	}
}

// event reports a member's change of health.
func (l *logger) event(kind string, r *Record, m *Member, msg string) {
	pri := systemlog.Info
	if kind != "up" && kind != "restarted" {
		pri = systemlog.Warning
	}
	l.line(pri, msg)
	l.hook(kind, r.Name, m.Addr.String(), msg)
}

// refusal reports a change not made for safety.
func (l *logger) refusal(r *Record, a netip.Addr, msg string) {
	l.line(systemlog.Warning, msg)
	l.hook("refused", r.Name, a.String(), msg)
}

// failure reports a primary that could not be read.
func (l *logger) failure(r *Record, msg string) {
	l.line(systemlog.Error, r.Name+": "+msg)
	l.hook("primary-failed", r.Name, "", msg)
}

func (l *logger) changed(c *ddns.Change, msg string) {
	l.line(systemlog.Info, msg)
	l.hook("changed", c.Name, "", msg)
}

func (l *logger) changeFailed(c *ddns.Change, msg string) {
	l.line(systemlog.Error, msg)
	l.hook("update-failed", c.Name, "", msg)
}

// hook runs the notify command with the event in its environment
// (DNS_FAILOVER_EVENT, _NAME, _ADDRESS, _MESSAGE) and the message on its
// standard input; it does not wait for it (wait does).
func (l *logger) hook(kind, name, addr, msg string) {
	notify := l.notify // a reload may replace it meanwhile
	if len(notify) == 0 {
		return
	}
	l.mu.Lock()
	l.start()
	if l.waiting >= hookQueue {
		l.dropped++
		first := l.dropped == 1
		l.mu.Unlock()
		if first {
			l.line(systemlog.Error, fmt.Sprintf("notify: %d events waiting for the hook already; dropping the next ones (%s %s %s)", hookQueue, kind, name, addr))
		}
		return
	}
	l.waiting++
	l.mu.Unlock()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		select {
		case l.hooks <- struct{}{}:
		case <-l.drained:
			l.hookDone(false)
			return
		}
		defer l.hookDone(true)
		ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
		defer cancel()
		if err := action.CheckCommand(notify); err != nil {
			l.line(systemlog.Error, fmt.Sprintf("notify: %v", err))
			return
		}
		cmd := exec.CommandContext(ctx, notify[0], notify[1:]...)
		cmd.Env = append(os.Environ(), "DNS_FAILOVER_EVENT="+kind, "DNS_FAILOVER_NAME="+dns.Fqdn(name),
			"DNS_FAILOVER_ADDRESS="+addr, "DNS_FAILOVER_MESSAGE="+oneline.Fold(msg))
		if out, err := cmd.CombinedOutput(); err != nil {
			l.line(systemlog.Error, fmt.Sprintf("notify %s: %v: %s", notify[0], err, lastLine(out)))
		}
	}()
}

// start makes the hooks' token and drain channels; l.mu is held.
func (l *logger) start() {
	if l.hooks == nil {
		l.hooks, l.drained = make(chan struct{}, hookParallel), make(chan struct{})
	}
}

// hookDone ends an event: its hook ran (and its token is freed), or it
// was dropped at the drain. The last one of a burst says how many events
// were dropped.
func (l *logger) hookDone(ran bool) {
	if ran {
		<-l.hooks
	}
	l.mu.Lock()
	l.waiting--
	if !ran {
		l.dropped++
	}
	dropped := 0
	if l.waiting == 0 {
		dropped, l.dropped = l.dropped, 0
	}
	l.mu.Unlock()
	if dropped > 0 {
		l.line(systemlog.Error, fmt.Sprintf("notify: %d events dropped, the hook being too slow for them", dropped))
	}
}

// wait waits for the notify hooks started so far; the events still
// queued after hookDrain are dropped.
func (l *logger) wait() {
	l.mu.Lock()
	l.start()
	drained := l.drained
	l.mu.Unlock()
	t := time.AfterFunc(hookDrain, func() { l.drainOnce.Do(func() { close(drained) }) })
	defer t.Stop()
	l.wg.Wait()
}
