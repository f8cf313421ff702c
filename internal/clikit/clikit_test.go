package clikit

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/checkstyle"
)

func TestPermute(t *testing.T) {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "close", Aliases: []string{"c"}},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}},
		&cli.StringFlag{Name: "timeout", Aliases: []string{"t"}},
		&cli.StringFlag{Name: "exit-style"},
	}
	for _, tc := range []struct{ in, want string }{
		{"eth0 RS VIP 80", "eth0 RS VIP 80"},
		{"eth0 RS VIP 80 -t 300", "-t 300 eth0 RS VIP 80"},
		{"eth0 -t 300 RS -c VIP 80 -v", "-t 300 -c -v eth0 RS VIP 80"},
		{"eth0 RS --timeout=300 VIP 80", "--timeout=300 eth0 RS VIP 80"},
		{"127.0.0.1:1080 --exit-style nagios", "--exit-style nagios 127.0.0.1:1080"},
		{"eth0 RS VIP 80 -t -5", "-t -5 eth0 RS VIP 80"},
		{"- RS VIP 80 -c", "-c - RS VIP 80"},
		{"eth0 -ct 300 RS", "-ct 300 eth0 RS"},
		{"eth0 -cv RS", "-cv eth0 RS"},
		{"eth0 --bogus RS", "--bogus eth0 RS"},
		{"eth0 RS -- -x -t 3", "-- eth0 RS -x -t 3"},
		{"eth0 -t 3 RS -- -x", "-t 3 -- eth0 RS -x"},
		{"eth0 RS -t", "-t eth0 RS"},
	} {
		got := strings.Join(Permute(strings.Fields(tc.in), flags), " ")
		if got != tc.want {
			t.Errorf("Permute(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func testApp(out *bytes.Buffer, ran *[]string) *cli.App {
	app := &cli.App{
		Name: "prog", Version: "1.2", Writer: out, ErrWriter: out,
		Flags:          []cli.Flag{&cli.StringFlag{Name: "config", Aliases: []string{"c"}}},
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{{
			Name:  "tcp",
			Flags: []cli.Flag{&cli.IntFlag{Name: "timeout", Aliases: []string{"t"}}, &cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}}},
			Action: func(c *cli.Context) error {
				*ran = append(*ran, strings.Join(c.Args().Slice(), " "))
				if c.Bool("verbose") {
					*ran = append(*ran, "verbose")
				}
				return nil
			},
		}},
	}
	Prepare(app)
	return app
}

func TestPermuteApp(t *testing.T) {
	var out bytes.Buffer
	var ran []string
	app := testApp(&out, &ran)
	args := PermuteApp(app, strings.Fields("prog -c file tcp eth0 RS -t 300 VIP -v"))
	want := strings.Fields("prog -c file tcp -t 300 -v eth0 RS VIP")
	if !reflect.DeepEqual(args, want) {
		t.Fatalf("PermuteApp = %q, want %q", args, want)
	}
	if err := app.Run(args); err != nil || !reflect.DeepEqual(ran, []string{"eth0 RS VIP", "verbose"}) {
		t.Errorf("run: %v, ran %q", err, ran)
	}
}

// TestVersion shows -V and --version on the program and its commands, and
// that -v stays the command's own (verbose).
func TestVersion(t *testing.T) {
	for _, line := range []string{"prog -V", "prog --version", "prog tcp -V", "prog tcp --version", "prog -c x tcp a -V"} {
		var out bytes.Buffer
		var ran []string
		app := testApp(&out, &ran)
		if err := app.Run(PermuteApp(app, strings.Fields(line))); err != nil || out.String() != "prog 1.2\n" || len(ran) != 0 {
			t.Errorf("%s: %v, output %q, ran %q", line, err, out.String(), ran)
		}
	}
	var out bytes.Buffer
	var ran []string
	app := testApp(&out, &ran)
	if err := app.Run(strings.Fields("prog tcp -v a")); err != nil || out.Len() != 0 || len(ran) != 2 {
		t.Errorf("tcp -v: %v, output %q, ran %q", err, out.String(), ran)
	}
}

// TestUsageErrors shows flag errors come back marked as usage errors,
// with nothing printed (no help text on a Nagios host's status line).
func TestUsageErrors(t *testing.T) {
	for _, line := range []string{"prog --bogus", "prog tcp --bogus a", "prog tcp -t fast a", "prog nosuchcommand"} {
		var out bytes.Buffer
		var ran []string
		app := testApp(&out, &ran)
		err := app.Run(PermuteApp(app, strings.Fields(line)))
		if !errors.Is(err, checkstyle.ErrUsage) || out.Len() != 0 || len(ran) != 0 {
			t.Errorf("%s: %v, output %q, ran %q; want a usage error, no output", line, err, out.String(), ran)
		}
	}
}

func TestHasOption(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"tcp --debug a", true}, {"tcp -debug a", true}, {"tcp a", false}, {"tcp -- --debug", false}, {"tcp --debugx", false},
	} {
		if got := HasOption(strings.Fields(tc.in), "debug"); got != tc.want {
			t.Errorf("HasOption(%q) = %v", tc.in, got)
		}
	}
}

// TestPermuteSkipFlagParsing shows a command that takes its caller's words
// verbatim (carp-hook ucarp) keeps them in order.
func TestPermuteSkipFlagParsing(t *testing.T) {
	app := &cli.App{Name: "carp-hook", Commands: []*cli.Command{{Name: "ucarp", SkipFlagParsing: true}}}
	in := strings.Fields("carp-hook ucarp eth0 10.0.0.1 -t 3")
	if got := PermuteApp(app, in); !reflect.DeepEqual(got, in) {
		t.Errorf("PermuteApp = %q, want %q", got, in)
	}
}

// TestRun shows the helper carp-hook uses: version, permutation and usage
// errors without agents/ocf.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	var ran []string
	if err := Run(testApp(&out, &ran), "9.9", strings.Fields("prog tcp -V")); err != nil || out.String() != "prog 9.9\n" {
		t.Errorf("-V: %v, %q", err, out.String())
	}
	out.Reset()
	if err := Run(testApp(&out, &ran), "9.9", strings.Fields("prog tcp a b -t 3 -v")); err != nil || !reflect.DeepEqual(ran, []string{"a b", "verbose"}) {
		t.Errorf("options after arguments: %v, ran %q", err, ran)
	}
	if err := Run(testApp(&out, &ran), "9.9", strings.Fields("prog tcp a --bogus")); !errors.Is(err, checkstyle.ErrUsage) {
		t.Errorf("unknown flag: %v, want a usage error", err)
	}
}
