// Package realserver is ocf-realserver: the OCF resource agent
// ocf:ocfkit:realserver, the real-server side of LVS direct routing. It
// puts every VIP of a vipaddrs file on the loopback as a host prefix and
// keeps the node from answering ARP for them (arp_ignore=1,
// arp_announce=2), and undoes exactly what it did on stop; meant to run as
// a clone. Without Pacemaker, ocf-realserver up, down and status do the
// same.
package realserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// Agent returns the ocf-realserver program.
func Agent() *ocf.Agent {
	return &ocf.Agent{
		Name:    "realserver",
		Program: "ocf-realserver",
		Actions: map[string]ocf.Handler{
			"start":        Start,
			"stop":         Stop,
			"monitor":      Monitor,
			"validate-all": ValidateAll,
		},
		Commands: commands(),
	}
}

// MaxFileSize bounds the vipaddrs file.
const MaxFileSize = 1 << 20

// defaultVipaddrs is the vendors' file.
const defaultVipaddrs = "/etc/sysconfig/vipaddrs"

// settings are an instance's parameters, parsed.
type settings struct {
	addrs         []netip.Addr
	iface         string
	arpInterfaces string
	restore       bool
}

// readSettings reads the parameters and the vipaddrs file. A mistake in
// them is ErrConfigured; a file missing or unsafe on this node is
// ErrInstalled.
func readSettings(p *ocf.Params) (settings, error) {
	var s settings
	var l addrList
	path := p.String("vipaddrs")
	inline := p.String("addresses")
	if path != "" {
		more, err := readVipaddrs(path)
		// The default file may be absent when addresses are given inline.
		if errors.Is(err, fs.ErrNotExist) && !p.IsSet("vipaddrs") && strings.TrimSpace(inline) != "" {
			err = nil
		}
		if err != nil {
			return s, err
		}
		if err := l.merge(more); err != nil {
			return s, ocf.WithCode(ocf.ErrConfigured, err)
		}
	}
	more, err := ParseList(inline)
	if err == nil {
		err = l.merge(more)
	}
	if err != nil {
		return s, ocf.Errorf(ocf.ErrConfigured, "addresses: %w", err)
	}
	if len(l.addrs) == 0 {
		return s, ocf.Errorf(ocf.ErrConfigured, "no addresses: %s lists none and addresses is empty", path)
	}
	s.addrs = l.addrs
	s.iface = p.String("interface")
	if s.iface == "" || strings.ContainsAny(s.iface, "/ \x00") || len(s.iface) > 15 {
		return s, ocf.Errorf(ocf.ErrConfigured, "interface=%q is not an interface name", s.iface)
	}
	s.arpInterfaces = p.String("arp_interfaces")
	if _, err := arpInterfaceNames(s.arpInterfaces); err != nil {
		return s, ocf.WithCode(ocf.ErrConfigured, err)
	}
	if s.restore, err = p.Bool("restore_sysctls"); err != nil {
		return s, err
	}
	return s, nil
}

// readVipaddrs reads and parses a vipaddrs file, which must be a regular
// file only root (or the user we run as) can have written: it decides
// what root configures.
func readVipaddrs(path string) ([]netip.Addr, error) {
	b, err := filesafe.ReadFile(path, os.Geteuid(), MaxFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ocf.Errorf(ocf.ErrInstalled, "vipaddrs file %s: %w", path, err)
	}
	if err != nil {
		return nil, ocf.Errorf(ocf.ErrInstalled, "vipaddrs file: %w", err)
	}
	addrs, err := Parse(b)
	if err != nil {
		return nil, ocf.Errorf(ocf.ErrConfigured, "%s: %w", path, err)
	}
	return addrs, nil
}

