package dnsfailover

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// notifier speaks systemd's notify protocol ($NOTIFY_SOCKET) and feeds
// its watchdog ($WATCHDOG_USEC) while rounds make progress.
type notifier struct {
	socket     string
	wdInterval time.Duration
	busySince  atomic.Int64 // unix nanoseconds; 0 while waiting between rounds
}

func newNotifier(getenv env) *notifier {
	n := &notifier{}
	n.socket, _ = getenv("NOTIFY_SOCKET")
	if v, ok := getenv("WATCHDOG_USEC"); ok {
		if us, err := strconv.ParseInt(v, 10, 64); err == nil && us > 0 {
			n.wdInterval = time.Duration(us) * time.Microsecond
		}
	}
	return n
}

func (n *notifier) send(state string) {
	if n.socket == "" {
		return
	}
	name := n.socket
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = conn.Write([]byte(state))
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which systemd wants
// with RELOADING=1.
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}

func (n *notifier) busy(b bool) {
	if b {
		n.busySince.Store(time.Now().UnixNano())
	} else {
		n.busySince.Store(0)
	}
}

// watchdog pings systemd at half its interval unless a round has been
// running for longer than the interval (then systemd restarts us).
func (n *notifier) watchdog(ctx context.Context) (stop func()) {
	if n.socket == "" || n.wdInterval == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(n.wdInterval / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				since := n.busySince.Load()
				if since == 0 || time.Since(time.Unix(0, since)) < n.wdInterval {
					n.send("WATCHDOG=1")
				}
			}
		}
	}()
	return cancel
}
