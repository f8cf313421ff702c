package anycastprobe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"

	"github.com/ocfkit/ocfkit/action"
)

// daemon runs the services of one configuration.
type daemon struct {
	cfg    *Config
	load   func() (*Config, error) // nil: no reload (a one-liner)
	logf   func(format string, a ...any)
	notify func(state string)

	mu      sync.Mutex
	runners map[string]*runner
	cancel  map[string]context.CancelFunc
	now     map[string]chan struct{}
	wg      map[string]*sync.WaitGroup
	paused  bool
}

func newDaemon(cfg *Config, logf func(string, ...any), notify func(string)) *daemon {
	return &daemon{cfg: cfg, logf: logf, notify: notify,
		runners: map[string]*runner{}, cancel: map[string]context.CancelFunc{},
		now: map[string]chan struct{}{}, wg: map[string]*sync.WaitGroup{}}
}

// reconcile removes what a previous run left: the addresses of this
// configuration's services that carry our protocol mark, and our host
// routes to its route destinations. Other addresses with our mark are left
// (another instance, a one-liner, may hold them) and named in the log.
// Every service then starts DOWN.
func (d *daemon) reconcile() error {
	var errs []error
	mine := map[string]map[netip.Prefix]bool{} // interface -> addresses of the file
	for _, name := range d.cfg.Names() {
		s := d.cfg.Services[name]
		if mine[s.Interface] == nil {
			mine[s.Interface] = map[netip.Prefix]bool{}
		}
		for _, p := range s.Prefixes {
			mine[s.Interface][p] = true
		}
		for _, dst := range s.RouteDests {
			r := &action.HostRoute{Interface: s.Interface, Dest: dst, Protocol: uint8(d.cfg.Protocol)}
			errs = append(errs, r.Down(context.Background()))
		}
	}
	for iface, want := range mine {
		if len(want) == 0 {
			continue
		}
		owned, err := action.Owned(iface, uint8(d.cfg.Protocol))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var stale, foreign []netip.Prefix
		for _, p := range owned {
			if want[p] {
				stale = append(stale, p)
			} else {
				foreign = append(foreign, p)
			}
		}
		if len(stale) > 0 {
			d.logf("removing %d address(es) left on %s by an earlier run: %v", len(stale), iface, stale)
			errs = append(errs, action.RemoveOwned(iface, stale))
		}
		if len(foreign) > 0 {
			d.logf("leaving %v on %s: marked with protocol %d but in no service of this configuration (another instance's?)", foreign, iface, d.cfg.Protocol)
		}
	}
	return errors.Join(errs...)
}

// start starts a runner per service not running yet.
func (d *daemon) start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, name := range d.cfg.Names() {
		if _, running := d.runners[name]; running {
			continue
		}
		r, err := newRunner(d.cfg.Services[name], uint8(d.cfg.Protocol), d.logf)
		if err != nil {
			return err
		}
		d.startRunner(name, r)
	}
	return nil
}

func (d *daemon) startRunner(name string, r *runner) {
	ctx, cancel := context.WithCancel(context.Background())
	now := make(chan struct{}, 1)
	wg := &sync.WaitGroup{}
	wg.Add(1)
	go func() { defer wg.Done(); r.loop(ctx, now) }()
	d.runners[name], d.cancel[name], d.now[name], d.wg[name] = r, cancel, now, wg
}

// stopRunner ends a runner's loop, waits for it, and withdraws what it
// holds. d.mu is held.
func (d *daemon) stopRunner(name, why string) {
	d.cancel[name]()
	d.wg[name].Wait()
	d.runners[name].withdraw(context.Background(), why)
	delete(d.runners, name)
	delete(d.cancel, name)
	delete(d.now, name)
	delete(d.wg, name)
}

