// Package cli_test holds the table tests of the command-line contract the
// three programs share (docs/cli.md): usage errors exit in the caller's
// style, options may follow positional arguments, one duration syntax,
// -V/--version everywhere, and the drop-in link names. The programs are
// built once and run as a caller would run them; nothing here needs root
// or touches the network beyond loopback.
package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// bin is the directory of the built programs and their links.
var bin string

// links are the names the programs are installed under besides their own:
// relayd's and ldirectord's links, and keepalived's check_*_raw drop-ins.
var links = map[string]string{
	"ocf-sockd-relayd":        "ocf-sockd",
	"ocf-vipcheck-ldirectord": "ocf-vipcheck",
	"check_tcp_raw":           "ocf-vipcheck",
	"check_http_raw":          "ocf-vipcheck",
}

func TestMain(m *testing.M) {
	dir, _, err := testenv.BuildTemp("ocfkit-cli-", "./cmd/ocf-sockd", "./cmd/ocf-vipcheck", "./cmd/carp-hook")
	if err == nil {
		for link, target := range links {
			if err = os.Symlink(target, filepath.Join(dir, link)); err != nil {
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is how a run ended.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// output is stdout and stderr together.
func (r result) output() string { return r.stdout + r.stderr }

// run runs a program (or link) of bin with args; env adds to an
// environment cleared of the variables that choose styles and logging.
func run(t *testing.T, program string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, program), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OCFKIT_") && !strings.HasPrefix(kv, "HA_") && !strings.HasPrefix(kv, "OCF_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %q: %v", program, args, err)
	}
	return r
}

// The usage exit of each style: never a status its caller reads as up.
const (
	ocfUsage        = 2 // OCF_ERR_ARGS
	relaydUsage     = 0 // down
	keepalivedUsage = 1 // down
	nagiosUsage     = 3 // UNKNOWN
)

// nagiosLine is the one line a Nagios host gets for a usage error.
var nagiosLine = regexp.MustCompile(`^[A-Z][A-Z0-9_-]* UNKNOWN: [^\n]+\n$`)

// usageCheck is a command line with a usage error. Positional arguments
// name a target that does not exist (interface nosuch0, port 1 on
// loopback), so a usage error that slips through still ends quickly.
type usageCheck struct {
	program string   // ocf-sockd or ocf-vipcheck
	command []string // the command word(s), absent under a link that implies them
	kind    string
	args    []string
	// inCommand is set where the command, not the flag parser, finds the
	// error (argument counts, ranges): the OCF style's usage status 2 needs
	// the commands to mark the error with checkstyle.Usage (h-sockd,
	// h-vipcheck); see TestUsageExitOCFInCommands.
	inCommand bool
	// link is a link name that implies the command and a style (""
	// for none), and linkCode that style's usage status.
	link     string
	linkCode int
}

func usageChecks() []usageCheck {
	sockd := func(kind string, inCommand bool, args ...string) usageCheck {
		return usageCheck{"ocf-sockd", []string{"check"}, kind, args, inCommand, "ocf-sockd-relayd", relaydUsage}
	}
	tcp := func(kind string, inCommand bool, args ...string) usageCheck {
		// ldirectord's command takes four arguments as tcp does; its link
		// implies the keepalived style.
		return usageCheck{"ocf-vipcheck", []string{"tcp"}, kind, args, inCommand, "ocf-vipcheck-ldirectord", keepalivedUsage}
	}
	arp := func(kind string, inCommand bool, args ...string) usageCheck {
		return usageCheck{"ocf-vipcheck", []string{"arp-leak"}, kind, args, inCommand, "", 0}
	}
	rs := []string{"nosuch0", "10.0.0.2", "10.0.0.1", "80"}
	with := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
	return []usageCheck{
		sockd("unknown flag", false, "--bogus", "127.0.0.1:1"),
		sockd("unknown flag after args", false, "127.0.0.1:1", "-x"),
		sockd("missing arg", true),
		sockd("extra arg", true, "127.0.0.1", "1", "2"),
		sockd("bad duration", false, "127.0.0.1:1", "--timeout", "fast"),
		sockd("negative duration", false, "127.0.0.1:1", "--timeout", "-5"),
		sockd("overflowing duration", false, "127.0.0.1:1", "--timeout", "18446744073710"),
		sockd("missing value", false, "127.0.0.1:1", "--timeout"),
		tcp("unknown flag", false, with(rs, "--bogus")...),
		tcp("missing arg", true, rs[:3]...),
		tcp("extra arg", true, with(rs, "81")...),
		tcp("bad duration", false, with(rs, "-t", "fast")...),
		tcp("negative duration", true, with(rs, "-t", "-5")...),
		tcp("overflowing duration", true, with(rs, "-t", "18446744073710")...),
		tcp("missing value", false, with(rs, "-t")...),
		arp("unknown flag", false, "-x", "nosuch0", "10.0.0.1"),
		arp("missing arg", true, "nosuch0"),
		arp("extra arg", true, "nosuch0", "10.0.0.1", "10.0.0.2"),
		arp("bad duration", false, "nosuch0", "10.0.0.1", "-t", "fast"),
		arp("negative duration", true, "nosuch0", "10.0.0.1", "-t", "-5"),
		arp("overflowing duration", true, "nosuch0", "10.0.0.1", "-t", "18446744073710"),
	}
}

// styleChoice is one way a caller chooses an exit style.
type styleChoice struct {
	how  string
	flag []string // appended after the arguments (before them for "missing value")
	env  []string
	link bool // run under the check's link name
	code int  // -1: the link's
}

var styleChoices = []styleChoice{
	{how: "default ocf", code: ocfUsage},
	{how: "--exit-style ocf", flag: []string{"--exit-style", "ocf"}, code: ocfUsage},
	{how: "--exit-style relayd", flag: []string{"--exit-style", "relayd"}, code: relaydUsage},
	{how: "--exit-style=keepalived", flag: []string{"--exit-style=keepalived"}, code: keepalivedUsage},
	{how: "--exit-style ldirectord", flag: []string{"--exit-style", "ldirectord"}, code: keepalivedUsage},
	{how: "--exit-style nagios", flag: []string{"--exit-style", "nagios"}, code: nagiosUsage},
	{how: "$OCFKIT_EXIT_STYLE=relayd", env: []string{"OCFKIT_EXIT_STYLE=relayd"}, code: relaydUsage},
	{how: "$OCFKIT_EXIT_STYLE=keepalived", env: []string{"OCFKIT_EXIT_STYLE=keepalived"}, code: keepalivedUsage},
	{how: "$OCFKIT_EXIT_STYLE=nagios", env: []string{"OCFKIT_EXIT_STYLE=nagios"}, code: nagiosUsage},
	{how: "--exit-style beats the environment", flag: []string{"--exit-style", "relayd"}, env: []string{"OCFKIT_EXIT_STYLE=nagios"}, code: relaydUsage},
	{how: "bad --exit-style, relayd environment", flag: []string{"--exit-style", "bogus"}, env: []string{"OCFKIT_EXIT_STYLE=relayd"}, code: relaydUsage},
	{how: "link name", link: true, code: -1},
}

// commandLine returns the program and arguments that run u as s says,
// and false where s does not apply to u.
func commandLine(u usageCheck, s styleChoice) (string, []string, bool) {
	program, args := u.program, append(append([]string{}, u.command...), u.args...)
	if s.link {
		if u.link == "" {
			return "", nil, false
		}
		program, args = u.link, append([]string{}, u.args...)
	}
	if strings.HasPrefix(u.kind, "missing value") {
		// The option without its value must come last.
		n := len(u.command)
		if s.link {
			n = 0
		}
		return program, append(append(append([]string{}, args[:n]...), s.flag...), args[n:]...), true
	}
	return program, append(args, s.flag...), true
}

// checkUsageExit runs u in every style choice that want selects and checks
// the usage exit and its output.
func checkUsageExit(t *testing.T, want func(u usageCheck, s styleChoice) bool) {
	for _, u := range usageChecks() {
		for _, s := range styleChoices {
			if !want(u, s) {
				continue
			}
			program, args, ok := commandLine(u, s)
			if !ok {
				continue
			}
			code := s.code
			if code < 0 {
				code = u.linkCode
			}
			name := fmt.Sprintf("%s %s/%s/%s", u.program, strings.Join(u.command, " "), u.kind, s.how)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				r := run(t, program, s.env, args...)
				if r.code != code {
					t.Errorf("%s %q: %v; want exit %d", program, args, r, code)
				}
				if strings.Contains(r.output(), "USAGE:") || strings.Contains(r.output(), "OPTIONS:") {
					t.Errorf("%s %q prints the help on a usage error: %v", program, args, r)
				}
				if code == nagiosUsage && !nagiosLine.MatchString(r.stdout) {
					t.Errorf("%s %q: stdout %q, want one line SERVICE UNKNOWN: reason", program, args, r.stdout)
				}
				if strings.TrimSpace(r.output()) == "" {
					t.Errorf("%s %q gives no reason", program, args)
				}
			})
		}
	}
}

