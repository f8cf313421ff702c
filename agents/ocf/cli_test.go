package ocf

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/checkstyle"
)

// cliAgent has one check command in the manner of ocf-vipcheck tcp: two
// positional arguments, -t, -v (verbose) and --exit-style; it reports up
// and what it got.
func cliAgent() *Agent {
	return &Agent{
		Name: "sockd", Program: "ocf-test", Services: map[string]string{"check": "TEST"},
		CommandFor: checkstyle.CommandFor("check"),
		Commands: []*cli.Command{{
			Name: "check",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "timeout", Aliases: []string{"t"}, Value: 1},
				&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}},
				checkstyle.Flag(),
			},
			Action: func(c *cli.Context) error {
				style, err := checkstyle.FromCLI(c)
				if err != nil {
					return err
				}
				if c.NArg() != 2 {
					return checkstyle.Usage(fmt.Errorf("expected HOST PORT, got %d arguments", c.NArg()))
				}
				if c.Int("timeout") < 0 {
					return checkstyle.Usage(fmt.Errorf("timeout %d out of range", c.Int("timeout")))
				}
				CommandLog(c).Debugf("checking %v", c.Args().Slice())
				summary := fmt.Sprintf("up %v t=%d v=%v", c.Args().Slice(), c.Int("timeout"), c.Bool("verbose"))
				return style.Exit(c.App.Writer, checkstyle.Result{Service: "TEST", Status: checkstyle.Up, Summary: summary})
			},
		}},
	}
}

// TestRunCLIUsageExit shows every kind of usage error exits in the style
// the caller chose, however it chose it, and that relayd never gets a
// status above 0 (up) from one.
func TestRunCLIUsageExit(t *testing.T) {
	kinds := map[string][]string{
		"unknown flag": {"check", "--bogus", "h", "1"},
		"missing arg":  {"check", "h"},
		"extra arg":    {"check", "h", "1", "2"},
		"bad value":    {"check", "-t", "fast", "h", "1"},
		"out of range": {"check", "h", "1", "-t", "-5"},
		"no value":     {"check", "h", "1", "-t"},
	}
	styles := []struct {
		how     string
		program string
		flag    []string
		env     map[string]string
		code    int
	}{
		{"default", "ocf-test", nil, nil, 2},
		{"flag ocf", "ocf-test", []string{"--exit-style", "ocf"}, nil, 2},
		{"flag relayd", "ocf-test", []string{"--exit-style", "relayd"}, nil, 0},
		{"flag keepalived", "ocf-test", []string{"--exit-style=keepalived"}, nil, 1},
		{"flag ldirectord", "ocf-test", []string{"--exit-style", "ldirectord"}, nil, 1},
		{"flag nagios", "ocf-test", []string{"--exit-style", "nagios"}, nil, 3},
		{"env relayd", "ocf-test", nil, map[string]string{checkstyle.EnvVar: "relayd"}, 0},
		{"env nagios", "ocf-test", nil, map[string]string{checkstyle.EnvVar: "nagios"}, 3},
		{"flag beats env", "ocf-test", []string{"--exit-style", "relayd"}, map[string]string{checkstyle.EnvVar: "nagios"}, 0},
		{"relayd link", "/usr/local/libexec/ocf-test-relayd", nil, nil, 0},
		{"nagios link", "/usr/lib/nagios/plugins/check_test", nil, nil, 3},
		{"bad flag, relayd env", "ocf-test", []string{"--exit-style", "bogus"}, map[string]string{checkstyle.EnvVar: "relayd"}, 0},
	}
	for kind, args := range kinds {
		for _, s := range styles {
			line := append([]string{s.program}, args...)
			if strings.Contains(s.program, "-relayd") || strings.Contains(s.program, "check_") {
				line = append([]string{s.program}, args[1:]...) // the link implies the command
			}
			line = append(line, s.flag...)
			if kind == "no value" && s.flag != nil {
				continue // -t would take the flag as its value
			}
			var stdout, stderr bytes.Buffer
			code := cliAgent().Run(line, envOf(s.env), &stdout, &stderr)
			if code != s.code {
				t.Errorf("%s, %s: %q exits %d, want %d (stdout %q, stderr %q)", kind, s.how, line, code, s.code, stdout.String(), stderr.String())
			}
			if s.code == 3 {
				if !regexp.MustCompile(`^TEST UNKNOWN: [^\n]+\n$`).MatchString(stdout.String()) {
					t.Errorf("%s, %s: stdout %q, want one Nagios UNKNOWN line", kind, s.how, stdout.String())
				}
			} else if stdout.Len() != 0 || stderr.Len() == 0 {
				t.Errorf("%s, %s: stdout %q, stderr %q; want the reason on stderr alone", kind, s.how, stdout.String(), stderr.String())
			}
		}
	}
}