// validateNode checks what the settings need on this node: the interface
// exists and answers no ARP itself (the loopback, or a NOARP interface
// such as a dummy), IPv6 is on where IPv6 VIPs go, and the sysctls exist.
func (s settings) validateNode() error {
	l, err := openLink(s.iface)
	if err != nil {
		return ocf.Errorf(ocf.ErrInstalled, "on this node: %w", err)
	}
	l.Close()
	answers, err := answersNeighbours(s.iface)
	if err != nil {
		return ocf.Errorf(ocf.ErrInstalled, "interface %s: %w", s.iface, err)
	}
	if answers {
		return ocf.Errorf(ocf.ErrConfigured, "interface %s answers ARP: VIPs on it would be claimed on the wire (use lo or a NOARP interface such as a dummy)", s.iface)
	}
	for _, a := range s.addrs {
		if a.Is6() && ipv6Disabled(s.iface) {
			return ocf.Errorf(ocf.ErrInstalled, "%v is IPv6 and IPv6 is disabled on %s", a, s.iface)
		}
	}
	cs, err := confs(s.arpInterfaces)
	if err != nil {
		return ocf.Errorf(ocf.ErrInstalled, "%w", err)
	}
	for _, f := range sysctlFiles(cs) {
		if _, err := os.Stat(f); err != nil {
			return ocf.Errorf(ocf.ErrInstalled, "arp_interfaces: %s: %w", sysctlName(f), err)
		}
	}
	return nil
}

// interfaceUp fails (1, which a later start may cure) when the interface
// is down: addresses on it are not local, so the VIPs would not be served.
func (s settings) interfaceUp() error {
	l, err := openLink(s.iface)
	if err != nil {
		return ocf.Errorf(ocf.ErrInstalled, "on this node: %w", err)
	}
	defer l.Close()
	if l.link.Attrs().Flags&net.FlagUp == 0 {
		return ocf.Errorf(ocf.ErrGeneric, "interface %s is down: the VIPs on it would not be local addresses", s.iface)
	}
	return nil
}

// ValidateAll checks the parameters, the file (6 or 5) and this node (5),
// the state directory included.
func ValidateAll(ctx context.Context, req *ocf.Request) error {
	s, err := readSettings(req.Params)
	if err != nil {
		return err
	}
	if err := s.validateNode(); err != nil {
		return err
	}
	dir, _ := where(req)
	if err := checkStateDir(dir); err != nil {
		return ocf.WithCode(ocf.ErrInstalled, err)
	}
	return nil
}

// where returns the shared state directory and this instance's name.
func where(req *ocf.Request) (dir, name string) {
	f := req.StateFile("ocf-realserver")
	name = strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "ocf-realserver-"), ".state")
	return filepath.Join(filepath.Dir(f), "ocf-realserver"), name
}

