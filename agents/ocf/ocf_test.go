package ocf

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/internal/filesafe"
	"github.com/ocfkit/ocfkit/internal/filesafe/filesafetest"
	"github.com/ocfkit/ocfkit/metadata"
	"github.com/ocfkit/ocfkit/metadata/metaxml"
)

func envOf(m map[string]string) Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// testMeta returns the meta-data of testdata/testd.xml, so that the tests
// do not depend on a real agent's parameters and timeouts.
func testMeta(t *testing.T) *metadata.Agent {
	t.Helper()
	b, err := os.ReadFile("testdata/testd.xml")
	if err != nil {
		t.Fatal(err)
	}
	meta, err := metaxml.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return meta
}

func TestCodeOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Code
	}{
		{nil, Success},
		{errors.New("plain"), ErrGeneric},
		{Errorf(ErrConfigured, "bad"), ErrConfigured},
		{fmt.Errorf("wrapped: %w", Errorf(NotRunning, "stopped")), NotRunning},
		{WithCode(ErrInstalled, errors.New("no binary")), ErrInstalled},
		{context.DeadlineExceeded, ErrGeneric},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), ErrGeneric},
	} {
		if got := CodeOf(tc.err); got != tc.want {
			t.Errorf("CodeOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if WithCode(ErrGeneric, nil) != nil {
		t.Error("WithCode(nil) is not nil")
	}
	if int(Degraded) != 190 || int(DegradedPromoted) != 191 || int(NotRunning) != 7 {
		t.Error("codes differ from OCF")
	}
}

func TestCheckDepth(t *testing.T) {
	implemented := []int{0, 10, 20}
	for _, tc := range []struct {
		level   string
		set     bool
		want    int
		wantErr bool
	}{
		{"", false, 0, false},
		{"0", true, 0, false},
		{"5", true, 0, false},
		{"10", true, 10, false},
		{"15", true, 10, false},
		{"20", true, 20, false},
		{"30", true, 20, false},
		{" 20 ", true, 20, false},
		{"deep", true, 0, true},
		{"-1", true, 0, true},
	} {
		env := map[string]string{}
		if tc.set {
			env["OCF_CHECK_LEVEL"] = tc.level
		}
		got, err := checkDepth(implemented, envOf(env))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("OCF_CHECK_LEVEL=%q: got %d, %v; want %d (error %v)", tc.level, got, err, tc.want, tc.wantErr)
		}
		if err != nil && CodeOf(err) != ErrArgs {
			t.Errorf("OCF_CHECK_LEVEL=%q: code %v, want ErrArgs", tc.level, CodeOf(err))
		}
	}
}