// TestUsageExit runs every kind of usage error of ocf-sockd check and
// ocf-vipcheck tcp and arp-leak in every exit style, chosen by flag
// (after the positional arguments), environment or link name: relayd
// exits 0 (down, where 2 was read as up), keepalived and ldirectord 1,
// Nagios 3 with one status line, OCF 2. The OCF rows of errors the
// commands themselves find are in TestUsageExitOCFInCommands.
func TestUsageExit(t *testing.T) {
	checkUsageExit(t, func(u usageCheck, s styleChoice) bool {
		return !(u.inCommand && s.code == ocfUsage)
	})
}

// TestUsageExitOCFInCommands is the rest of TestUsageExit: in the OCF
// style, argument counts and out-of-range durations, which the commands
// find, exit 2 (OCF_ERR_ARGS) rather than 1 (a check that ran and
// failed). Needs h-sockd and h-vipcheck (the commands wrap these errors
// with checkstyle.Usage).
func TestUsageExitOCFInCommands(t *testing.T) {
	checkUsageExit(t, func(u usageCheck, s styleChoice) bool {
		return u.inCommand && s.code == ocfUsage
	})
}

// notUsage checks a run ended as a check that could not reach its
// target, in the OCF style (1), not as a usage error (2), and that the
// output names the target (so the arguments got through).
func notUsage(t *testing.T, r result, target string, args []string) {
	t.Helper()
	if r.code != 1 || !strings.Contains(r.output(), target) {
		t.Errorf("%q: %v; want exit 1 (not a usage error) naming %s", args, r, target)
	}
}