// Start validates, registers the instance, adds the addresses that are
// missing and sets the sysctls that are not as required, saving their
// values. Starting a started instance changes nothing.
func Start(ctx context.Context, req *ocf.Request) error {
	s, err := readSettings(req.Params)
	if err != nil {
		return err
	}
	if err := s.validateNode(); err != nil {
		return err
	}
	if err := s.interfaceUp(); err != nil {
		return err
	}
	cs, err := confs(s.arpInterfaces)
	if err != nil {
		return ocf.Errorf(ocf.ErrInstalled, "%w", err)
	}
	inst := Instance{Interface: s.iface, Sysctls: sysctlFiles(cs), Restore: s.restore}
	for _, a := range s.addrs {
		inst.Addresses = append(inst.Addresses, a.String())
	}
	dir, name := where(req)
	// An unsafe state directory is this node's setup: refused before
	// anything is created (5, not retried here).
	if err := makeStateDir(dir); err != nil {
		return ocf.WithCode(ocf.ErrInstalled, err)
	}
	// The state lock is held for one step at a time, never across the
	// whole list: another instance's stop waits for one chunk at most.
	inst.Token, err = newToken()
	if err != nil {
		return ocf.WithCode(ocf.ErrGeneric, err)
	}
	err = withState(ctx, dir, req.Log.Warnf, func(st *store, state *State) error {
		// A changed instance first gives up what it no longer lists.
		if old, ok := state.Instances[name]; ok {
			delete(state.Instances, name)
			if _, err := release(ctx, state, old, inst, 0); err != nil {
				state.Instances[name] = old
				_ = st.save(state)
				return err
			}
		}
		state.Instances[name] = inst
		return st.save(state)
	})
	if err != nil {
		return ocf.WithCode(ocf.ErrGeneric, err)
	}
	added, adopted := 0, 0
	for i := 0; i < len(s.addrs) && err == nil; i += lockChunk {
		if i > 0 {
			letWaitersIn(ctx)
		}
		chunk := s.addrs[i:min(i+lockChunk, len(s.addrs))]
		err = withState(ctx, dir, req.Log.Warnf, func(st *store, state *State) error {
			if !stillRegistered(state, name, inst.Token) {
				return undoStart(ctx, st, state, name, inst)
			}
			n, m, err := addAll(ctx, st, state, s.iface, chunk)
			added += n
			adopted += m
			return err
		})
	}
	req.Log.Infof("added %d of %d addresses to %s", added, len(s.addrs), s.iface)
	if adopted > 0 {
		req.Log.Infof("adopted %d addresses on %s that carry the agent's mark (protocol %d) and that no registered instance listed", adopted, s.iface, Protocol)
	}
	if err != nil {
		return ocf.WithCode(ocf.ErrGeneric, err)
	}
	err = withState(ctx, dir, req.Log.Warnf, func(st *store, state *State) error {
		if !stillRegistered(state, name, inst.Token) {
			return undoStart(ctx, st, state, name, inst)
		}
		return setSysctls(st, state, inst.Sysctls, inst.Restore)
	})
	if err != nil {
		return ocf.WithCode(ocf.ErrGeneric, err)
	}
	// Started means what monitor checks holds.
	if err := check(ctx, inst, 0); err != nil {
		return ocf.WithCode(ocf.ErrGeneric, err)
	}
	return nil
}

// errStoppedWhileStarting is start's error when a stop (or another start
// of the same instance) took its registration away between two holdings
// of the state lock.
var errStoppedWhileStarting = errors.New("stopped while starting: a stop of this instance ran meanwhile; what this start added is undone")

// newToken returns a random token telling one start's registration from
// any other of the same instance.
func newToken() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a start token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// stillRegistered reports whether the instance name is still registered by
// the start that holds token: start checks it in every holding of the
// lock after the first, since a stop may have run in between.
func stillRegistered(state *State, name, token string) bool {
	cur, ok := state.Instances[name]
	return ok && cur.Token == token
}

// undoStart gives up what a start whose registration is gone added (the
// addresses it owns that no registered instance lists). When that fails
// it registers the instance again, so that a stop retries the removal
// instead of finding nothing registered and leaving the addresses.
func undoStart(ctx context.Context, st *store, state *State, name string, inst Instance) error {
	_, err := release(ctx, state, inst, Instance{}, 0)
	if _, ok := state.Instances[name]; err != nil && !ok {
		state.Instances[name] = inst
	}
	if serr := st.save(state); serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("%w (undoing: %w)", errStoppedWhileStarting, err)
	}
	return errStoppedWhileStarting
}

// lockChunk is how many addresses start adds, or stop removes, under one
// holding of the state lock. Adding or removing an IPv4 address costs the
// kernel time linear in the addresses on the interface, so one chunk takes
// well under a second even at MaxAddresses.
const lockChunk = 1024

// letWaitersIn leaves the state lock free for lockGap between two chunks.
func letWaitersIn(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(lockGap):
	}
}

