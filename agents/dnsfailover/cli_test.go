package dnsfailover

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

type cliResult struct {
	code           int
	stdout, stderr string
}

func runCLI(env map[string]string, args ...string) cliResult {
	var out, errb bytes.Buffer
	code := Main(append([]string{"dns-failover"}, args...), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}, &out, &errb)
	return cliResult{code, out.String(), errb.String()}
}

// TestCLIContract: version, usage errors (exit 2, the reason and no
// help), options after arguments, and --config from the environment.
func TestCLIContract(t *testing.T) {
	for _, args := range [][]string{{"-V"}, {"--version"}, {"once", "-V"}, {"status", "--version"}} {
		if r := runCLI(nil, args...); r.code != 0 || !regexp.MustCompile(`^dns-failover \S+\n$`).MatchString(r.stdout) {
			t.Errorf("%v: %+v", args, r)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"once", "--bogus"}, "flag provided but not defined"},
		{[]string{"nosuch"}, "unknown command"},
		{[]string{"once", "extra"}, "takes no arguments"},
		{[]string{"import"}, "one FILE"},
		{[]string{"import", "a", "b"}, "one FILE"},
		{[]string{"once", "-c", "/nonexistent", "--state", "relative"}, ""},
		{[]string{"import", "--tsig-key", "relative.key", "/dev/null"}, "absolute path"},
	} {
		r := runCLI(map[string]string{"HA_LOGFACILITY": "none"}, c.args...)
		if c.want == "" {
			if r.code == 0 {
				t.Errorf("%v: exit 0", c.args)
			}
			continue
		}
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stderr, "USAGE") {
			t.Errorf("%v: %+v, want exit 2 with %q", c.args, r, c.want)
		}
	}
	// Options after the argument, as getopt allows.
	dir := t.TempDir()
	classic := filepath.Join(dir, "classic")
	if err := os.WriteFile(classic, []byte(classicExample), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(nil, "import", classic, "--tsig-key", "/etc/k"); r.code != 0 || !strings.Contains(r.stdout, `tsig_key = "/etc/k"`) {
		t.Errorf("import FILE --tsig-key: %+v", r)
	}
	// $DNS_FAILOVER_CONFIG names the file; a file others may write is refused.
	conf := filepath.Join(dir, "c.toml")
	if err := os.WriteFile(conf, []byte(strings.Replace(goodConfig, `tsig_key = "/etc/dns-failover/ddns.key"`, "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(map[string]string{ConfigEnv: conf}, "check-config", "--no-host-checks"); r.code != 0 || !strings.Contains(r.stdout, "3 primaries: OK") {
		t.Errorf("check-config from $%s: %+v", ConfigEnv, r)
	}
	if err := os.Chmod(conf, 0o666); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(nil, "check-config", "-c", conf); r.code != exitFailed || !strings.Contains(r.stderr, "unsafe permissions") {
		t.Errorf("world-writable config: %+v", r)
	}
	// status before any round.
	if err := os.Chmod(conf, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(nil, "status", "-c", conf, "--state", filepath.Join(dir, "none.json")); r.code != exitFailed || !strings.Contains(r.stdout, "no round yet") {
		t.Errorf("status without state: %+v", r)
	}
	// A state file that is not JSON is refused, not reset.
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{\"rounds\": \"x\""), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(nil, "status", "-c", conf, "--state", bad); r.code != exitFailed || !strings.Contains(r.stderr, "state file") {
		t.Errorf("garbage state: %+v", r)
	}
}

// TestOnceLocked: a second run while one holds the state file (cron
// overlapping a slow round) refuses instead of interleaving rounds.
func TestOnceLocked(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	unlock, err := lockState(state)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	conf := filepath.Join(dir, "c.toml")
	if err := os.WriteFile(conf, []byte(strings.Replace(goodConfig, `tsig_key = "/etc/dns-failover/ddns.key"`, "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(map[string]string{"HA_LOGFACILITY": "none"}, "once", "-c", conf, "--state", state)
	if r.code != exitFailed || !strings.Contains(r.stderr, "another dns-failover run holds the state file") {
		t.Fatalf("%+v", r)
	}
}

// TestDryRunChangesNothing: once --dry-run prints the update as an
// nsupdate script, and neither sends it, saves state nor runs notify.
func TestDryRunChangesNothing(t *testing.T) {
	p := newFakePrimary(t, map[string][]string{"www.z.test.": {"10.0.0.1", "10.0.0.2"}})
	dir := t.TempDir()
	hooked := filepath.Join(dir, "hooked")
	hook := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\ntouch "+hooked+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "c.toml")
	text := "primaries = [\"" + p.addr + "\"]\nzone = \"z.test\"\nfall = 1\nnotify = [\"" + hook + "\"]\nstate_file = \"" + dir + "/state\"\n" +
		"[[record]]\nname = \"www.z.test\"\n[[record.member]]\naddress = \"10.0.0.1\"\ncheck = { type = \"exec\", command = [\"/bin/true\"] }\n" +
		"[[record.member]]\naddress = \"10.0.0.2\"\ncheck = { type = \"exec\", command = [\"/bin/false\"] }\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(map[string]string{"HA_LOGFACILITY": "none"}, "once", "--dry-run", "-c", conf)
	if r.code != 0 || !strings.Contains(r.stdout, "update delete www.z.test. IN A 10.0.0.2\nsend\n") {
		t.Fatalf("%+v", r)
	}
	if got := p.get("www.z.test."); got != "10.0.0.1 10.0.0.2" {
		t.Errorf("dry run changed the zone: %s", got)
	}
	for _, f := range []string{hooked, dir + "/state"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("dry run made %s", f)
		}
	}
}

// TestKeyFileSecretNotPrinted: a key file in nsupdate -y / knsupdate form
// or holding a bare secret is refused without printing the secret on
// stdout or stderr (the journal, cron mail) (adv3 F3).
func TestKeyFileSecretNotPrinted(t *testing.T) {
	const secret = "TOPSECRETb64bXlzZWNyZXQ="
	dir := t.TempDir()
	for name, text := range map[string]string{
		"y.key":    "hmac-sha256:ddns:" + secret + "\n",
		"bare.key": secret + "\n",
	} {
		key := filepath.Join(dir, name)
		if err := os.WriteFile(key, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(dir, name+".toml")
		cfg := "state_file = \"" + dir + "/" + name + ".state\"\n" + strings.Replace(goodConfig, "/etc/dns-failover/ddns.key", key, 1)
		if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"check-config", "--no-host-checks"}, {"once", "--dry-run"}} {
			r := runCLI(map[string]string{"HA_LOGFACILITY": "none"}, append(args, "-c", conf)...)
			if r.code == 0 || strings.Contains(r.stderr+r.stdout, "TOPSECRET") || !strings.Contains(r.stderr, "line 1, column 1") {
				t.Errorf("%s %v: %+v, want a failure naming line 1, column 1 and no secret", name, args, r)
			}
		}
	}
}

// TestStateLockOthersCouldOpen: a STATE.lock that others could open (and
// flock for ever, stopping every run) is refused with the reason, not
// used; the fresh one is 0600 (adv3 F7, the same flaw as anycast-probe's).
func TestStateLockOthersCouldOpen(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	unlock, err := lockState(state)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if fi, err := os.Stat(state + ".lock"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("fresh lock: %v %v, want 0600", fi, err)
	}
	if err := os.Chmod(state+".lock", 0o644); err != nil {
		t.Fatal(err)
	}
	if unlock, err := lockState(state); err == nil || !strings.Contains(err.Error(), "lets others hold it") {
		if unlock != nil {
			unlock()
		}
		t.Errorf("0644 lock: %v, want refused", err)
	}
}
