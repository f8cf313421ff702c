//go:build linux

package carphook_test

// Reliability under a hostile host, end to end through the built binary: a
// system log that stalls, announcements outliving MASTER, addresses of
// other groups in the same subnet, a configuration broken while MASTER.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"

	"github.com/ocfkit/ocfkit/agents/carphook/store"
	"github.com/ocfkit/ocfkit/internal/systemlog/systemlogtest"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestStalledJournal: with a journal that does not read its socket, the
// front-end hung in its "event recorded" log line before starting the
// worker (keepalived's notify script never returned; the non-critical
// actions never ran). Messages are dropped now, and events are applied.
func TestStalledJournal(t *testing.T) {
	testenv.RequireRoot(t)
	hook, _ := binaries(t)
	dir := testenv.SharedTempDir(t, "stalled")
	s := systemlogtest.NewStalled(t, dir)
	state, roleFile := filepath.Join(dir, "state"), filepath.Join(dir, "role")
	conf := filepath.Join(dir, "c.toml")
	writeFile(t, conf, fmt.Sprintf("state_dir = %q\n[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = %q\n", state, roleFile), 0o644)
	code, out := cmdRun(t, s.Command(t, hook, "-c", conf, "apply", "g", "MASTER"))
	if code != 0 || !strings.Contains(out, "not taking messages") {
		t.Fatalf("MASTER with a stalled journal: exit %d:\n%s", code, out)
	}
	waitSettled(t, state, "g", "MASTER")
	if r := role(roleFile); r != "1" {
		t.Fatalf("role %q after MASTER", r)
	}
	code, out = cmdRun(t, s.Command(t, hook, "-c", conf, "keepalived", "INSTANCE", "g", "BACKUP", "100"))
	if code != 0 || strings.Count(out, "not taking messages") != 1 {
		t.Fatalf("BACKUP with a stalled journal: exit %d, want 0 and one drop notice:\n%s", code, out)
	}
	waitSettled(t, state, "g", "BACKUP")
	if r := role(roleFile); r != "0" {
		t.Fatalf("role %q after BACKUP", r)
	}
}

// TestAnnounceStopsOnBackup: the MASTER worker kept sending gratuitous ARP
// for the address (count × interval, up to the group timeout) after a
// BACKUP event removed it: the LAN was told the address is here while the
// new master held it, and the BACKUP's own work waited behind it. A newer
// event now ends the announcements at once.
func TestAnnounceStopsOnBackup(t *testing.T) {
	testenv.RequireRoot(t)
	a, b := testenv.NewNS(t, "cra"), testenv.NewNS(t, "crb")
	testenv.Veth(t, a, "eth0", "10.218.0.1/24", b, "eth0", "10.218.0.2/24")
	arps := watchARP(t, b)
	hook, _ := binaries(t)
	dir := testenv.SharedTempDir(t, "announce")
	const vip = "10.218.0.50"
	conf := filepath.Join(dir, "c.toml")
	writeFile(t, conf, fmt.Sprintf(`state_dir = %q
[group.g]
[[group.g.action]]
type = "address"
interface = "eth0"
addresses = ["%s/24"]
[[group.g.action]]
type = "announce"
interface = "eth0"
addresses = ["%s"]
count = 100
interval = "1s"
`, dir, vip, vip), 0o644)
	a.MustRun(t, hook, "-c", conf, "apply", "g", "MASTER")
	mac := macOf(t, a)
	testenv.WaitFor(t, 20*time.Second, "announcements of the address", func() error {
		return arps.saw(arp.OperationReply, mac, vip)
	})
	master := status(t, dir, "g")
	if master.Outcome != "running" || !alive(master.WorkerPID) {
		t.Fatalf("the MASTER worker is not announcing: %+v", master)
	}
	a.MustRun(t, hook, "-c", conf, "apply", "g", "BACKUP")
	if hasAddr(t, a, vip) {
		t.Fatal("the address is still there after BACKUP")
	}
	waitSettled(t, dir, "g", "BACKUP")
	testenv.WaitFor(t, 20*time.Second, "the MASTER worker to stop announcing", func() error {
		if alive(master.WorkerPID) {
			return fmt.Errorf("MASTER worker %d still runs", master.WorkerPID)
		}
		return nil
	})
}