// withState runs fn on the state under the lock, waiting for the lock
// until ctx ends. An unreadable state.json is set aside, with a warning,
// and fn gets an empty state: no stop fails (and fences the node) for a
// damaged record alone. A read that fails for want of descriptors or
// memory is tried again until ctx ends, then fails: the record is intact.
func withState(ctx context.Context, dir string, warn func(string, ...any), fn func(*store, *State) error) error {
	st, err := openStore(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	state, err := st.load()
	for transient(err) && ctx.Err() == nil {
		// Short of descriptors or memory: the file is not damaged.
		letWaitersIn(ctx)
		state, err = st.load()
	}
	if unreadable(err) {
		aside, aerr := st.setAside()
		if aerr != nil {
			return errors.Join(err, aerr)
		}
		warn("%v: set aside as %s; going on from an empty record: each instance's addresses are found by %s's mark (protocol %d) and its parameters, and the sysctls stay as they are (their old values were in the record)", err, aside, "ocf-realserver", Protocol)
		state, err = emptyState(), nil
	}
	if err != nil {
		return err
	}
	return fn(st, state)
}

// addAll adds the addresses missing from iface, recording each as owned
// before its request so a crash cannot orphan it; one that turns out to
// exist (someone else's) is not owned. An address there already that
// carries the agent's mark and is not owned was added by the agent and
// its record lost: it is adopted (owned). It returns how many it added
// and adopted.
func addAll(ctx context.Context, st *store, state *State, iface string, addrs []netip.Addr) (int, int, error) {
	l, err := openLink(iface)
	if err != nil {
		return 0, 0, err
	}
	defer l.Close()
	present, err := l.addresses()
	if err != nil {
		return 0, 0, err
	}
	var missing []netip.Addr
	var marked map[netip.Addr]bool
	adopted := 0
	for _, a := range addrs {
		k := ownKey(iface, a.String())
		if !present[a] {
			missing = append(missing, a)
			state.Owned[k] = true
			continue
		}
		if state.Owned[k] {
			continue
		}
		if marked == nil {
			if marked, err = l.marked(); err != nil {
				return 0, 0, err
			}
		}
		if marked[a] {
			state.Owned[k] = true
			adopted++
		}
	}
	if len(missing) == 0 && adopted == 0 {
		return 0, 0, nil
	}
	if err := st.save(state); err != nil {
		return 0, 0, err
	}
	added := 0
	var addErr error
	for i, a := range missing {
		err := ctx.Err()
		if err == nil {
			err = l.add(a)
		}
		if errors.Is(err, errExists) {
			// Someone else's, created since we listed: not ours.
			delete(state.Owned, ownKey(iface, a.String()))
			continue
		}
		if err != nil {
			for _, b := range missing[i:] {
				delete(state.Owned, ownKey(iface, b.String()))
			}
			addErr = fmt.Errorf("added %d of %d addresses: %w", added, len(missing), err)
			break
		}
		added++
	}
	if err := st.save(state); err != nil && addErr == nil {
		addErr = err
	}
	return added, adopted, addErr
}

// setSysctls sets each sysctl that is not as required, saving the value
// it had the first time the agent changes it, and records restore, the
// instance's wish to have the saved values back.
func setSysctls(st *store, state *State, files []string, restore bool) error {
	type change struct{ path, v string }
	var todo []change
	dirty := false
	for _, f := range files {
		v, err := readSysctl(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue // the interface went away
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", sysctlName(f), err)
		}
		want, ok := wanted(filepath.Base(f), v)
		if !ok {
			if _, saved := state.Saved[f]; !saved {
				state.Saved[f] = SavedSysctl{Old: v, Set: want, Known: knownInterfaces(f)}
			}
			todo = append(todo, change{f, want})
		}
		if sv, saved := state.Saved[f]; saved && restore && !sv.Restore {
			sv.Restore = true
			state.Saved[f] = sv
			dirty = true
		}
	}
	if len(todo) == 0 && !dirty {
		return nil
	}
	if err := st.save(state); err != nil {
		return err
	}
	for _, c := range todo {
		if err := writeSysctl(c.path, c.v); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("setting %s=%s: %w", sysctlName(c.path), c.v, err)
		}
	}
	return nil
}