// TestOptionOrder shows options may follow the positional arguments, as
// glibc's getopt allows (check_tcp_raw eth0 RS VIP 80 -t 300), and that
// "--" ends them.
func TestOptionOrder(t *testing.T) {
	for _, tc := range []struct {
		program string
		args    []string
		code    int
		want    string // in the output
	}{
		{"ocf-vipcheck", []string{"tcp", "nosuch0", "10.0.0.2", "10.0.0.1", "80", "-t", "300"}, 1, "nosuch0"},
		{"ocf-vipcheck", []string{"tcp", "nosuch0", "-t", "300", "10.0.0.2", "-c", "10.0.0.1", "80"}, 1, "nosuch0"},
		{"ocf-vipcheck", []string{"tcp", "nosuch0", "10.0.0.2", "10.0.0.1", "80", "--exit-style", "nagios"}, 3, "VIPCHECK UNKNOWN: no interface nosuch0"},
		{"ocf-vipcheck", []string{"tcp", "-t", "300", "--", "nosuch0", "10.0.0.2", "10.0.0.1", "80"}, 1, "nosuch0"},
		{"ocf-vipcheck", []string{"arp-leak", "nosuch0", "10.0.0.1", "-t", "100"}, 1, "nosuch0"},
		{"ocf-sockd", []string{"check", "127.0.0.1:1", "--depth", "10", "--exit-style", "nagios"}, 2, "SOCKS CRITICAL"},
		{"ocf-sockd", []string{"check", "127.0.0.1:1", "--exit-style=keepalived", "--depth", "10"}, 1, "connection refused"},
		{"ocf-sockd", []string{"check", "--depth", "10", "--", "127.0.0.1", "1"}, 1, "connection refused"},
		{"ocf-sockd-relayd", []string{"127.0.0.1:1", "--depth", "10", "--exit-style", "nagios"}, 2, "SOCKS CRITICAL"},
	} {
		t.Run(strings.Join(append([]string{tc.program}, tc.args...), " "), func(t *testing.T) {
			t.Parallel()
			r := run(t, tc.program, nil, tc.args...)
			if r.code != tc.code || !strings.Contains(r.output(), tc.want) {
				t.Errorf("%v; want exit %d with %q", r, tc.code, tc.want)
			}
		})
	}
}

