package realserver_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// damages are the ways state.json can be found broken: by hand, or by a
// crash with HA_RSCTMP on a disk (truncated, zero-length). readable is
// true for the two that are JSON meaning "nothing registered".
var damages = []struct {
	what     string
	readable bool
	make     func(path string, good []byte) error
}{
	{"truncated", false, func(p string, good []byte) error { return os.WriteFile(p, good[:len(good)/2], 0o600) }},
	{"zero-length", false, func(p string, _ []byte) error { return os.WriteFile(p, nil, 0o600) }},
	{"blank", false, func(p string, _ []byte) error { return os.WriteFile(p, []byte(" \n\n"), 0o600) }},
	{"garbage", false, func(p string, _ []byte) error { return os.WriteFile(p, []byte("\x00\xffnot json{"), 0o600) }},
	{"wrong types", false, func(p string, _ []byte) error {
		return os.WriteFile(p, []byte(`{"instances":["web"],"owned":7}`), 0o600)
	}},
	{"deeply nested", false, func(p string, _ []byte) error {
		return os.WriteFile(p, []byte(strings.Repeat("[", 1<<20)), 0o600)
	}},
	{"huge (above 64 MiB)", false, func(p string, _ []byte) error {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Truncate(64<<20 + 1)
	}},
	{"a directory", false, func(p string, _ []byte) error {
		if err := os.Remove(p); err != nil {
			return err
		}
		return os.Mkdir(p, 0o700)
	}},
	{"a FIFO", false, func(p string, _ []byte) error {
		if err := os.Remove(p); err != nil {
			return err
		}
		return syscall.Mkfifo(p, 0o600)
	}},
	{"empty object", true, func(p string, _ []byte) error { return os.WriteFile(p, []byte("{}"), 0o600) }},
	{"null", true, func(p string, _ []byte) error { return os.WriteFile(p, []byte("null\n"), 0o600) }},
}