// knownInterfaces returns, for a conf/default sysctl, the interfaces
// there are now; nil for any other.
func knownInterfaces(f string) []string {
	if filepath.Base(filepath.Dir(f)) != "default" {
		return nil
	}
	entries, err := os.ReadDir(procConf)
	if err != nil {
		return nil
	}
	out := []string{}
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// restoreInherited gives the interfaces that appeared after the agent
// changed the conf/default sysctl f (saved) the old value back, when they
// still hold the value they inherited and no instance or saved value of
// their own claims them.
func restoreInherited(state *State, f string, saved SavedSysctl, needed map[string]bool) error {
	if saved.Known == nil {
		return nil
	}
	known := map[string]bool{}
	for _, k := range saved.Known {
		known[k] = true
	}
	entries, err := os.ReadDir(procConf)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		g := sysctlPath(e.Name(), filepath.Base(f))
		if _, own := state.Saved[g]; known[e.Name()] || own || needed[g] {
			continue
		}
		if v, err := readSysctl(g); err == nil && v == saved.Set {
			if err := writeSysctl(g, saved.Old); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("restoring %s=%s: %w", sysctlName(g), saved.Old, err))
			}
		}
	}
	return errors.Join(errs...)
}

// release undoes what inst set up that no registered instance (nor keep,
// what the same instance is about to set up) needs: it removes the owned
// addresses and restores the saved sysctls when this or any earlier
// instance registering them asked for it (or forgets them), with the
// interfaces that appeared since and inherited conf/default. With limit
// above 0 it removes at most limit addresses and reports more when some
// are left, leaving the sysctls for the call that removes the last.
func release(ctx context.Context, state *State, inst Instance, keep Instance, limit int) (more bool, err error) {
	needed := map[string]bool{}
	sysNeeded := map[string]bool{}
	for _, other := range append(instances(state), keep) {
		for _, a := range other.Addresses {
			needed[ownKey(other.Interface, a)] = true
		}
		for _, f := range other.Sysctls {
			sysNeeded[f] = true
		}
	}
	var errs []error
	var gone []netip.Addr
	for _, s := range inst.Addresses {
		k := ownKey(inst.Interface, s)
		if !state.Owned[k] || needed[k] {
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			delete(state.Owned, k)
			continue
		}
		gone = append(gone, a)
	}
	if limit > 0 && len(gone) > limit {
		gone, more = gone[:limit], true
	}
	if _, err := removeAddrs(ctx, state, inst.Interface, gone); err != nil {
		errs = append(errs, err)
	}
	if more || len(errs) > 0 {
		return more, errors.Join(errs...)
	}
	for _, f := range inst.Sysctls {
		saved, ok := state.Saved[f]
		if !ok || sysNeeded[f] {
			continue
		}
		if inst.Restore || saved.Restore {
			// A value changed behind our back since is someone's choice.
			if v, err := readSysctl(f); err == nil && v == saved.Set {
				if err := writeSysctl(f, saved.Old); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, fmt.Errorf("restoring %s=%s: %w", sysctlName(f), saved.Old, err))
					continue
				}
			}
			if err := restoreInherited(state, f, saved, sysNeeded); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		delete(state.Saved, f)
	}
	return false, errors.Join(errs...)
}

// orphans returns the addresses of the settings s that are on its
// interface carrying the agent's mark and that no instance registered in
// state lists (with state nil, the record is unreadable and every marked
// one counts): what an instance set up before its record was lost.
func orphans(state *State, s settings) ([]netip.Addr, error) {
	l, err := openLink(s.iface)
	if errors.Is(err, errNoLink) {
		return nil, nil // gone with the interface
	}
	if err != nil {
		return nil, err
	}
	marked, err := l.marked()
	l.Close()
	if err != nil {
		return nil, err
	}
	needed := map[string]bool{}
	if state != nil {
		for _, other := range instances(state) {
			for _, a := range other.Addresses {
				needed[ownKey(other.Interface, a)] = true
			}
		}
	}
	var out []netip.Addr
	for _, a := range s.addrs {
		if marked[a] && !needed[ownKey(s.iface, a.String())] {
			out = append(out, a)
		}
	}
	return out, nil
}