// stopAll stops every runner at once and withdraws everything.
func (d *daemon) stopAll(why string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.cancel {
		c()
	}
	var wg sync.WaitGroup
	for name := range d.runners {
		wg.Add(1)
		go func() { defer wg.Done(); d.wg[name].Wait(); d.runners[name].withdraw(context.Background(), why) }()
	}
	wg.Wait()
	clear(d.runners)
	clear(d.cancel)
	clear(d.now)
	clear(d.wg)
}

// probeNow wakes every runner.
func (d *daemon) probeNow() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ch := range d.now {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// reload reads the file again: services whose configuration is unchanged
// keep running with their state; removed or changed ones are withdrawn
// (changed ones start again, DOWN).
func (d *daemon) reload() error {
	cfg, err := d.load()
	if err != nil {
		return err
	}
	if cfg.Protocol != d.cfg.Protocol || cfg.Socket != d.cfg.Socket || cfg.MetricsListen != d.cfg.MetricsListen {
		return fmt.Errorf("protocol, socket and metrics_listen cannot change on reload; restart instead")
	}
	d.mu.Lock()
	for name, r := range d.runners {
		if ns, ok := cfg.Services[name]; !ok || !sameService(ns, r.svc) {
			d.stopRunner(name, "reconfigured")
		}
	}
	d.cfg = cfg
	paused := d.paused
	d.mu.Unlock()
	if paused {
		return nil
	}
	return d.start()
}

// sameService compares two services' configuration.
func sameService(a, b *Service) bool {
	x, y := *a, *b
	x.Line, y.Line = 0, 0
	xc, yc := x.Checks, y.Checks
	x.Checks, y.Checks = nil, nil
	if !reflect.DeepEqual(x, y) || len(xc) != len(yc) {
		return false
	}
	for i := range xc {
		cx, cy := *xc[i], *yc[i]
		cx.Line, cy.Line = 0, 0
		if !reflect.DeepEqual(cx, cy) {
			return false
		}
	}
	return true
}

// counts returns services up and total.
func (d *daemon) counts() (up, total int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.runners {
		if r.isUp() {
			up++
		}
	}
	return up, len(d.cfg.Services)
}

// statusLine is the one line of systemd's STATUS.
func (d *daemon) statusLine() string {
	up, total := d.counts()
	d.mu.Lock()
	paused := d.paused
	d.mu.Unlock()
	if paused {
		return fmt.Sprintf("paused (SIGTSTP): 0/%d services up; SIGCONT resumes", total)
	}
	return fmt.Sprintf("%d/%d services up", up, total)
}

// status is the text `anycast-probe status` prints.
func (d *daemon) status() string {
	var b strings.Builder
	fmt.Fprintf(&b, "anycast-probe: %s\n", d.statusLine())
	d.mu.Lock()
	names := d.cfg.Names()
	rs := make([]*runner, 0, len(names))
	for _, n := range names {
		if r := d.runners[n]; r != nil {
			rs = append(rs, r)
		} else {
			fmt.Fprintf(&b, "service %s: down (not probing)\n  holds nothing\n", n)
		}
	}
	d.mu.Unlock()
	for _, r := range rs {
		b.WriteString(r.status())
	}
	return b.String()
}

// The requests of the status socket: a client writes one line (or
// nothing, and shuts its side down) and reads the answer to the end.
const (
	requestText = "text"
	requestJSON = "json"
)

// serveStatus answers every connection to ln with the status: JSON when
// the client asks with the line "json", else the text.
func (d *daemon) serveStatus(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			// A client that only reads (socat, nc -U) gets the text
			// after this wait.
			_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			req := readRequest(c)
			_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			if req == requestJSON {
				_, _ = c.Write(d.statusJSON())
				return
			}
			_, _ = io.WriteString(c, d.status())
		}()
	}
}

// readRequest reads the client's request line (at most 64 bytes, until a
// newline, the end of its side, or the deadline); anything unknown is
// the text request.
func readRequest(c net.Conn) string {
	var buf [64]byte
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if bytes.IndexByte(buf[:n], '\n') >= 0 || err != nil {
			break
		}
	}
	line, _, _ := bytes.Cut(buf[:n], []byte("\n"))
	if string(bytes.TrimSpace(line)) == requestJSON {
		return requestJSON
	}
	return requestText
}

