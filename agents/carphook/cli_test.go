package carphook

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	for path, content := range map[string]string{
		good: "state_dir = \"" + dir + "/state\"\n[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = \"" + dir + "/role\"\n",
		bad:  "[group.g]\n[[group.g.action]]\ntype = \"role-file\"\nunit = \"x\"\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"check-config", good}, exitOK},
		{[]string{"check-config", bad}, exitFailed},
		{[]string{"--config", good, "check-config"}, exitOK},
		{[]string{"--config", good, "ucarp", "sideways", "eth0", "10.0.0.5"}, exitUsage},
		{[]string{"--config", good, "keepalived", "INSTANCE", "VI_1", "MASTER"}, exitUsage},
		{[]string{"--config", good, "devd", "em0", "MASTER"}, exitUsage},
		{[]string{"--config", good, "ifstated"}, exitUsage},
		{[]string{"--config", good, "apply", "g"}, exitUsage},
		{[]string{"--config", good, "status"}, exitUsage},
		{[]string{"--config", good, "status", "g"}, exitOK}, // no event yet
		{[]string{"--config", good, "status", "nope"}, exitFailed},
		{[]string{"--config", filepath.Join(dir, "missing.toml"), "apply", "g", "MASTER"}, exitFailed},
		// Unknown commands and flags are usage errors (bogus exited 3, the
		// "still applying" code of status).
		{[]string{"bogus"}, exitUsage},
		{[]string{"--bogus", "status", "g"}, exitUsage},
		{[]string{"--config", good, "status", "--bogus", "g"}, exitUsage},
		{[]string{}, exitUsage},
		// Help and version.
		{[]string{"--version"}, exitOK},
		{[]string{"-V"}, exitOK},
		{[]string{"help"}, exitOK},
		{[]string{"help", "status"}, exitOK},
		{[]string{"help", "keepalived"}, exitOK},
		{[]string{"help", "bogus"}, exitUsage},
		{[]string{"status", "--help"}, exitOK},
		{[]string{"ucarp", "--help"}, exitOK},
		// -c after the command.
		{[]string{"check-config", "-c", good}, exitOK},
		{[]string{"check-config", "-c", bad}, exitFailed},
		{[]string{"status", "-c", good, "g"}, exitOK},
		{[]string{"ucarp", "-c", bad, "up", "eth0", "10.0.0.5"}, exitFailed}, // the file, not the words, is wrong
		{[]string{"ucarp", "-c"}, exitUsage},
		// status --wait takes ocfkit durations, in range.
		{[]string{"--config", good, "status", "--wait", "10ms", "g"}, exitOK},
		{[]string{"--config", good, "status", "--wait", "-1s", "g"}, exitUsage},
		{[]string{"--config", good, "status", "--wait", "soon", "g"}, exitUsage},
		{[]string{"--config", good, "status", "--wait", "99999999999h", "g"}, exitUsage},
	}
	for _, tt := range tests {
		if got := exitCode(run(append([]string{"carp-hook"}, tt.args...), noEnv, io.Discard, io.Discard), io.Discard); got != tt.want {
			t.Errorf("carp-hook %v: exit %d, want %d", tt.args, got, tt.want)
		}
	}
}

// TestExitErrorNil: an exitError without an error (status's plain exit 1
// or 3) panicked when printed.
func TestExitErrorNil(t *testing.T) {
	if got := (&exitError{Code: exitPending}).Error(); got != "exit status 3" {
		t.Errorf("Error() = %q", got)
	}
}

func TestSplitConfig(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		path string
		rest string
	}{
		{[]string{"-c", "/f", "up", "eth0"}, "/f", "up eth0"},
		{[]string{"--config", "/f", "up"}, "/f", "up"},
		{[]string{"--config=/f", "up"}, "/f", "up"},
		{[]string{"up", "-c", "/f"}, "", "up -c /f"}, // the caller's words are left alone
	} {
		path, rest, err := splitConfig(tt.in)
		if err != nil || path != tt.path || strings.Join(rest, " ") != tt.rest {
			t.Errorf("splitConfig(%q) = %q, %q, %v", tt.in, path, rest, err)
		}
	}
}