// TestVersion shows -V and --version on every program and command print
// "PROGRAM VERSION" and exit 0, and that -v is never the version.
func TestVersion(t *testing.T) {
	checkVersion(t, map[string][][]string{
		"ocf-sockd":    {{}, {"check"}},
		"ocf-vipcheck": {{}, {"tcp"}, {"http"}, {"ldirectord"}, {"arp-leak"}},
	})
	for _, args := range [][]string{{"-v"}, {"check", "-v", "127.0.0.1:1", "--depth", "10"}} {
		if r := run(t, "ocf-sockd", nil, args...); r.code == 0 || regexp.MustCompile(`^ocf-sockd \S+\n$`).MatchString(r.stdout) {
			t.Errorf("ocf-sockd %q: %v; -v must not be the version", args, r)
		}
	}
	if r := run(t, "ocf-sockd", nil, "version"); !regexp.MustCompile(`^ocf-sockd \S+\n$`).MatchString(r.stdout) || r.code != 0 {
		t.Errorf("ocf-sockd version: %v", r)
	}
}

func checkVersion(t *testing.T, commands map[string][][]string) {
	t.Helper()
	for program, cmds := range commands {
		line := regexp.MustCompile(`^` + regexp.QuoteMeta(program) + ` \S+\n$`)
		for _, cmd := range cmds {
			for _, flag := range []string{"-V", "--version"} {
				args := append(append([]string{}, cmd...), flag)
				if r := run(t, program, nil, args...); r.code != 0 || !line.MatchString(r.stdout) {
					t.Errorf("%s %q: %v; want exit 0 and %q", program, args, r, program+" VERSION")
				}
			}
		}
	}
}

// TestCarpHookVersion is TestVersion for carp-hook, whose front-ends
// (ucarp, keepalived, ...) pass the caller's words through and so take no
// options. Needs carp-hook wired to internal/clikit (clikit.Prepare,
// clikit.PermuteApp, app Version).
func TestCarpHookVersion(t *testing.T) {
	checkVersion(t, map[string][][]string{"carp-hook": {{}, {"status"}, {"check-config"}}})
	if r := run(t, "carp-hook", nil, "-v"); r.code == 0 || regexp.MustCompile(`^carp-hook \S+\n$`).MatchString(r.stdout) {
		t.Errorf("carp-hook -v: %v; -v must not be the version", r)
	}
}

// durationMessage is how a refused duration is explained: the unit of a
// plain number and the range (internal/duration).
var durationMessage = regexp.MustCompile(`(milliseconds|seconds).*from \S+ to \S+`)

// TestDurationSyntax shows the one duration syntax: a plain number in the
// unit of the tool stood in for (check_tcp_raw's -t: milliseconds) or a
// Go duration is accepted; negative, overflowing and wordy values are
// refused with a message naming the unit and the range. Needs h-vipcheck
// and h-sockd (their flags parsed with internal/duration).
func TestDurationSyntax(t *testing.T) {
	tcp := []string{"tcp", "nosuch0", "10.0.0.2", "10.0.0.1", "80", "-t"}
	arp := []string{"arp-leak", "nosuch0", "10.0.0.1", "-t"}
	sockd := []string{"check", "127.0.0.1:1", "--depth", "10", "--timeout"}
	for _, v := range []string{"500", "500ms", "3s"} {
		for _, args := range [][]string{append(tcp, v), append(arp, v)} {
			notUsage(t, run(t, "ocf-vipcheck", nil, args...), "nosuch0", args)
		}
	}
	for _, v := range []string{"3", "500ms", "3s"} {
		args := append(sockd, v)
		notUsage(t, run(t, "ocf-sockd", nil, args...), "refused", args)
	}
	for _, v := range []string{"-5", "18446744073710", "fast"} {
		for _, c := range []struct {
			program string
			args    []string
		}{{"ocf-vipcheck", append(tcp, v)}, {"ocf-vipcheck", append(arp, v)}, {"ocf-sockd", append(sockd, v)}} {
			r := run(t, c.program, nil, c.args...)
			if r.code != ocfUsage || !durationMessage.MatchString(r.output()) {
				t.Errorf("%s %q: %v; want exit %d and a message naming unit and range", c.program, c.args, r, ocfUsage)
			}
		}
	}
}