// sweepOrphans removes, for an instance not registered, at most limit of
// its orphans, and reports more when some are left. Which addresses are
// the instance's comes from its parameters (Pacemaker passes a stop the
// same as the start); when they cannot be read, nothing is removed, with
// a warning when this stop found the record lost.
func sweepOrphans(ctx context.Context, req *ocf.Request, st *store, state *State, limit int, lost bool) (more bool, err error) {
	s, err := readSettings(req.Params)
	if err != nil {
		if lost {
			req.Log.Warnf("the parameters do not tell which addresses are this instance's (%v): those it added stay", err)
		}
		return false, nil
	}
	gone, err := orphans(state, s)
	if err != nil || len(gone) == 0 {
		return false, err
	}
	if len(gone) > limit {
		gone, more = gone[:limit], true
	}
	var errs []error
	removed, err := removeAddrs(ctx, state, s.iface, gone)
	if err != nil {
		errs = append(errs, err)
	}
	req.Log.Warnf("removed %d addresses from %s that carry the agent's mark (protocol %d) and that no registered instance lists: this instance's, left by a lost record", removed, s.iface, Protocol)
	if err := st.save(state); err != nil {
		errs = append(errs, err)
	}
	return more, errors.Join(errs...)
}

// removeAddrs removes addresses from iface and forgets them in state, and
// returns how many it removed. An interface that no longer exists took its
// addresses with it: they are forgotten, and that is no error.
func removeAddrs(ctx context.Context, state *State, iface string, addrs []netip.Addr) (removed int, err error) {
	if len(addrs) == 0 {
		return 0, nil
	}
	l, err := openLink(iface)
	if errors.Is(err, errNoLink) {
		for _, a := range addrs {
			delete(state.Owned, ownKey(iface, a.String()))
		}
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer l.Close()
	var errs []error
	for _, a := range addrs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("removing addresses: %w", err))
			break
		}
		if err := l.del(a); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(state.Owned, ownKey(iface, a.String()))
		removed++
	}
	return removed, errors.Join(errs...)
}

// hasOrphans reports whether the instance's parameters name addresses
// that carry the agent's mark, with no instance registered.
func hasOrphans(req *ocf.Request) bool {
	s, err := readSettings(req.Params)
	if err != nil {
		return false
	}
	left, err := orphans(emptyState(), s)
	return err == nil && len(left) > 0
}

// instances returns the registered instances.
func instances(state *State) []Instance {
	out := make([]Instance, 0, len(state.Instances))
	for _, i := range state.Instances {
		out = append(out, i)
	}
	return out
}