// TestAddressDownKeepsOthers: with promote_secondaries off (new namespaces,
// containers, hosts without systemd's sysctl defaults), removing a group's
// address that was the primary one of its subnet made the kernel remove
// every other address of that subnet: another group's address (its status
// still "MASTER: ok"), or the host's own when it came back after the
// address (DHCP renewal). Only the group's own address goes now.
func TestAddressDownKeepsOthers(t *testing.T) {
	testenv.RequireRoot(t)
	ns, _, hook, dir := segment(t, "crp", "crq", 219, "secondaries")
	ns.MustRun(t, "sysctl", "-qw", "net.ipv4.conf.all.promote_secondaries=0", "net.ipv4.conf.eth0.promote_secondaries=0")
	conf := filepath.Join(dir, "c.toml")
	group := func(name, prefix string) string {
		return fmt.Sprintf("[group.%s]\n[[group.%s.action]]\ntype = \"address\"\ninterface = \"eth0\"\naddresses = [%q]\n", name, name, prefix)
	}
	writeFile(t, conf, fmt.Sprintf("state_dir = %q\n", dir)+group("a", "10.220.0.50/24")+group("b", "10.220.0.51/24")+group("v", "10.219.0.50/24"), 0o644)
	apply := func(g, state string) {
		t.Helper()
		ns.MustRun(t, hook, "-c", conf, "apply", g, state)
		waitSettled(t, dir, g, state)
	}
	apply("a", "MASTER")
	apply("b", "MASTER")
	apply("a", "BACKUP")
	if hasAddr(t, ns, "10.220.0.50") || !hasAddr(t, ns, "10.220.0.51") {
		t.Fatalf("after a BACKUP: want only b's 10.220.0.51:\n%s", ns.MustRun(t, "ip", "-4", "addr", "show", "eth0"))
	}
	// The host's address comes back while the group holds the subnet's
	// primary address.
	ns.MustRun(t, "sysctl", "-qw", "net.ipv4.conf.eth0.promote_secondaries=0")
	ns.MustRun(t, "ip", "addr", "del", "10.219.0.1/24", "dev", "eth0")
	apply("v", "MASTER")
	ns.MustRun(t, "ip", "addr", "add", "10.219.0.1/24", "dev", "eth0")
	apply("v", "BACKUP")
	if hasAddr(t, ns, "10.219.0.50") || !hasAddr(t, ns, "10.219.0.1") {
		t.Fatalf("after v BACKUP: want the host's 10.219.0.1 only:\n%s", ns.MustRun(t, "ip", "-4", "addr", "show", "eth0"))
	}
}