// TestUnreadableRecord (adv finding: a damaged state.json failed stop
// with 1, which fences the node): whatever state.json holds, stop exits 0
// and removes exactly this instance's addresses, found by the agent's
// mark in the kernel and the instance's parameters; another instance's
// address and one the administrator added on the same interface stay.
// Monitor says 1 while marked addresses are up, naming the record, and 7
// once they are gone; the other instance is then 1 until its own stop
// removes its addresses. The sysctls, whose old values were in the
// record, stay as they are. A start afterwards works from a new record.
func TestUnreadableRecord(t *testing.T) {
	n := newNode(t, nil)
	n.ns.MustRun(t, "ip", "addr", "add", "10.18.0.9/32", "dev", "lo") // the administrator's
	a := []string{"addresses=10.18.0.1,10.18.0.2,10.18.0.9,fd00:18::1"}
	b := []string{"addresses=10.18.1.1,fd00:18::2"}
	for _, d := range damages {
		n.rsctmp = t.TempDir()
		code, out := n.agent("a", "start", a...)
		testenv.ExpectExit(t, d.what+": start a", code, 0, out, "added 3 of 4")
		code, out = n.agent("b", "start", b...)
		testenv.ExpectExit(t, d.what+": start b", code, 0, out, "added 2 of 2")
		state := filepath.Join(n.rsctmp, "ocf-realserver", "state.json")
		good, err := os.ReadFile(state)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.make(state, good); err != nil {
			t.Fatal(err)
		}
		reason := "ocf-exit-reason:the record of what start set up is unreadable ("
		if d.readable {
			reason = "ocf-exit-reason:not registered, yet 3 of its addresses"
		}
		code, out = n.agent("a", "monitor", a...)
		testenv.ExpectExit(t, d.what+": monitor a", code, 1, out, reason)

		code, out = n.agent("a", "stop", a...)
		testenv.ExpectExit(t, d.what+": stop a", code, 0, out, "removed 3 addresses from lo")
		for _, gone := range []string{"10.18.0.1", "10.18.0.2", "fd00:18::1"} {
			if n.has("lo", gone) {
				t.Errorf("%s: stop a left %s: %s", d.what, gone, n.addrs("lo"))
			}
		}
		for _, kept := range []string{"10.18.0.9", "10.18.1.1", "fd00:18::2"} {
			if !n.has("lo", kept) {
				t.Errorf("%s: stop a removed %s (the administrator's or b's): %s", d.what, kept, n.addrs("lo"))
			}
		}
		if _, err := os.Lstat(state + ".unreadable"); (err == nil) == d.readable {
			t.Errorf("%s: state.json.unreadable: %v", d.what, err)
		}
		code, out = n.agent("a", "monitor", a...)
		testenv.ExpectExit(t, d.what+": monitor a after stop", code, 7, out)
		code, out = n.agent("a", "stop", a...)
		testenv.ExpectExit(t, d.what+": stop a again", code, 0, out)

		code, out = n.agent("b", "monitor", b...)
		testenv.ExpectExit(t, d.what+": monitor b", code, 1, out, "ocf-exit-reason:not registered, yet 2 of its addresses")
		code, out = n.agent("b", "stop", b...)
		testenv.ExpectExit(t, d.what+": stop b", code, 0, out)
		if n.has("lo", "10.18.1.1") || n.has("lo", "fd00:18::2") || !n.has("lo", "10.18.0.9") {
			t.Errorf("%s: after stop b: %s", d.what, n.addrs("lo"))
		}
		if v := n.sysctl("net.ipv4.conf.all.arp_ignore"); v != "1" {
			t.Errorf("%s: arp_ignore=%s after the record was lost: its old value is not known, 1 keeps the VIPs quiet", d.what, v)
		}

		code, out = n.agent("a", "start", a...)
		testenv.ExpectExit(t, d.what+": start a on a new record", code, 0, out, "added 3 of 4")
		code, out = n.agent("a", "stop", a...)
		testenv.ExpectExit(t, d.what+": stop a on a new record", code, 0, out)
		if n.has("lo", "10.18.0.1") || !n.has("lo", "10.18.0.9") {
			t.Errorf("%s: after the last stop: %s", d.what, n.addrs("lo"))
		}
	}
}