// TestRunCLIOptionOrder shows options may follow the positional
// arguments, and "--" keeps the rest positional.
func TestRunCLIOptionOrder(t *testing.T) {
	for _, tc := range []struct{ args, want string }{
		{"x check h 1 -t 300", "up [h 1] t=300 v=false"},
		{"x check -v h -t 300 1", "up [h 1] t=300 v=true"},
		{"x check h 1 --exit-style nagios -t 3", "TEST OK: up [h 1] t=3 v=false"},
		{"x check -t 3 -- h -1", "up [h -1] t=3 v=false"},
		{"check_test h 1 -t 300", "TEST OK: up [h 1] t=300 v=false"},
	} {
		var stdout, stderr bytes.Buffer
		code := cliAgent().Run(strings.Fields(tc.args), envOf(nil), &stdout, &stderr)
		if code != 0 || strings.TrimSpace(stdout.String()) != tc.want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 0, %q", tc.args, code, stdout.String(), stderr.String(), tc.want)
		}
	}
}

// TestRunCLIVersion shows -V and --version on the program and its
// commands, and that -v is the command's own.
func TestRunCLIVersion(t *testing.T) {
	for _, args := range []string{"x -V", "x --version", "x version", "x check -V", "x check --version", "x check h 1 -V", "check_test -V"} {
		var stdout, stderr bytes.Buffer
		code := cliAgent().Run(strings.Fields(args), envOf(nil), &stdout, &stderr)
		if code != 0 || stdout.String() != "ocf-test "+Version+"\n" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := cliAgent().Run(strings.Fields("x check -v h 1"), envOf(nil), &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "v=true") {
		t.Errorf("check -v: exit %d, stdout %q", code, stdout.String())
	}
}

// TestRunCLIDebug shows --debug and HA_debug turn on a command's debug
// messages, on stderr and in $HA_LOGFILE.
func TestRunCLIDebug(t *testing.T) {
	for _, tc := range []struct {
		args  string
		env   map[string]string
		debug bool
	}{
		{"x check h 1", nil, false},
		{"x check h 1 --debug", nil, true},
		{"x check h 1", map[string]string{"HA_debug": "1"}, true},
		{"x check h 1", map[string]string{"HA_debug": "0"}, false},
	} {
		file := filepath.Join(t.TempDir(), "ha.log")
		env := map[string]string{"HA_LOGFILE": file}
		for k, v := range tc.env {
			env[k] = v
		}
		var stdout, stderr bytes.Buffer
		if code := cliAgent().Run(strings.Fields(tc.args), envOf(env), &stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit %d, stderr %q", tc.args, code, stderr.String())
		}
		logged, _ := os.ReadFile(file)
		want := "DEBUG: checking [h 1]"
		wantErr := "ocf-test[DEBUG]: checking [h 1]"
		if strings.Contains(stderr.String(), wantErr) != tc.debug || strings.Contains(string(logged), want) != tc.debug {
			t.Errorf("%s %v: stderr %q, log file %q; want debug %v", tc.args, tc.env, stderr.String(), logged, tc.debug)
		}
	}
}

// TestLogFile shows the $HA_LOGFILE line in ha_log's format, and that
// HA_LOGFACILITY=none turns the system log off.
func TestLogFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ha.log")
	var stderr bytes.Buffer
	l := newLogger("ocf-test", "proxy", &stderr, envOf(map[string]string{"HA_LOGFILE": file, "HA_LOGFACILITY": "none"}), true)
	l.now = func() time.Time { return time.Date(2026, 11, 7, 8, 9, 10, 0, time.UTC) }
	l.Infof("started")
	l.Errorf("failed: %s", "badly")
	l.Debugf("invisible")
	l.Close()
	if l.system != nil {
		t.Error("HA_LOGFACILITY=none leaves a system log")
	}
	logged, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("Nov 07 08:09:10  ocf-test(proxy)[%d]:    INFO: started\nNov 07 08:09:10  ocf-test(proxy)[%[1]d]:    ERROR: failed: badly\n", os.Getpid())
	if string(logged) != want {
		t.Errorf("log file:\n%s\nwant:\n%s", logged, want)
	}
	if stderr.String() != "ocf-test(proxy)[INFO]: started\nocf-test(proxy)[ERROR]: failed: badly\n" {
		t.Errorf("stderr %q", stderr.String())
	}
	if l := newLogger("t", "", nil, envOf(nil), false); l.system != nil {
		t.Error("a command logs to the system log without HA_LOGFACILITY")
	}
	if l := newLogger("t", "", nil, envOf(map[string]string{"HA_LOGFACILITY": "local3"}), false); l.system == nil {
		t.Error("a command ignores HA_LOGFACILITY=local3")
	}
}

// TestMetaDuration shows meta-data times in the one duration syntax, and
// that overflowing or negative values are refused rather than wrapped.
func TestMetaDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"20": 20 * time.Second, "20s": 20 * time.Second, "500ms": 500 * time.Millisecond, "2m": 2 * time.Minute, "2min": 2 * time.Minute} {
		if got, err := metaDuration(in); err != nil || got != want {
			t.Errorf("metaDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-5", "18446744073710", "fast", "", "0", "9223372036854775807"} {
		if d, err := metaDuration(bad); err == nil {
			t.Errorf("metaDuration(%q) = %v, want an error", bad, d)
		}
	}
}
