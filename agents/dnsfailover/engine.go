package dnsfailover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/ocfkit/ocfkit/internal/ddns"
	"github.com/ocfkit/ocfkit/internal/resource"
)

// maxParallel bounds the checks run at once: 1,000 members that all hang
// until the timeout still take one timeout a round.
const maxParallel = 1024

// Engine runs probe rounds and brings every primary in line with them.
type Engine struct {
	cfg    *Config
	client *ddns.Client
	state  *State
	log    *logger
	// DryRun prints each update as an nsupdate script on Out instead of
	// sending it.
	DryRun bool
	Out    io.Writer
	// watch holds the watches of the members checked over TCP (run only;
	// nil: none).
	watch *watcher
	// budget is the removals max_removals still allows until the next
	// regular round: early checks draw from it too.
	budget int
	// probe and restart are replaced by unit tests.
	probe   func(context.Context, *Member) error
	restart func(context.Context, *Member) error
	now     func() time.Time
}

// newEngine builds an engine for cfg with key (nil: unsigned updates).
func newEngine(cfg *Config, key *ddns.Key, st *State, log *logger) *Engine {
	return &Engine{cfg: cfg, client: &ddns.Client{Key: key, Timeout: cfg.Timeout}, state: st, log: log,
		probe: probe, restart: restartMember, now: time.Now}
}

// memberKey names a member in the state file.
func memberKey(r *Record, m *Member) string {
	return r.Name + " " + dns.TypeToString[r.Type()] + " " + m.Addr.String()
}

// recordKey names a record (a name and a type) in the state file.
func recordKey(r *Record) string { return r.Name + " " + dns.TypeToString[r.Type()] }

// Round probes every member once, updates rise/fall, and sends each
// primary the changes that bring it in line. It returns the errors of the
// primaries that could not be read or updated.
func (e *Engine) Round(ctx context.Context) error {
	start := e.now()
	if e.watch != nil {
		e.watch.round()
	}
	sets := e.readSets(ctx, e.cfg.Records)
	read := e.now()
	results := e.probeAll(ctx, e.members(e.cfg.Records))
	probed := e.now()
	if err := cutShort(ctx); err != nil {
		return err
	}
	e.judge(ctx, sets, results)
	e.watchHealthy(results, false)
	e.state.Rounds++
	e.state.Updated = e.now()
	e.budget = e.cfg.MaxRemovals
	err := e.apply(ctx, sets, false)
	e.log.debugf("round %d: read %v, probes %v, updates %v", e.state.Rounds, read.Sub(start), probed.Sub(read), e.now().Sub(probed))
	return err
}

// EarlyCheck is a partial round for the members whose watch ended: it
// probes them, judges them with the same rise and fall, and brings the
// primaries of their records in line, within what is left of the round's
// max_removals.
func (e *Engine) EarlyCheck(ctx context.Context, members []*Member) error {
	start := e.now()
	recs, names := e.where(members)
	sets := e.readSets(ctx, recs)
	results := e.probeAll(ctx, members)
	if err := cutShort(ctx); err != nil {
		return err
	}
	e.judge(ctx, sets, results)
	e.watchHealthy(results, true)
	e.state.EarlyChecks++
	e.state.Updated = e.now()
	err := e.apply(ctx, sets, false)
	e.log.debugf("early check %d (watch ended) of %s: %v", e.state.EarlyChecks, names, e.now().Sub(start))
	return err
}

// cutShort returns an error when ctx ended (SIGTERM) while the members
// were probed: the probes it cut failed for that, not for anything the
// members did, so nobody is judged on them (counted as failures, and
// saved, they marked healthy members down, removed at the next start).
func cutShort(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stopped while probing, nobody judged: %w", err)
	}
	return nil
}

// watchHealthy opens a watch of each watched member that passed its
// check; after an early check it first tells the watcher each outcome.
func (e *Engine) watchHealthy(results map[*Member]error, early bool) {
	if e.watch == nil {
		return
	}
	for _, r := range e.cfg.Records {
		for _, m := range r.Members {
			err, ok := results[m]
			if !ok || !m.Check.Watched {
				continue
			}
			if early {
				e.watch.checked(m, label(r, m), err)
			}
			if err == nil {
				e.watch.open(m, label(r, m))
			}
		}
	}
}