// Stop removes the addresses the instance added that no other instance
// lists, and restores the sysctls it changed when no other instance needs
// them. It works from what start registered, so a parameter changed or a
// file gone since does not leave anything behind; a stopped instance stops
// successfully.
func Stop(ctx context.Context, req *ocf.Request) error {
	dir, name := where(req)
	if _, err := os.Stat(dir); err != nil && !errors.Is(err, fs.ErrPermission) {
		// No directory there (a missing one, a path through a file or
		// too long): start can have set up nothing, unless a directory
		// removed behind the agent's back left the instance's marked
		// addresses up (monitor says 1 for them).
		if !errors.Is(err, fs.ErrNotExist) {
			req.Log.Warnf("state directory: %v; nothing can have been set up from it", err)
			return nil
		}
		if !hasOrphans(req) {
			return nil
		}
		req.Log.Warnf("state directory %s is gone, yet addresses of this instance with the agent's mark are up: removing them", dir)
		if err := makeStateDir(dir); err != nil {
			req.Log.Warnf("%v; the addresses stay", err)
			return nil
		}
	}
	if err := checkStateDir(dir); err != nil && errors.Is(err, fs.ErrPermission) {
		// Not root: what is there cannot be seen, let alone undone.
		return ocf.WithCode(ocf.ErrGeneric, err)
	} else if err != nil {
		// Start refuses such a directory before it registers anything,
		// so no instance can have been set up from it; what it holds
		// is anyone's word and decides nothing.
		req.Log.Warnf("%v; start refuses such a directory, so nothing of the instance can run from it", err)
		return nil
	}
	// One chunk of addresses per holding of the lock; the instance
	// stays registered until the last chunk, so a stop that runs out of
	// time is retried, and each chunk sees the instances started since.
	// An instance not registered (its record lost) gives up its orphans.
	lost := false
	warn := func(format string, args ...any) {
		lost = true
		req.Log.Warnf(format, args...)
	}
	for more, first := true, true; more; first = false {
		if !first {
			letWaitersIn(ctx)
		}
		err := withState(ctx, dir, warn, func(st *store, state *State) error {
			inst, ok := state.Instances[name]
			if !ok {
				var err error
				more, err = sweepOrphans(ctx, req, st, state, lockChunk, lost)
				return err
			}
			delete(state.Instances, name)
			var rerr error
			more, rerr = release(ctx, state, inst, Instance{}, lockChunk)
			if more || rerr != nil {
				// Still ours: the next chunk, or a retried stop.
				state.Instances[name] = inst
			}
			if err := st.save(state); err != nil {
				return errors.Join(rerr, err)
			}
			return rerr
		})
		if err != nil {
			return ocf.WithCode(ocf.ErrGeneric, err)
		}
	}
	return nil
}

// Monitor reports a stopped instance as not running (7), one whose
// addresses are all gone as not running too, and an address missing or a
// sysctl off its value as a failure (1) that names it. At depth 10 it
// also checks that no interface of this node would answer ARP or
// neighbour solicitation for a VIP.
//
// An instance not registered whose parameters name addresses that carry
// the agent's mark and that no registered instance lists (its record was
// lost) has failed (1): a stop removes them. With state.json unreadable,
// an instance none of whose addresses is there marked is not running (7,
// as after a reboot that left a truncated file), one with some there has
// failed (1): a stop removes them, a start writes a new record.
func Monitor(ctx context.Context, req *ocf.Request) error {
	dir, name := where(req)
	inst, state, err := registered(dir, name)
	if errors.Is(err, errUntrustedDir) {
		req.Log.Warnf("%v", err)
		return ocf.Errorf(ocf.NotRunning, "realserver is not running")
	}
	if unreadable(err) {
		return monitorWithoutRecord(req, err)
	}
	if err != nil {
		return ocf.WithCode(ocf.ErrGeneric, fmt.Errorf("%w (%w)", err, errCannotTell))
	}
	if inst == nil {
		if s, err := readSettings(req.Params); err == nil {
			left, err := orphans(state, s)
			if err != nil {
				return ocf.WithCode(ocf.ErrGeneric, err)
			}
			if len(left) > 0 {
				return ocf.Errorf(ocf.ErrGeneric, "not registered, yet %d of its addresses (%v first) are on %s with the agent's mark and no registered instance lists them (a lost record?): stop removes them", len(left), left[0], s.iface)
			}
		}
		return ocf.Errorf(ocf.NotRunning, "realserver is not running")
	}
	return check(ctx, *inst, req.Depth)
}

// monitorWithoutRecord judges an instance by its parameters and the
// agent's mark when state.json cannot be read (recordErr says why).
func monitorWithoutRecord(req *ocf.Request, recordErr error) error {
	s, err := readSettings(req.Params)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "the record of what start set up is unreadable (%v), and the parameters do not tell this instance's addresses either: %w", recordErr, err)
	}
	left, err := orphans(nil, s)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "the record of what start set up is unreadable (%v), and the addresses cannot be listed: %w", recordErr, err)
	}
	if len(left) == 0 {
		return ocf.Errorf(ocf.NotRunning, "none of the %d addresses is on %s with the agent's mark, and the record of what start set up is unreadable (%v)", len(s.addrs), s.iface, recordErr)
	}
	return ocf.Errorf(ocf.ErrGeneric, "the record of what start set up is unreadable (%v): %d of the %d addresses are on %s with the agent's mark; stop removes them, start writes a new record", recordErr, len(left), len(s.addrs), s.iface)
}