// TestCheckConfigHost: check-config checks what it can on this host
// without acting (interfaces, programs, OCF agents, role file paths),
// unless told the file is for another host.
func TestCheckConfigHost(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("state_dir = \""+dir+"/state\"\n[group.g]\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.toml", "[[group.g.action]]\ntype = \"announce\"\ninterface = \"lo\"\naddresses = [\"127.0.0.1\"]\n"+
		"[[group.g.action]]\ntype = \"exec\"\nup = [\"/bin/true\"]\n"+
		"[[group.g.action]]\ntype = \"role-file\"\npath = \""+dir+"/role\"\n")
	bad := []string{
		write("iface.toml", "[[group.g.action]]\ntype = \"address\"\ninterface = \"nonexist0\"\naddresses = [\"10.0.0.5/24\"]\n"),
		write("exec.toml", "[[group.g.action]]\ntype = \"exec\"\nup = [\"/bin/true\"]\ndown = [\"/nonexistent/prog\"]\n"),
		write("ocf.toml", "[[group.g.action]]\ntype = \"ocf\"\nagent = \"/nonexistent/agent\"\n"),
		write("role.toml", "[[group.g.action]]\ntype = \"role-file\"\npath = \"/nonexistent/dir/role\"\n"),
		write("noexec.toml", "[[group.g.action]]\ntype = \"exec\"\nup = [\""+good+"\"]\n"), // not executable
	}
	run := func(args ...string) int {
		return exitCode(run(append([]string{"carp-hook", "check-config"}, args...), noEnv, io.Discard, io.Discard), io.Discard)
	}
	if got := run(good); got != exitOK {
		t.Errorf("check-config %s: exit %d", good, got)
	}
	for _, p := range bad {
		if got := run(p); got != exitFailed {
			t.Errorf("check-config %s: exit %d, want %d", p, got, exitFailed)
		}
		if got := run("--no-host-checks", p); got != exitOK {
			t.Errorf("check-config --no-host-checks %s: exit %d, want 0", p, got)
		}
	}
}

// noEnv is an empty environment.
func noEnv(string) (string, bool) { return "", false }

// TestMainUsesWhatItIsGiven checks that Main reads the environment only
// through env and writes only to the writers it is given: the
// configuration named by CARP_HOOK_CONFIG in env (not in the process's
// environment) is checked, its report goes to stdout, an error to stderr,
// and a CARP_HOOK_DEBUG that is not a boolean is refused.
func TestMainUsesWhatItIsGiven(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(good, []byte("state_dir = \""+dir+"/state\"\n[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = \""+dir+"/role\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CARP_HOOK_CONFIG", filepath.Join(dir, "not-this-one.toml"))
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	var stdout, stderr bytes.Buffer
	code := Main([]string{"carp-hook", "check-config", "--no-host-checks"}, env(map[string]string{"CARP_HOOK_CONFIG": good}), &stdout, &stderr)
	if code != exitOK || !strings.Contains(stdout.String(), good+": OK") || stderr.Len() != 0 {
		t.Fatalf("check-config with CARP_HOOK_CONFIG in env: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	code = Main([]string{"carp-hook", "check-config"}, noEnv, &stdout, &stderr)
	if code != exitFailed || !strings.Contains(stderr.String(), "carp-hook: ") || !strings.Contains(stderr.String(), DefaultConfig) {
		t.Fatalf("check-config without env: exit %d, stdout %q, stderr %q (want the default file's error)", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := Main([]string{"carp-hook", "-V"}, noEnv, &stdout, io.Discard); code != exitOK || !strings.HasPrefix(stdout.String(), "carp-hook ") {
		t.Fatalf("-V: exit %d, stdout %q", code, stdout.String())
	}
	stderr.Reset()
	code = Main([]string{"carp-hook", "status", "nosuch"}, env(map[string]string{"CARP_HOOK_CONFIG": good, "CARP_HOOK_DEBUG": "1"}), io.Discard, &stderr)
	if code != exitFailed || !strings.Contains(stderr.String(), "carp-hook: ") {
		t.Fatalf("status of an unknown group: exit %d, stderr %q", code, stderr.String())
	}
	if code := Main([]string{"carp-hook", "check-config"}, env(map[string]string{"CARP_HOOK_DEBUG": "maybe"}), io.Discard, io.Discard); code != exitFailed {
		t.Errorf("CARP_HOOK_DEBUG=maybe: exit %d, want %d", code, exitFailed)
	}
}