// members lists the members of recs.
func (e *Engine) members(recs []*Record) []*Member {
	var out []*Member
	for _, r := range recs {
		out = append(out, r.Members...)
	}
	return out
}

// where lists the records that hold any of members, and names the
// members as the log does.
func (e *Engine) where(members []*Member) (recs []*Record, names string) {
	want := map[*Member]bool{}
	for _, m := range members {
		want[m] = true
	}
	var l []string
	for _, r := range e.cfg.Records {
		held := false
		for _, m := range r.Members {
			if want[m] {
				held = true
				l = append(l, label(r, m))
			}
		}
		if held {
			recs = append(recs, r)
		}
	}
	return recs, strings.Join(l, ", ")
}

// label names member m of r in the log.
func label(r *Record, m *Member) string { return r.Name + " " + m.Addr.String() }

// Restore adds every configured member that a primary lacks, whatever the
// checks say.
func (e *Engine) Restore(ctx context.Context) error {
	return e.apply(ctx, e.readSets(ctx, e.cfg.Records), true)
}

// serverSet is what one primary holds for one record.
type serverSet struct {
	addrs []netip.Addr
	err   error
}

// readSets asks every primary for each of recs.
func (e *Engine) readSets(ctx context.Context, recs []*Record) map[*Record][]serverSet {
	out := make(map[*Record][]serverSet, len(recs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, r := range recs {
		sets := make([]serverSet, len(e.cfg.Servers))
		out[r] = sets
		for i, s := range e.cfg.Servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				qctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
				defer cancel()
				a, err := e.client.Query(qctx, s, r.Name, r.Type())
				mu.Lock()
				sets[i] = serverSet{a, err}
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return out
}

// probeAll probes members at once (at most maxParallel at a time).
func (e *Engine) probeAll(ctx context.Context, members []*Member) map[*Member]error {
	res := map[*Member]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallel)
	for _, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			pctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
			defer cancel()
			err := e.probe(pctx, m)
			mu.Lock()
			res[m] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	return res
}

// judge applies rise and fall to the results (members without one were
// not probed, and are left alone). A member seen for the first time starts
// up when a primary that could be read holds its record, down otherwise;
// one that reaches fall gets its restart, once per backoff, and is probed
// again.
func (e *Engine) judge(ctx context.Context, sets map[*Record][]serverSet, res map[*Member]error) {
	for _, r := range e.cfg.Records {
		for _, m := range r.Members {
			err, probed := res[m]
			if !probed {
				continue
			}
			if resource.Short(err) { // this host, not the member: no verdict
				e.log.infof("%s %s: no verdict, this host is short of resources: %v", r.Name, m.Addr, err)
				continue
			}
			st := e.state.member(memberKey(r, m))
			if !st.Known {
				present, read := false, false
				for _, s := range sets[r] {
					if s.err == nil {
						read = true
						present = present || has(s.addrs, m.Addr)
					}
				}
				if !read {
					continue // nothing known yet: judged once a primary answers
				}
				st.Known, st.Up = true, present
			}
			if err == nil {
				st.OK++
				st.Fail = 0
				st.LastError = ""
				if !st.Up && st.OK >= e.cfg.Rise {
					st.Up = true
					e.log.event("up", r, m, fmt.Sprintf("%s %s is healthy again (%d checks)", r.Name, m.Addr, st.OK))
				}
				continue
			}
			st.Fail++
			st.OK = 0
			st.LastError = err.Error()
			if !st.Up || st.Fail < e.cfg.Fall {
				if st.Up {
					e.log.debugf("%s %s failed %d/%d: %v", r.Name, m.Addr, st.Fail, e.cfg.Fall, err)
				}
				continue
			}
			if e.tryRestart(ctx, r, m, st) {
				continue
			}
			if ctx.Err() != nil {
				return // the restart's check was cut short: no verdict
			}
			st.Up = false
			e.log.event("down", r, m, fmt.Sprintf("%s %s failed %d checks: %v", r.Name, m.Addr, st.Fail, err))
		}
	}
}

// tryRestart restarts a failed member's service, when configured and not
// done within its backoff, and probes it again; true if it recovered.
func (e *Engine) tryRestart(ctx context.Context, r *Record, m *Member, st *MemberState) bool {
	if m.Restart == nil || e.DryRun {
		return false
	}
	if !st.LastRestart.IsZero() && e.now().Sub(st.LastRestart) < m.Restart.BackoffD {
		return false
	}
	st.LastRestart = e.now()
	st.Restarts++
	rctx, cancel := context.WithTimeout(ctx, m.Restart.TimeoutD)
	err := e.restart(rctx, m)
	cancel()
	if err != nil {
		e.log.event("restart-failed", r, m, fmt.Sprintf("%s %s: restart failed: %v", r.Name, m.Addr, err))
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	err = e.probe(pctx, m)
	cancel()
	if err != nil {
		e.log.event("restart-failed", r, m, fmt.Sprintf("%s %s: still failing after a restart: %v", r.Name, m.Addr, err))
		return false
	}
	st.Fail, st.OK, st.LastError = 0, 1, ""
	e.log.event("restarted", r, m, fmt.Sprintf("%s %s: healthy again after a restart", r.Name, m.Addr))
	return true
}

// target decides the addresses a record should have: its healthy members,
// and as many failed ones as min_records and the round's removal budget
// keep. budget is decremented by the removals it allows.
func (e *Engine) target(r *Record, sets []serverSet, budget *int, restore bool) (up, keep []netip.Addr) {
	var down []netip.Addr
	configured := map[netip.Addr]bool{}
	for _, m := range r.Members {
		configured[m.Addr] = true
		st := e.state.member(memberKey(r, m))
		if restore || (st.Known && st.Up) {
			up = append(up, m.Addr)
		} else if st.Known {
			down = append(down, m.Addr)
		}
	}
	if restore {
		return up, nil
	}
	// What the primaries hold: unmanaged records count towards min_records;
	// failed members present somewhere are the ones a removal would take.
	var present []netip.Addr
	unmanaged := map[netip.Addr]bool{}
	for _, s := range sets {
		if s.err != nil {
			continue
		}
		for _, a := range s.addrs {
			if !configured[a] {
				unmanaged[a] = true
			}
		}
	}
	for _, a := range down {
		for _, s := range sets {
			if s.err == nil && has(s.addrs, a) {
				present = append(present, a)
				break
			}
		}
	}
	have := len(up) + len(unmanaged)
	for _, a := range present {
		switch {
		case have < r.Min:
			keep = append(keep, a)
			have++
			e.log.refusal(r, a, fmt.Sprintf("keeping %s %s although it fails: min_records is %d", r.Name, a, r.Min))
		case e.cfg.MaxRemovals > 0 && *budget <= 0:
			keep = append(keep, a)
			e.log.refusal(r, a, fmt.Sprintf("keeping %s %s although it fails: max_removals (%d) reached this round", r.Name, a, e.cfg.MaxRemovals))
		default:
			*budget--
		}
	}
	e.state.setKept(r, keep)
	return up, keep
}

// apply sends every primary the change that brings each record of sets in
// line with the decisions, then reads it back.
func (e *Engine) apply(ctx context.Context, sets map[*Record][]serverSet, restore bool) error {
	var errs []error
	for _, r := range e.cfg.Records {
		if _, read := sets[r]; !read || !restore && !e.allKnown(r) {
			continue
		}
		up, keep := e.target(r, sets[r], &e.budget, restore)
		for i, srv := range e.cfg.Servers {
			s := sets[r][i]
			if s.err != nil {
				err := fmt.Errorf("primary %s: %w", srv, s.err)
				e.state.setPrimary(srv, err)
				e.log.failure(r, fmt.Sprintf("primary %s not updated: %v", srv, s.err))
				errs = append(errs, err)
				continue
			}
			c := change(r, s.addrs, up, keep)
			if n := len(c.Expect) - len(c.Delete) + len(c.Add); n < r.Min && len(c.Delete) > 0 {
				// Primaries that disagree: this one would go below min_records.
				k := min(r.Min-n, len(c.Delete))
				for _, a := range c.Delete[:k] {
					e.log.refusal(r, a, fmt.Sprintf("keeping %s %s on %s although it fails: min_records is %d", r.Name, a, srv, r.Min))
				}
				c.Delete = c.Delete[k:]
			}
			if c.Empty() {
				e.state.setPrimary(srv, nil)
				continue
			}
			if err := e.send(ctx, srv, c); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// transitioning reports whether a member has failed since it was last up,
// or answered since it was last down, without reaching fall or rise: its
// next checks come fast_interval apart (HAProxy's fastinter).
func (e *Engine) transitioning() bool {
	for _, r := range e.cfg.Records {
		for _, m := range r.Members {
			st := e.state.member(memberKey(r, m))
			if st.Known && (st.Up && st.Fail > 0 || !st.Up && st.OK > 0) {
				return true
			}
		}
	}
	return false
}

// allKnown reports whether every member of r has a state: until then a
// removal could rest on a guess.
func (e *Engine) allKnown(r *Record) bool {
	for _, m := range r.Members {
		if !e.state.member(memberKey(r, m)).Known {
			return false
		}
	}
	return true
}

// change computes the update for one primary holding have.
func change(r *Record, have, up, keep []netip.Addr) *ddns.Change {
	c := &ddns.Change{Zone: r.Zone, Name: r.Name, Type: r.Type(), TTL: r.TTL, Expect: have}
	for _, a := range up {
		if !has(have, a) {
			c.Add = append(c.Add, a)
		}
	}
	for _, m := range r.Members {
		if has(have, m.Addr) && !has(up, m.Addr) && !has(keep, m.Addr) {
			c.Delete = append(c.Delete, m.Addr)
		}
	}
	return c
}

func (e *Engine) send(ctx context.Context, srv string, c *ddns.Change) error {
	what := describe(c)
	if e.DryRun {
		fmt.Fprint(e.Out, ddns.Script(srv, c))
		return nil
	}
	uctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	err := e.client.Update(uctx, srv, c)
	cancel()
	if err != nil {
		reason := err.Error()
		switch {
		case errors.Is(err, ddns.ErrBadSig):
			reason = "BADSIG: the server refused our TSIG signature: " + reason
		case errors.Is(err, ddns.ErrPrereq):
			reason = "the RRset changed since it was read (prerequisite failed, nothing changed; the next round retries): " + reason
		}
		err = fmt.Errorf("primary %s: %s: %s", srv, what, reason)
		e.state.setPrimary(srv, err)
		e.log.changeFailed(c, err.Error())
		return err
	}
	// Read it back: a primary that does not show the change is reported.
	want := apply(c)
	qctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	got, qerr := e.client.Query(qctx, srv, c.Name, c.Type)
	cancel()
	if qerr != nil || !equal(got, want) {
		err := fmt.Errorf("primary %s: %s: sent, but it answers %v (want %v) %v", srv, what, got, want, qerr)
		e.state.setPrimary(srv, err)
		e.log.changeFailed(c, err.Error())
		return err
	}
	e.state.setPrimary(srv, nil)
	e.log.changed(c, fmt.Sprintf("primary %s: %s", srv, what))
	return nil
}

func describe(c *ddns.Change) string {
	var parts []string
	for _, a := range c.Delete {
		parts = append(parts, "deleted "+c.Name+" "+dns.TypeToString[c.Type]+" "+a.String())
	}
	for _, a := range c.Add {
		parts = append(parts, "added "+c.Name+" "+dns.TypeToString[c.Type]+" "+a.String())
	}
	return strings.Join(parts, ", ")
}

// apply returns the set a primary holds after c.
func apply(c *ddns.Change) []netip.Addr {
	var out []netip.Addr
	for _, a := range c.Expect {
		if !has(c.Delete, a) {
			out = append(out, a)
		}
	}
	for _, a := range c.Add {
		if !has(out, a) {
			out = append(out, a)
		}
	}
	ddns.Sort(out)
	return out
}

func has(list []netip.Addr, a netip.Addr) bool {
	for _, b := range list {
		if b == a {
			return true
		}
	}
	return false
}

func equal(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = append([]netip.Addr(nil), a...), append([]netip.Addr(nil), b...)
	sort.Slice(a, func(i, j int) bool { return a[i].Less(a[j]) })
	sort.Slice(b, func(i, j int) bool { return b[i].Less(b[j]) })
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
