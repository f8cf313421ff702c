package checkstyle

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		style            Style
		up, down, unknow int
	}{
		{OCF, 0, 1, 1},
		{Keepalived, 0, 1, 1},
		{Relayd, 1, 0, 0},
		{Nagios, 0, 2, 3},
	} {
		for st, want := range map[Status]int{Up: tc.up, Down: tc.down, Unknown: tc.unknow} {
			if got := tc.style.ExitCode(st); got != want {
				t.Errorf("%s.ExitCode(%v) = %d, want %d", tc.style, st, got, want)
			}
		}
	}
}

func TestDefault(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvVar {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct {
		program, env string
		want         Style
	}{
		{"/usr/sbin/ocf-sockd", "", OCF},
		{"/usr/local/libexec/ocf-sockd-relayd", "", Relayd},
		{"/usr/lib/nagios/plugins/check_sockd", "", Nagios},
		{"/usr/sbin/ocf-sockd", "relayd", Relayd},
		{"/usr/sbin/ocf-sockd", "ldirectord", Keepalived},
		{"/usr/local/bin/ocf-sockd-ldirectord", "", Keepalived},
	} {
		got, err := Default(tc.program, env(tc.env))
		if err != nil || got != tc.want {
			t.Errorf("Default(%q, %q) = %v, %v; want %v", tc.program, tc.env, got, err, tc.want)
		}
	}
	if _, err := Default("x", env("bogus")); err == nil {
		t.Error("a bogus style in the environment is accepted")
	}
}

func TestReportNagios(t *testing.T) {
	var b bytes.Buffer
	Nagios.Report(&b, Result{Service: "SOCKS", Status: Down, Summary: "relay-data with\n10.0.0.1:1080: timeout",
		Timings: []Timing{{"connect", 1500 * time.Microsecond}, {"relay data", time.Second}}})
	want := "SOCKS CRITICAL: relay-data with 10.0.0.1:1080: timeout | connect=0.001500s;;;0 'relay data'=1.000000s;;;0\n"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
	b.Reset()
	Relayd.Report(&b, Result{Summary: "up"})
	if b.String() != "up\n" {
		t.Errorf("relayd report %q", b.String())
	}
}

func TestCommandFor(t *testing.T) {
	f := CommandFor("check")
	for program, want := range map[string]string{"ocf-sockd": "", "sockd": "", "ocf-sockd-relayd": "check", "check_sockd": "check", "ocf-sockd-ldirectord": "check"} {
		if got := f(program); got != want {
			t.Errorf("CommandFor(%q) = %q, want %q", program, got, want)
		}
	}
}

// TestUsageExit shows the one mapping of a usage error to an exit: never
// a status the caller reads as up, and for Nagios one status line on
// stdout.
func TestUsageExit(t *testing.T) {
	for _, tc := range []struct {
		style          Style
		code           int
		stdout, stderr string
	}{
		{OCF, 2, "", "bad\n"},
		{Relayd, 0, "", "bad\n"},
		{Keepalived, 1, "", "bad\n"},
		{Nagios, 3, "SOCKS UNKNOWN: bad\n", ""},
	} {
		var out, errOut bytes.Buffer
		code := tc.style.UsageExit(&out, &errOut, "SOCKS", Usage(errors.New("bad")))
		if code != tc.code || out.String() != tc.stdout || errOut.String() != tc.stderr {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.style, code, out.String(), errOut.String(), tc.code, tc.stdout, tc.stderr)
		}
	}
}

func TestFromArgs(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvVar {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct {
		args, program, env string
		want, guess        Style
		bad                bool
	}{
		{"-t 3 a", "ocf-sockd", "", OCF, OCF, false},
		{"--exit-style nagios a", "ocf-sockd", "", Nagios, Nagios, false},
		{"--exit-style=relayd a", "ocf-sockd", "nagios", Relayd, Relayd, false},
		{"-exit-style keepalived a", "ocf-sockd", "", Keepalived, Keepalived, false},
		{"a -- --exit-style nagios", "ocf-sockd", "", OCF, OCF, false},
		{"a", "ocf-sockd", "relayd", Relayd, Relayd, false},
		{"a", "/usr/lib/nagios/plugins/check_tcp_raw", "", Nagios, Nagios, false},
		{"--exit-style bogus a", "ocf-sockd", "relayd", "", Relayd, true},
		{"--exit-style bogus a", "ocf-sockd-relayd", "", "", Relayd, true},
		{"a", "check_sockd", "bogus", "", Nagios, true},
		{"--exit-style", "ocf-sockd", "", OCF, OCF, false},
	} {
		args := strings.Fields(tc.args)
		got, err := FromArgs(args, tc.program, env(tc.env))
		if (err != nil) != tc.bad || got != tc.want || (err != nil && !errors.Is(err, ErrUsage)) {
			t.Errorf("FromArgs(%q, %q, %q) = %v, %v; want %v (error %v, a usage error)", tc.args, tc.program, tc.env, got, err, tc.want, tc.bad)
		}
		if g := Guess(args, tc.program, env(tc.env)); g != tc.guess {
			t.Errorf("Guess(%q, %q, %q) = %v, want %v", tc.args, tc.program, tc.env, g, tc.guess)
		}
	}
}

// TestFromCLIUnboundReadsNoProcessState checks that an app without Bind
// gets the default style, not one from the process's environment or name.
func TestFromCLIUnboundReadsNoProcessState(t *testing.T) {
	t.Setenv(EnvVar, "nagios")
	var got Style
	app := &cli.App{Name: "x", Flags: []cli.Flag{&cli.StringFlag{Name: "exit-style"}},
		Action: func(c *cli.Context) error {
			var err error
			got, err = FromCLI(c)
			return err
		}}
	if err := app.Run([]string{"check_x"}); err != nil || got != OCF {
		t.Fatalf("unbound app: style %v, %v; want %v", got, err, OCF)
	}
}