// TestDropInNames runs ocf-vipcheck under keepalived's drop-in names:
// check_tcp_raw is the tcp command and check_http_raw the http command,
// with Nagios-style exits (a check_* name) unless chosen otherwise, and
// options after the positional arguments as the originals take them.
// Needs h-vipcheck (the link name mapping).
func TestDropInNames(t *testing.T) {
	ocf := []string{"OCFKIT_EXIT_STYLE=ocf"}
	for _, tc := range []struct {
		program string
		env     []string
		args    []string
		code    int
		want    string
	}{
		{"check_tcp_raw", ocf, []string{"nosuch0", "10.0.0.2", "10.0.0.1", "80", "-t", "300"}, 1, "nosuch0"},
		{"check_tcp_raw", nil, []string{"nosuch0", "10.0.0.2", "10.0.0.1", "80", "-t", "300"}, 3, "UNKNOWN: no interface nosuch0"},
		{"check_tcp_raw", nil, []string{"nosuch0", "10.0.0.2", "10.0.0.1", "80", "--bogus"}, nagiosUsage, "UNKNOWN"},
		{"check_tcp_raw", nil, []string{"nosuch0", "10.0.0.2", "10.0.0.1"}, nagiosUsage, "UNKNOWN"},
		{"check_tcp_raw", ocf, []string{"nosuch0", "10.0.0.2", "10.0.0.1", "80", "-t", "fast"}, ocfUsage, "milliseconds"},
		{"check_http_raw", ocf, []string{"nosuch0", "10.0.0.2", "10.0.0.1", "80", "www.example.org", "/", "-t", "300"}, 1, "nosuch0"},
		{"check_http_raw", nil, []string{"nosuch0", "10.0.0.2", "10.0.0.1", "80", "www.example.org"}, nagiosUsage, "UNKNOWN"},
		{"check_tcp_raw", nil, []string{"-V"}, 0, "ocf-vipcheck "},
		{"check_http_raw", nil, []string{"--version"}, 0, "ocf-vipcheck "},
	} {
		t.Run(strings.Join(append([]string{tc.program}, tc.args...), " "), func(t *testing.T) {
			t.Parallel()
			r := run(t, tc.program, tc.env, tc.args...)
			if r.code != tc.code || !strings.Contains(r.output(), tc.want) {
				t.Errorf("%v; want exit %d with %q", r, tc.code, tc.want)
			}
			if tc.code == nagiosUsage && !nagiosLine.MatchString(r.stdout) {
				t.Errorf("stdout %q, want one line SERVICE UNKNOWN: reason", r.stdout)
			}
		})
	}
}

// TestLogging shows the resource-agents logging variables: HA_LOGFILE
// gets ha_log's lines, HA_debug=1 and --debug add debug messages.
func TestLogging(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ha.log")
	line := regexp.MustCompile(`(?m)^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d  ocf-sockd\[\d+\]:    DEBUG: `)
	args := []string{"check", "127.0.0.1:1", "--depth", "10", "--debug"}
	r := run(t, "ocf-sockd", []string{"HA_LOGFILE=" + file, "HA_LOGFACILITY=none"}, args...)
	logged, _ := os.ReadFile(file)
	if r.code != 1 || !line.Match(logged) || !strings.Contains(r.stderr, "[DEBUG]") {
		t.Errorf("--debug: %v; log file %q", r, logged)
	}
	file2 := filepath.Join(t.TempDir(), "ha.log")
	r = run(t, "ocf-sockd", []string{"HA_LOGFILE=" + file2, "HA_LOGFACILITY=none", "HA_debug=1"}, args[:4]...)
	if logged, _ := os.ReadFile(file2); r.code != 1 || !line.Match(logged) {
		t.Errorf("HA_debug=1: %v; log file %q", r, logged)
	}
	r = run(t, "ocf-sockd", []string{"HA_LOGFILE=" + file2 + ".none", "HA_LOGFACILITY=none"}, args[:4]...)
	if _, err := os.Stat(file2 + ".none"); err == nil || strings.Contains(r.stderr, "DEBUG") {
		t.Errorf("no debugging asked for: %v; a log file was written: %v", r, err == nil)
	}
}