// TestBrokenConfigStillTakesDown: an edit that broke the configuration
// file while the group was MASTER made every later BACKUP fail before
// acting: the address and role file stayed up on a node that had lost the
// VIP (two masters). The way down no longer depends on the file: the group
// as the file defined it at MASTER is saved (root's, 0600) and used, said
// loudly, and the event still exits 1 for the broken file. Nothing is
// brought up from a saved plan.
func TestBrokenConfigStillTakesDown(t *testing.T) {
	testenv.RequireRoot(t)
	ns, _, hook, dir := segment(t, "crb", "crc", 223, "broken")
	state, roleFile := filepath.Join(dir, "state"), filepath.Join(dir, "role")
	conf := filepath.Join(dir, "c.toml")
	const vip = "10.223.0.50"
	good := fmt.Sprintf(`state_dir = %q
[group.g]
match = [%q]
[[group.g.action]]
type = "address"
interface = "eth0"
addresses = ["%s/24"]
[[group.g.action]]
type = "role-file"
path = %q
`, state, vip, vip, roleFile)
	writeFile(t, conf, good, 0o644)
	ns.MustRun(t, hook, "-c", conf, "apply", "g", "MASTER")
	waitSettled(t, state, "g", "MASTER")
	if !hasAddr(t, ns, vip) || role(roleFile) != "1" {
		t.Fatal("MASTER did not bring the group up")
	}
	plan := (&store.Plans{Dir: planDir()}).File(conf, "g")
	if fi, err := os.Stat(plan); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved plan %s: %v %v", plan, fi, err)
	}
	writeFile(t, conf, good+"interval = \"1 s\"\n", 0o644) // an edit gone wrong
	code, out := cmdRun(t, ns.Command(hook, "-c", conf, "ucarp", "down", "eth0", vip))
	if code != 1 || !strings.Contains(out, "plan saved at MASTER") || !strings.Contains(out, "interval") {
		t.Errorf("BACKUP with a broken file: exit %d, want 1, the plan used and the file's error:\n%s", code, out)
	}
	if hasAddr(t, ns, vip) || role(roleFile) != "0" {
		t.Fatalf("BACKUP with a broken file left the group up (address %v, role %q)", hasAddr(t, ns, vip), role(roleFile))
	}
	waitSettled(t, state, "g", "BACKUP") // the worker took the rest down from the plan too
	code, out = cmdRun(t, ns.Command(hook, "-c", conf, "apply", "g", "MASTER"))
	if code != 1 || hasAddr(t, ns, vip) || role(roleFile) != "0" {
		t.Errorf("MASTER with a broken file: exit %d, address %v, role %q; want 1 and nothing up:\n%s", code, hasAddr(t, ns, vip), role(roleFile), out)
	}
	// A file that is not even TOML below its top-level keys.
	writeFile(t, conf, good, 0o644)
	ns.MustRun(t, hook, "-c", conf, "apply", "g", "MASTER")
	waitSettled(t, state, "g", "MASTER")
	writeFile(t, conf, good+"[group.g\n", 0o644)
	code, out = cmdRun(t, ns.Command(hook, "-c", conf, "keepalived", "GROUP", vip, "FAULT", "0"))
	if code != 1 || hasAddr(t, ns, vip) || role(roleFile) != "0" {
		t.Errorf("FAULT with a file that does not parse: exit %d, address %v, role %q; want 1 and the group down:\n%s", code, hasAddr(t, ns, vip), role(roleFile), out)
	}
	waitSettled(t, state, "g", "FAULT")
}

// TestKeepalivedDeleted: keepalived 2.x calls notify with DELETED when a
// reload removes the VRRP instance (and drops its address); carp-hook
// refused the state (exit 2) and left the group up. It is taken down like
// STOP.
func TestKeepalivedDeleted(t *testing.T) {
	testenv.RequireRoot(t)
	hook, _ := binaries(t)
	dir := testenv.SharedTempDir(t, "deleted")
	state, roleFile := filepath.Join(dir, "state"), filepath.Join(dir, "role")
	conf := filepath.Join(dir, "c.toml")
	writeFile(t, conf, fmt.Sprintf("state_dir = %q\n[group.VI_1]\n[[group.VI_1.action]]\ntype = \"role-file\"\npath = %q\n", state, roleFile), 0o644)
	if code, out := hookRun(t, hook, "-c", conf, "keepalived", "INSTANCE", "VI_1", "MASTER", "100"); code != 0 {
		t.Fatalf("MASTER: exit %d: %s", code, out)
	}
	waitSettled(t, state, "VI_1", "MASTER")
	if code, out := hookRun(t, hook, "-c", conf, "keepalived", "INSTANCE", "VI_1", "DELETED", "0"); code != 0 || role(roleFile) != "0" {
		t.Fatalf("DELETED: exit %d, role %q; want 0 and the group down: %s", code, role(roleFile), out)
	}
	waitSettled(t, state, "VI_1", "STOP")
}