// registered returns an instance's registration (nil when it has none)
// and the state it is in, read without the lock (state.json is replaced
// atomically).
func registered(dir, name string) (*Instance, *State, error) {
	st := &store{dir: dir}
	if _, err := os.Stat(st.path()); errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, emptyState(), nil
	}
	if err := checkStateDir(dir); err != nil && !errors.Is(err, fs.ErrPermission) {
		// As for stop: start refuses such a directory, so nothing of
		// the instance can run from it, whatever it holds. (Not being
		// allowed to look is not knowing: the caller cannot tell.)
		return nil, nil, fmt.Errorf("%w; start refuses such a directory: %w", err, errUntrustedDir)
	}
	state, err := st.load()
	if err != nil {
		return nil, nil, err
	}
	inst, ok := state.Instances[name]
	if !ok {
		return nil, state, nil
	}
	return &inst, state, nil
}

// errUntrustedDir marks a state directory start would refuse: nothing
// can have been registered there.
var errUntrustedDir = errors.New("nothing of the instance can run from it")

// check compares the node with a registration.
func check(ctx context.Context, inst Instance, depth int) error {
	l, err := openLink(inst.Interface)
	if errors.Is(err, errNoLink) {
		return ocf.Errorf(ocf.NotRunning, "interface %s is gone, and the VIPs with it", inst.Interface)
	}
	if err != nil {
		return ocf.WithCode(ocf.ErrGeneric, err)
	}
	present, err := l.addresses()
	up := l.link.Attrs().Flags&net.FlagUp != 0
	l.Close()
	if err != nil {
		return ocf.WithCode(ocf.ErrGeneric, err)
	}
	if !up {
		return ocf.Errorf(ocf.ErrGeneric, "interface %s is down: the VIPs on it are not local addresses", inst.Interface)
	}
	var missing []string
	for _, a := range inst.Addresses {
		if ip, err := netip.ParseAddr(a); err == nil && !present[ip] {
			missing = append(missing, a)
		}
	}
	switch {
	case len(missing) == len(inst.Addresses):
		return ocf.Errorf(ocf.NotRunning, "none of the %d addresses is on %s", len(inst.Addresses), inst.Interface)
	case len(missing) == 1:
		return ocf.Errorf(ocf.ErrGeneric, "address %s is missing from %s", missing[0], inst.Interface)
	case len(missing) > 1:
		return ocf.Errorf(ocf.ErrGeneric, "address %s and %d more are missing from %s", missing[0], len(missing)-1, inst.Interface)
	}
	for _, f := range inst.Sysctls {
		v, ok, err := sysctlOK(f)
		if err != nil {
			return ocf.Errorf(ocf.ErrGeneric, "reading %s: %w", sysctlName(f), err)
		}
		if !ok {
			want, _ := wanted(filepath.Base(f), v)
			return ocf.Errorf(ocf.ErrGeneric, "%s is %s, want %s", sysctlName(f), v, want)
		}
	}
	if depth >= 10 {
		var vips []netip.Addr
		for _, a := range inst.Addresses {
			if ip, err := netip.ParseAddr(a); err == nil {
				vips = append(vips, ip)
			}
		}
		leaks, err := Leaks(vips)
		if err != nil {
			return ocf.WithCode(ocf.ErrGeneric, err)
		}
		wire, err := WireLeaks(ctx, vips)
		if err != nil {
			return ocf.Errorf(ocf.ErrGeneric, "asking who has the VIPs: %w", err)
		}
		leaks = append(leaks, wire...)
		if len(leaks) > 0 {
			return ocf.Errorf(ocf.ErrGeneric, "%s", strings.Join(leaks, "; "))
		}
	}
	return nil
}

// commands are the command-line interface for hosts without Pacemaker.
func commands() []*cli.Command { return cliCommands() }