// listenStatus opens the status socket, refusing one a live daemon serves.
func listenStatus(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("status socket %s: another anycast-probe answers on it", path)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("status socket %s: exists and is not a socket", path)
		}
		_ = os.Remove(path)
	}
	// Under systemd RuntimeDirectory makes the directory; by hand, we do.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("status socket: %w", err)
	}
	old := syscall.Umask(0o077)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("status socket: %w", err)
	}
	return ln, nil
}

// run is the daemon's life: reconcile, start, then serve signals until
// SIGTERM or SIGINT.
func (d *daemon) run(ln, metricsLn net.Listener) error {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGTSTP, syscall.SIGCONT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	if err := d.reconcile(); err != nil {
		return fmt.Errorf("removing what an earlier run left: %w", err)
	}
	if ln != nil {
		defer ln.Close()
		go d.serveStatus(ln)
	}
	if metricsLn != nil {
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		go d.serveMetrics(ctx, metricsLn)
	}
	if err := d.start(); err != nil {
		d.stopAll("start failed")
		return err
	}
	d.notify("READY=1\nSTATUS=" + d.statusLine())
	d.logf("started: %d services, all DOWN until their first rise", len(d.cfg.Services))
	var wd <-chan time.Time
	if iv, err := sddaemon.SdWatchdogEnabled(false); err == nil && iv > 0 {
		t := time.NewTicker(iv / 3)
		defer t.Stop()
		wd = t.C
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := ""
	for {
		select {
		case <-wd:
			d.notify("WATCHDOG=1")
		case <-tick.C:
			if s := d.statusLine(); s != last {
				d.notify("STATUS=" + s)
				last = s
			}
		case sig := <-sigs:
			if done := d.signal(sig.(syscall.Signal)); done {
				return nil
			}
		}
	}
}

// signal handles one signal; true means exit.
func (d *daemon) signal(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGTERM, syscall.SIGINT:
		d.notify("STOPPING=1")
		d.logf("%v: withdrawing every address and exiting", sig)
		d.stopAll("stopping")
		return true
	case syscall.SIGTSTP:
		d.mu.Lock()
		was := d.paused
		d.paused = true
		d.mu.Unlock()
		if !was {
			d.logf("SIGTSTP: withdrawing every address and pausing; SIGCONT resumes")
			d.stopAll("paused")
		}
	case syscall.SIGCONT:
		d.mu.Lock()
		was := d.paused
		d.paused = false
		d.mu.Unlock()
		if was {
			d.logf("SIGCONT: resuming, every service DOWN until its first rise")
			if err := d.start(); err != nil {
				d.logf("resuming: %v", err)
			}
		}
	case syscall.SIGHUP:
		if d.load == nil {
			return false
		}
		d.notify("RELOADING=1")
		if err := d.reload(); err != nil {
			d.logf("SIGHUP: keeping the running configuration: %v", err)
		} else {
			d.logf("SIGHUP: configuration reloaded")
		}
		d.notify("READY=1\nSTATUS=" + d.statusLine())
	case syscall.SIGUSR1:
		d.probeNow()
	}
	d.notify("STATUS=" + d.statusLine())
	return false
}

// checkOnce runs one round of every service's checks and writes a verdict
// per service; it reports whether all are healthy.
func checkOnce(ctx context.Context, cfg *Config, w io.Writer) (bool, error) {
	all := true
	for _, name := range cfg.Names() {
		r, err := newRunner(cfg.Services[name], uint8(cfg.Protocol), func(string, ...any) {})
		if err != nil {
			return false, err
		}
		ok, res := r.probe(ctx)
		verdict := "healthy"
		if !ok {
			verdict, all = "unhealthy", false
		}
		fmt.Fprintf(w, "%s: %s (%s): %s\n", name, verdict, r.svc.Mode, summary(res))
	}
	return all, nil
}