// TestBrokenConfigCustomStateDir: with a state_dir of its own, a
// configuration that no longer loads at BACKUP sent the way down looking
// for the plan saved at MASTER in the default state directory (it asked
// the broken file where its state directory was): no plan, the address
// and role file stayed up (two masters). Plans are kept in a fixed place
// found from the file's path alone; they name the state directory.
func TestBrokenConfigCustomStateDir(t *testing.T) {
	testenv.RequireRoot(t)
	ns, _, hook, dir := segment(t, "csd", "cse", 224, "brokensd")
	state, roleFile := filepath.Join(dir, "state"), filepath.Join(dir, "role")
	conf := filepath.Join(dir, "c.toml")
	const vip = "10.224.0.50"
	good := fmt.Sprintf(`state_dir = %q
[group.A]
[[group.A.action]]
type = "address"
interface = "eth0"
addresses = ["%s/24"]
[[group.A.action]]
type = "role-file"
path = %q
`, state, vip, roleFile)
	for _, c := range []struct {
		name   string
		break_ func()
	}{
		{"unquoted top-level value", func() { writeFile(t, conf, "ocf_root = /usr/lib/ocf\n"+good, 0o600) }},
		{"config writable by its group", func() {
			if err := os.Chmod(conf, 0o660); err != nil {
				t.Fatal(err)
			}
		}},
		{"config moved away", func() {
			if err := os.Rename(conf, conf+".moved"); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		os.Remove(conf + ".moved")
		os.Remove(conf) // a new file: writeFile keeps the mode of one there
		writeFile(t, conf, good, 0o600)
		ns.MustRun(t, hook, "-c", conf, "apply", "A", "MASTER")
		waitSettled(t, state, "A", "MASTER")
		if !hasAddr(t, ns, vip) || role(roleFile) != "1" {
			t.Fatalf("%s: MASTER did not bring the group up", c.name)
		}
		c.break_()
		code, out := cmdRun(t, ns.Command(hook, "-c", conf, "apply", "A", "BACKUP"))
		if code != 1 || !strings.Contains(out, "plan saved at MASTER") {
			t.Errorf("%s: BACKUP: exit %d, want 1 and the plan used:\n%s", c.name, code, out)
		}
		if hasAddr(t, ns, vip) || role(roleFile) != "0" {
			t.Fatalf("%s: BACKUP left the group up (address %v, role %q):\n%s", c.name, hasAddr(t, ns, vip), role(roleFile), out)
		}
		waitSettled(t, state, "A", "BACKUP")
	}
}

// TestConfigEditedWhileMaster: the address renumbered and the role file
// moved in the file while MASTER; BACKUP took down only what the file said
// now, so the old address (which the new master adds too) and the old role
// file ("1") stayed up, and the status said ok. The way down takes down
// what the plan saved at MASTER brought up as well, once: after a clean
// way down, the old address is no longer this group's.
func TestConfigEditedWhileMaster(t *testing.T) {
	testenv.RequireRoot(t)
	ns, _, hook, dir := segment(t, "ced", "cee", 225, "edited")
	state := filepath.Join(dir, "state")
	conf := filepath.Join(dir, "e.toml")
	cfg := func(vip, roleFile string) string {
		return fmt.Sprintf(`state_dir = %q
[group.E]
[[group.E.action]]
type = "address"
interface = "eth0"
addresses = ["%s/24"]
[[group.E.action]]
type = "role-file"
path = %q
`, state, vip, roleFile)
	}
	oldRole, newRole := filepath.Join(dir, "roleE"), filepath.Join(dir, "roleE2")
	writeFile(t, conf, cfg("10.225.0.50", oldRole), 0o600)
	ns.MustRun(t, hook, "-c", conf, "apply", "E", "MASTER")
	waitSettled(t, state, "E", "MASTER")
	if !hasAddr(t, ns, "10.225.0.50") || role(oldRole) != "1" {
		t.Fatal("MASTER did not bring the group up")
	}
	writeFile(t, conf, cfg("10.225.0.60", newRole), 0o600) // a valid edit
	code, out := cmdRun(t, ns.Command(hook, "-c", conf, "apply", "E", "BACKUP"))
	if code != 0 || !strings.Contains(out, "no longer has") || !strings.Contains(out, "10.225.0.50") {
		t.Errorf("BACKUP after an edit: exit %d, want 0 and the difference logged:\n%s", code, out)
	}
	if hasAddr(t, ns, "10.225.0.50") || role(oldRole) != "0" || role(newRole) != "0" {
		t.Fatalf("BACKUP after an edit left the old group up: address %v, old role %q, new role %q:\n%s",
			hasAddr(t, ns, "10.225.0.50"), role(oldRole), role(newRole), out)
	}
	waitSettled(t, state, "E", "BACKUP")
	if fi, err := os.Stat(filepath.Join(state, "E.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("status file: %v, %v; want mode 0600", fi, err)
	}
	if code, out := cmdRun(t, ns.Command(hook, "-c", conf, "status", "E")); code != 0 || !strings.Contains(out, "BACKUP") {
		t.Errorf("status: exit %d:\n%s", code, out)
	}
	// The old address is someone else's now: a later BACKUP leaves it.
	ns.MustRun(t, "ip", "addr", "add", "10.225.0.50/24", "dev", "eth0")
	ns.MustRun(t, hook, "-c", conf, "apply", "E", "BACKUP")
	waitSettled(t, state, "E", "BACKUP")
	if !hasAddr(t, ns, "10.225.0.50") {
		t.Error("a second BACKUP took down the address of the plan already taken down")
	}
	// The new group up and down: the new plan is what is taken down.
	ns.MustRun(t, hook, "-c", conf, "apply", "E", "MASTER")
	waitSettled(t, state, "E", "MASTER")
	if !hasAddr(t, ns, "10.225.0.60") || role(newRole) != "1" {
		t.Fatal("MASTER with the edited file did not bring the group up")
	}
	ns.MustRun(t, hook, "-c", conf, "apply", "E", "BACKUP")
	waitSettled(t, state, "E", "BACKUP")
	if hasAddr(t, ns, "10.225.0.60") || role(newRole) != "0" || !hasAddr(t, ns, "10.225.0.50") {
		t.Errorf("BACKUP of the edited group: .60 %v, role %q, .50 %v", hasAddr(t, ns, "10.225.0.60"), role(newRole), hasAddr(t, ns, "10.225.0.50"))
	}
}

// TestGroupRemovedWhileMaster: a group taken out of a file that still
// loads, while MASTER, was never taken down: BACKUP failed with "no
// group" and left its address up. It is taken down from its saved plan.
func TestGroupRemovedWhileMaster(t *testing.T) {
	testenv.RequireRoot(t)
	ns, _, hook, dir := segment(t, "cgr", "cgs", 226, "removed")
	state, roleFile := filepath.Join(dir, "state"), filepath.Join(dir, "role")
	conf := filepath.Join(dir, "r.toml")
	other := fmt.Sprintf("state_dir = %q\n[group.other]\n[[group.other.action]]\ntype = \"role-file\"\npath = %q\n", state, roleFile+".other")
	writeFile(t, conf, other+fmt.Sprintf(`[group.R]
match = ["10.226.0.50"]
[[group.R.action]]
type = "address"
interface = "eth0"
addresses = ["10.226.0.50/24"]
[[group.R.action]]
type = "role-file"
path = %q
`, roleFile), 0o600)
	ns.MustRun(t, hook, "-c", conf, "ucarp", "up", "eth0", "10.226.0.50")
	waitSettled(t, state, "R", "MASTER")
	if !hasAddr(t, ns, "10.226.0.50") || role(roleFile) != "1" {
		t.Fatal("MASTER did not bring the group up")
	}
	writeFile(t, conf, other, 0o600)
	code, out := cmdRun(t, ns.Command(hook, "-c", conf, "ucarp", "down", "eth0", "10.226.0.50"))
	if code != 1 || !strings.Contains(out, "plan saved at MASTER") {
		t.Errorf("BACKUP of a removed group: exit %d, want 1 and the plan used:\n%s", code, out)
	}
	if hasAddr(t, ns, "10.226.0.50") || role(roleFile) != "0" {
		t.Fatalf("BACKUP of a removed group left it up (address %v, role %q):\n%s", hasAddr(t, ns, "10.226.0.50"), role(roleFile), out)
	}
	waitSettled(t, state, "R", "BACKUP")
}

// TestGroupRenamedWhileMaster: a group renamed in the file while MASTER,
// with the same match, was never taken down: BACKUP selected the new name
// and looked up only its plan, so the old plan's address and role file
// stayed up (the VIP on two nodes). The way down takes down the saved,
// unretired plans whose match selects the event, with a note, and retires
// them: a later BACKUP leaves what they had.
func TestGroupRenamedWhileMaster(t *testing.T) {
	testenv.RequireRoot(t)
	ns, _, hook, dir := segment(t, "crn", "cro", 227, "renamed")
	state := filepath.Join(dir, "state")
	conf := filepath.Join(dir, "n.toml")
	cfg := func(group, vip string) string {
		return fmt.Sprintf(`state_dir = %q
[group.%[2]s]
match = ["10.227.0.50"]
[[group.%[2]s.action]]
type = "address"
interface = "eth0"
addresses = ["%[3]s/24"]
[[group.%[2]s.action]]
type = "role-file"
path = %[4]q
`, state, group, vip, filepath.Join(dir, "role"+group))
	}
	roleG, roleH := filepath.Join(dir, "roleg"), filepath.Join(dir, "roleh")
	writeFile(t, conf, cfg("g", "10.227.0.50"), 0o600)
	ns.MustRun(t, hook, "-c", conf, "ucarp", "up", "eth0", "10.227.0.50")
	waitSettled(t, state, "g", "MASTER")
	if !hasAddr(t, ns, "10.227.0.50") || role(roleG) != "1" {
		t.Fatal("MASTER did not bring the group up")
	}
	writeFile(t, conf, cfg("h", "10.227.0.60"), 0o600) // renamed, renumbered, same match
	code, out := cmdRun(t, ns.Command(hook, "-c", conf, "ucarp", "down", "eth0", "10.227.0.50"))
	if code != 0 || !strings.Contains(out, "also taking down the plan saved at MASTER for group g") || !strings.Contains(out, "10.227.0.50") {
		t.Errorf("BACKUP after a rename: exit %d, want 0 and the old plan logged:\n%s", code, out)
	}
	if hasAddr(t, ns, "10.227.0.50") || role(roleG) != "0" || role(roleH) != "0" {
		t.Fatalf("BACKUP after a rename left the old group up: address %v, old role %q, new role %q:\n%s",
			hasAddr(t, ns, "10.227.0.50"), role(roleG), role(roleH), out)
	}
	waitSettled(t, state, "h", "BACKUP")
	// The old plan is retired: a later BACKUP leaves what it had.
	ns.MustRun(t, "ip", "addr", "add", "10.227.0.50/24", "dev", "eth0")
	testenv.WaitFor(t, 20*time.Second, "the old plan to be retired", func() error {
		p, err := (&store.Plans{Dir: planDir()}).Load(conf, "g")
		if err != nil || p == nil || p.Retired.IsZero() {
			return fmt.Errorf("plan g: %+v, %v", p, err)
		}
		return nil
	})
	ns.MustRun(t, hook, "-c", conf, "ucarp", "down", "eth0", "10.227.0.50")
	waitSettled(t, state, "h", "BACKUP")
	if !hasAddr(t, ns, "10.227.0.50") {
		t.Error("a second BACKUP took down the address of the old plan already taken down")
	}
}

// segment is the set-up the reliability tests share: a node namespace
// (prefix a) whose eth0 faces a peer (prefix b) on 10.NET.0.0/24, the
// built carp-hook, and a directory (named for what) carp-hook accepts for
// the configuration, state and role files.
func segment(t *testing.T, a, b string, net int, what string) (ns, peer *testenv.NS, hook, dir string) {
	t.Helper()
	testenv.RequireRoot(t)
	ns, peer = testenv.NewNS(t, a), testenv.NewNS(t, b)
	testenv.Veth(t, ns, "eth0", fmt.Sprintf("10.%d.0.1/24", net), peer, "eth0", fmt.Sprintf("10.%d.0.2/24", net))
	hook, _ = binaries(t)
	return ns, peer, hook, testenv.SharedTempDir(t, what)
}