func TestParseRequest(t *testing.T) {
	meta := testMeta(t)
	for _, tc := range []struct {
		name        string
		action      string
		env         map[string]string
		wantAction  string
		wantProbe   bool
		wantTimeout time.Duration
		wantDepth   int
	}{
		{"probe without interval", "monitor", map[string]string{}, "monitor", true, 20 * time.Second, 0},
		{"probe with interval 0", "monitor", map[string]string{"OCF_RESKEY_CRM_meta_interval": "0"}, "monitor", true, 20 * time.Second, 0},
		{"recurring", "monitor", map[string]string{"OCF_RESKEY_CRM_meta_interval": "10000", "OCF_RESKEY_CRM_meta_timeout": "15000", "OCF_CHECK_LEVEL": "20"}, "monitor", false, 15 * time.Second, 20},
		{"status is monitor", "status", map[string]string{"OCF_RESKEY_CRM_meta_interval": "5000"}, "monitor", false, 20 * time.Second, 0},
		{"stop default timeout from meta-data", "stop", map[string]string{}, "stop", false, 30 * time.Second, 0},
		{"start is no probe", "start", map[string]string{"OCF_RESKEY_CRM_meta_timeout": "2500"}, "start", false, 2500 * time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := parseRequest(meta, tc.action, envOf(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if req.Action != tc.wantAction || req.Probe != tc.wantProbe || req.Timeout != tc.wantTimeout || req.Depth != tc.wantDepth {
				t.Errorf("got action %s probe %v timeout %v depth %d", req.Action, req.Probe, req.Timeout, req.Depth)
			}
			if req.Instance != "testd" {
				t.Errorf("instance %q, want the agent name outside a cluster", req.Instance)
			}
		})
	}
	for _, bad := range []string{"abc", "-5", "0"} {
		_, err := parseRequest(meta, "start", envOf(map[string]string{"OCF_RESKEY_CRM_meta_timeout": bad}))
		if CodeOf(err) != ErrArgs {
			t.Errorf("timeout %q: %v, want ErrArgs", bad, err)
		}
	}
}

func TestParseInterval(t *testing.T) {
	for in, want := range map[string]time.Duration{"20": 20 * time.Second, "20s": 20 * time.Second, "500ms": 500 * time.Millisecond, "2m": 2 * time.Minute, "2min": 2 * time.Minute} {
		if got, err := parseInterval(in); err != nil || got != want {
			t.Errorf("parseInterval(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestSafetyMargin(t *testing.T) {
	for timeout, want := range map[time.Duration]time.Duration{
		time.Second: 500 * time.Millisecond, 20 * time.Second: 2 * time.Second,
		8 * time.Second: 800 * time.Millisecond, 300 * time.Millisecond: 150 * time.Millisecond,
		120 * time.Second: 2 * time.Second,
	} {
		if got := safetyMargin(timeout); got != want {
			t.Errorf("safetyMargin(%v) = %v, want %v", timeout, got, want)
		}
	}
}

func TestParams(t *testing.T) {
	meta := testMeta(t)
	p := NewParams(meta, envOf(map[string]string{
		"OCF_RESKEY_config": "/etc/x.conf", "OCF_RESKEY_check_udp": "yes",
		"OCF_RESKEY_check_timeout": "nine", "OCF_RESKEY_pidfile": "",
	}))
	if got := p.String("config"); got != "/etc/x.conf" {
		t.Errorf("set value: %q", got)
	}
	if got := p.String("binary"); got != "/usr/sbin/testd" {
		t.Errorf("default from meta-data: %q", got)
	}
	if got := p.String("pidfile"); got != "/var/run/testd.pid" || p.IsSet("pidfile") {
		t.Errorf("an empty value takes the default: %q", got)
	}
	if b, err := p.Bool("check_udp"); err != nil || !b {
		t.Errorf("check_udp=yes: %v %v", b, err)
	}
	if _, err := p.Int("check_timeout"); CodeOf(err) != ErrConfigured {
		t.Errorf("check_timeout=nine: %v, want ErrConfigured", err)
	}
	if got := p.Unread(); len(got) != 0 {
		t.Errorf("Unread after reading every parameter: %v", got)
	}
	if got, want := NewParams(meta, envOf(nil)).Unread(), []string{"binary", "config", "pidfile", "check_timeout", "check_udp"}; !slices.Equal(got, want) {
		t.Errorf("Unread before reading: %v, want %v in meta-data order", got, want)
	}
	defer func() {
		if recover() == nil {
			t.Error("an undeclared parameter does not panic")
		}
	}()
	p.String("no_such_parameter")
}

// TestRun checks dispatch, exit codes and the exit reason line.
func TestRun(t *testing.T) {
	agent := &Agent{
		Name: "sockd", Program: "ocf-test",
		Actions: map[string]Handler{
			"start": func(ctx context.Context, r *Request) error {
				if _, ok := ctx.Deadline(); !ok {
					return errors.New("no deadline")
				}
				return nil
			},
			"monitor":      func(ctx context.Context, r *Request) error { return Errorf(NotRunning, "not running") },
			"validate-all": func(ctx context.Context, r *Request) error { return Errorf(ErrConfigured, "bad\nconfig") },
		},
		Commands: []*cli.Command{{Name: "check", Action: func(c *cli.Context) error { return cli.Exit("", 4) }}},
	}
	for _, tc := range []struct {
		args       []string
		env        map[string]string
		want       Code
		wantReason string
		wantStdout string
	}{
		{[]string{"x"}, nil, ErrArgs, "", ""},
		{[]string{"x", "start"}, nil, Success, "", ""},
		{[]string{"x", "frobnicate"}, nil, Unimplemented, "ocf-exit-reason:unknown action \"frobnicate\"", ""},
		{[]string{"x", "reload"}, nil, Unimplemented, "ocf-exit-reason:unknown action \"reload\"", ""},
		{[]string{"x", "validate-all"}, nil, ErrConfigured, "ocf-exit-reason:bad config", ""},
		{[]string{"x", "validate-all"}, map[string]string{"OCF_EXIT_REASON_PREFIX": "REASON: "}, ErrConfigured, "REASON: bad config", ""},
		{[]string{"x", "monitor"}, nil, NotRunning, "", ""},
		{[]string{"x", "status"}, map[string]string{"OCF_RESKEY_CRM_meta_interval": "1000"}, NotRunning, "ocf-exit-reason:not running", ""},
		{[]string{"x", "meta-data"}, nil, Success, "", "<resource-agent name=\"sockd\""},
		{[]string{"x", "usage"}, nil, Success, "", "usage: ocf-test"},
		{[]string{"x", "version"}, nil, Success, "", "ocf-test dev"},
		{[]string{"x", "check"}, nil, Code(4), "", ""},
		{[]string{"x", "start"}, map[string]string{"OCF_RESKEY_CRM_meta_timeout": "soon"}, ErrArgs, "ocf-exit-reason:OCF_RESKEY_CRM_meta_timeout", ""},
	} {
		var stdout, stderr bytes.Buffer
		got := Code(agent.Run(tc.args, envOf(tc.env), &stdout, &stderr))
		if got != tc.want {
			t.Errorf("%v: code %v, want %v (stderr %q)", tc.args, got, tc.want, stderr.String())
		}
		reasons := 0
		for _, line := range strings.Split(stderr.String(), "\n") {
			if tc.wantReason != "" && strings.HasPrefix(line, tc.wantReason) {
				reasons++
			}
		}
		if tc.wantReason != "" && reasons != 1 {
			t.Errorf("%v: want one reason line %q in %q", tc.args, tc.wantReason, stderr.String())
		}
		if tc.wantReason == "" && strings.Contains(stderr.String(), "ocf-exit-reason:") {
			t.Errorf("%v: unexpected reason in %q", tc.args, stderr.String())
		}
		if !strings.Contains(stdout.String(), tc.wantStdout) {
			t.Errorf("%v: stdout %q, want %q", tc.args, stdout.String(), tc.wantStdout)
		}
	}
}

func TestStateFile(t *testing.T) {
	meta := testMeta(t)
	h := fnv.New128a()
	h.Write([]byte("x-" + strings.Repeat("v", 245) + ".state"))
	longHash := hex.EncodeToString(h.Sum(nil))
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"OCF_RESOURCE_INSTANCE": "vip:1"}, "/run/resource-agents/x-vip.state"},
		{map[string]string{"OCF_RESOURCE_INSTANCE": "vip:1", "OCF_RESKEY_CRM_meta_globally_unique": "true"}, "/run/resource-agents/x-vip:1.state"},
		{map[string]string{"OCF_RESOURCE_INSTANCE": "a/b", "HA_RSCTMP": "/tmp/rsc"}, "/tmp/rsc/x-a_b.state"},
		// A name of MaxStateName bytes stays; a longer one (a valid
		// XML ID of any length) is hashed to a bounded name.
		{map[string]string{"OCF_RESOURCE_INSTANCE": strings.Repeat("v", MaxStateName-8)}, "/run/resource-agents/x-" + strings.Repeat("v", MaxStateName-8) + ".state"},
		{map[string]string{"OCF_RESOURCE_INSTANCE": strings.Repeat("v", 245)}, "/run/resource-agents/x-" + longHash + ".state"},
		{map[string]string{"OCF_RESOURCE_INSTANCE": strings.Repeat("v", 245) + ":3"}, "/run/resource-agents/x-" + longHash + ".state"},
	} {
		req, err := parseRequest(meta, "start", envOf(tc.env))
		if err != nil {
			t.Fatal(err)
		}
		if got := req.StateFile("x"); got != tc.want {
			t.Errorf("%v: StateFile = %q, want %q", tc.env, got, tc.want)
		}
	}
}

// TestStateDirSafe accepts a HA_RSCTMP (or, missing, its nearest parent)
// that only the user can write, and refuses one others can write or that
// lies below such a directory (a sticky 1777 one too).
func TestStateDirSafe(t *testing.T) {
	base, err := filesafetest.SafeDir()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	public := filepath.Join(base, "public")
	open := filepath.Join(base, "open")
	for dir, mode := range map[string]os.FileMode{public: 0o1777, open: 0o777} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
	}
	meta := testMeta(t)
	for _, tc := range []struct {
		rsctmp string
		safe   bool
	}{
		{base, true},
		{filepath.Join(base, "missing", "rsctmp"), true},
		{public, false},
		{filepath.Join(public, "missing"), false},
		{open, false},
	} {
		req, err := parseRequest(meta, "start", envOf(map[string]string{"OCF_RESOURCE_INSTANCE": "r", "HA_RSCTMP": tc.rsctmp}))
		if err != nil {
			t.Fatal(err)
		}
		err = req.StateDirSafe()
		if tc.safe && err != nil {
			t.Errorf("%s: %v, want safe", tc.rsctmp, err)
		}
		if !tc.safe && (!errors.Is(err, filesafe.ErrUnsafe) || !strings.Contains(err.Error(), "HA_RSCTMP "+tc.rsctmp)) {
			t.Errorf("%s: %v, want ErrUnsafe naming HA_RSCTMP", tc.rsctmp, err)
		}
	}
}