// TestUnreadableRecordStart: a start that finds state.json damaged sets it
// aside and adopts the addresses on the interface that carry the agent's
// mark, so its later stop removes them; after a reboot (no address left)
// the probe of a damaged record says 7, and start brings the instance up.
func TestUnreadableRecordStart(t *testing.T) {
	n := newNode(t, nil)
	a := []string{"addresses=10.19.0.1,10.19.0.2,fd00:19::1"}
	code, out := n.agent("a", "start", a...)
	testenv.ExpectExit(t, "start", code, 0, out, "added 3 of 3")
	state := filepath.Join(n.rsctmp, "ocf-realserver", "state.json")
	if err := os.WriteFile(state, []byte(`{"instances":{"a":`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = n.agent("a", "start", a...)
	testenv.ExpectExit(t, "start on a damaged record", code, 0, out, "set aside as", "adopted 3 addresses")
	code, out = n.agent("a", "monitor", a...)
	testenv.ExpectExit(t, "monitor", code, 0, out)
	code, out = n.agent("a", "stop", a...)
	testenv.ExpectExit(t, "stop", code, 0, out)
	for _, gone := range []string{"10.19.0.1", "10.19.0.2", "fd00:19::1"} {
		if n.has("lo", gone) {
			t.Errorf("stop left %s, adopted by start: %s", gone, n.addrs("lo"))
		}
	}
	// A reboot: the addresses are gone, a truncated state.json is not.
	if err := os.WriteFile(state, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = n.agent("a", "monitor", append(a, "OCF_RESKEY_CRM_meta_interval=0")...)
	testenv.ExpectExit(t, "probe after a reboot", code, 7, out)
	code, out = n.agent("a", "monitor", append(a, "OCF_RESKEY_CRM_meta_interval=10000")...)
	testenv.ExpectExit(t, "monitor after a reboot", code, 7, out, "ocf-exit-reason:none of the 3 addresses is on lo with the agent's mark")
	code, out = n.agent("a", "start", a...)
	testenv.ExpectExit(t, "start after a reboot", code, 0, out, "added 3 of 3")
	code, out = n.agent("a", "stop", a...)
	testenv.ExpectExit(t, "stop after a reboot", code, 0, out)
	if n.has("lo", "10.19.0.1") {
		t.Errorf("stop left 10.19.0.1: %s", n.addrs("lo"))
	}
	// The record damaged and the vipaddrs file gone: stop cannot tell
	// the instance's addresses, says so, leaves them and still exits 0;
	// with the file back, a later stop removes them.
	vips := n.file("vipaddrs", "10.19.1.0/31\n")
	code, out = n.agent("f", "start", "vipaddrs="+vips)
	testenv.ExpectExit(t, "start f", code, 0, out, "added 2 of 2")
	if err := os.WriteFile(state, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(vips, vips+".away"); err != nil {
		t.Fatal(err)
	}
	code, out = n.agent("f", "stop", "vipaddrs="+vips)
	testenv.ExpectExit(t, "stop f without record or file", code, 0, out, "set aside as", "the parameters do not tell which addresses are this instance's")
	if !n.has("lo", "10.19.1.1") {
		t.Errorf("stop f removed 10.19.1.1 without knowing it was f's: %s", n.addrs("lo"))
	}
	if err := os.Rename(vips+".away", vips); err != nil {
		t.Fatal(err)
	}
	code, out = n.agent("f", "stop", "vipaddrs="+vips)
	testenv.ExpectExit(t, "stop f with the file back", code, 0, out, "removed 2 addresses from lo")
	if n.has("lo", "10.19.1.0") || n.has("lo", "10.19.1.1") {
		t.Errorf("stop f left its addresses: %s", n.addrs("lo"))
	}
}

// TestStateDirRemoved: the state directory removed behind the agent's
// back (HA_RSCTMP cleaned without a reboot) while the VIPs are up: monitor
// says 1 for the marked addresses nothing registers, and stop removes
// them (exit 0) instead of finding no record and leaving them.
func TestStateDirRemoved(t *testing.T) {
	n := newNode(t, nil)
	n.ns.MustRun(t, "ip", "addr", "add", "10.21.0.9/32", "dev", "lo") // the administrator's
	a := []string{"addresses=10.21.0.1,10.21.0.9,fd00:21::1"}
	code, out := n.agent("a", "start", a...)
	testenv.ExpectExit(t, "start", code, 0, out, "added 2 of 3")
	if err := os.RemoveAll(filepath.Join(n.rsctmp, "ocf-realserver")); err != nil {
		t.Fatal(err)
	}
	code, out = n.agent("a", "monitor", a...)
	testenv.ExpectExit(t, "monitor", code, 1, out, "ocf-exit-reason:not registered, yet 2 of its addresses")
	code, out = n.agent("a", "stop", a...)
	testenv.ExpectExit(t, "stop", code, 0, out, "state directory", "is gone", "removed 2 addresses from lo")
	if n.has("lo", "10.21.0.1") || n.has("lo", "fd00:21::1") || !n.has("lo", "10.21.0.9") {
		t.Errorf("after stop: %s", n.addrs("lo"))
	}
	code, out = n.agent("a", "monitor", a...)
	testenv.ExpectExit(t, "monitor after stop", code, 7, out)
}

// TestRecordKeptShortOfDescriptors (adv4 F2: a stop that could not open
// state.json for want of file descriptors took it for damaged and set the
// healthy record aside, losing every other instance's registration and
// the sysctls' old values): under every descriptor limit from the
// smallest up, a stop either works or fails leaving state.json as it was;
// it is never set aside, and the other instance stays registered.
func TestRecordKeptShortOfDescriptors(t *testing.T) {
	n := newNode(t, nil)
	prlimit := testenv.RequireCommand(t, "prlimit")
	w := []string{"addresses=10.23.0.1,10.23.0.2"}
	y := []string{"addresses=10.23.0.1"}
	for limit := 4; limit <= 16; limit++ {
		n.rsctmp = t.TempDir()
		code, out := n.agent("w", "start", w...)
		testenv.ExpectExit(t, "start w", code, 0, out)
		code, out = n.agent("y", "start", y...)
		testenv.ExpectExit(t, "start y", code, 0, out)
		state := filepath.Join(n.rsctmp, "ocf-realserver", "state.json")
		before, err := os.ReadFile(state)
		if err != nil {
			t.Fatal(err)
		}
		cmd := n.ns.Command(prlimit, fmt.Sprintf("--nofile=%d:%d", limit, limit), realserverBin, "stop")
		cmd.Env = append(os.Environ(), "HA_RSCTMP="+n.rsctmp, "OCF_RESOURCE_INSTANCE=y", "OCF_ROOT=/usr/lib/ocf",
			"HA_LOGFACILITY=none", "OCF_RESKEY_addresses=10.23.0.1", "OCF_RESKEY_CRM_meta_timeout=2000")
		out2, err := cmd.CombinedOutput()
		t.Logf("stop y with %d descriptors: %v\n%s", limit, err, out2)
		if _, err := os.Lstat(state + ".unreadable"); err == nil {
			t.Errorf("%d descriptors: the healthy state.json was set aside:\n%s", limit, out2)
		}
		if err != nil {
			if after, rerr := os.ReadFile(state); rerr != nil || !bytes.Equal(after, before) {
				t.Errorf("%d descriptors: a failed stop changed state.json (%v)", limit, rerr)
			}
		}
		code, out = n.agent("w", "monitor", w...)
		testenv.ExpectExit(t, fmt.Sprintf("%d descriptors: monitor w", limit), code, 0, out)
		code, out = n.agent("y", "stop", y...)
		testenv.ExpectExit(t, "stop y", code, 0, out)
		code, out = n.agent("w", "stop", w...)
		testenv.ExpectExit(t, "stop w", code, 0, out)
		if n.has("lo", "10.23.0.1") || n.has("lo", "10.23.0.2") {
			t.Errorf("%d descriptors: after the stops: %s", limit, n.addrs("lo"))
		}
	}
}

// TestUnreadableRecordAsideStuck (adv4 F4: an earlier state.json.unreadable
// that cannot be removed, kept by an administrator with chattr +i, failed
// the next stop with a damaged record: 1, fencing): the damaged record goes
// beside it under a name of its own, and stop removes the instance's
// addresses and exits 0.
func TestUnreadableRecordAsideStuck(t *testing.T) {
	n := newNode(t, nil)
	chattr := testenv.RequireCommand(t, "chattr")
	a := []string{"addresses=10.24.0.1,fd00:24::1"}
	code, out := n.agent("a", "start", a...)
	testenv.ExpectExit(t, "start", code, 0, out, "added 2 of 2")
	dir := filepath.Join(n.rsctmp, "ocf-realserver")
	kept := filepath.Join(dir, "state.json.unreadable", "evidence")
	if err := os.MkdirAll(filepath.Dir(kept), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kept, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, chattr, "+i", kept)
	t.Cleanup(func() { _ = exec.Command(chattr, "-i", kept).Run() })
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte("{\"instances\":"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = n.agent("a", "stop", a...)
	testenv.ExpectExit(t, "stop with the old state.json.unreadable immutable", code, 0, out, "set aside as", "removed 2 addresses from lo")
	if n.has("lo", "10.24.0.1") || n.has("lo", "fd00:24::1") {
		t.Errorf("stop left addresses: %s", n.addrs("lo"))
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("the immutable evidence: %v", err)
	}
	code, out = n.agent("a", "monitor", a...)
	testenv.ExpectExit(t, "monitor after stop", code, 7, out)
}
