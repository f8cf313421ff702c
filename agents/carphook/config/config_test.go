package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `state_dir = "/run/carp-hook"

[group.dante]
match = ["10.0.0.5", "VI_1", "1@em0"]
on_error = "revert"
timeout = "60s"

[[group.dante.action]]
type = "address"
interface = "eth0"
addresses = ["10.0.0.5/24", "fd00::5/64"]

[[group.dante.action]]
type = "announce"
interface = "eth0"
addresses = ["10.0.0.5", "fd00::5"]
count = 5
interval = "200ms"

[[group.dante.action]]
type = "role-file"
path = "/run/ocfkit/role"

[[group.dante.action]]
type = "ocf"
agent = "/usr/lib/ocf/resource.d/ocfkit/sockd"
params = { config = "/etc/danted.conf", pidfile = "/run/danted.pid" }
timeout = "20s"

[[group.dante.action]]
type = "systemd"
unit = "danted.service"
verb = "restart"

[[group.dante.action]]
type = "exec"
up = ["/usr/sbin/service", "dante", "onestart"]
down = ["/usr/sbin/service", "dante", "onestop"]
`

func TestParseGood(t *testing.T) {
	f, err := Parse("good.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.Find("VI_1")
	if err != nil || g.Name != "dante" {
		t.Fatalf("Find(VI_1) = %v, %v", g, err)
	}
	if g.Timeout != time.Minute || g.OnError != OnErrorRevert || len(g.Actions) != 6 {
		t.Errorf("group = %+v", g)
	}
	if a := g.Actions[1]; a.Count != 5 || a.Interval != 200*time.Millisecond || len(a.IPs) != 2 || a.Line != 13 {
		t.Errorf("announce = %+v", a)
	}
	if a := g.Actions[0]; len(a.Prefixes) != 2 || a.Prefixes[1].Bits() != 64 {
		t.Errorf("address = %+v", a)
	}
	if a := g.Actions[3]; a.Params["config"] != "/etc/danted.conf" || a.Timeout != 20*time.Second {
		t.Errorf("ocf = %+v", a)
	}
	if g, err := f.Find(""); err != nil || g.Name != "dante" {
		t.Errorf("Find(\"\") with one group = %v, %v", g, err)
	}
	if _, err := f.Find("other"); err == nil {
		t.Error("Find(other) found something")
	}
}

func TestErrorsHaveLines(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string // substrings, each must appear
	}{
		{"unknown top-level key", "statedir = \"/x\"\n", []string{"t.toml:1:", `unknown key "statedir"`}},
		{"unknown action key", "[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = \"/x\"\nmode = 1\n",
			[]string{"t.toml:5:", `"mode"`}},
		{"key of another type", "[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = \"/x\"\nunit = \"a.service\"\n",
			[]string{"t.toml:5:", `key "unit" does not apply to type role-file`}},
		{"bad type", "[group.g]\n\n[[group.g.action]]\ntype = \"adress\"\n", []string{"t.toml:4:", `unknown type "adress"`}},
		{"missing type", "[group.g]\n\n[[group.g.action]]\npath = \"/x\"\n", []string{"t.toml:3:", "missing type"}},
		{"bad prefix", "[group.g]\n[[group.g.action]]\ntype = \"address\"\ninterface = \"eth0\"\naddresses = [\"10.0.0.5\"]\n",
			[]string{"t.toml:5:", "not ADDRESS/PREFIXLEN"}},
		{"bad duration", "[group.g]\n[[group.g.action]]\ntype = \"exec\"\nup = [\"/bin/true\"]\ntimeout = \"soon\"\n",
			[]string{"t.toml:5:", "timeout"}},
		{"relative exec", "[group.g]\n[[group.g.action]]\ntype = \"exec\"\nup = [\"true\"]\n",
			[]string{"t.toml:4:", "absolute path"}},
		{"second action wrong", "[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = \"/x\"\n[[group.g.action]]\ntype = \"systemd\"\nverb = \"stop\"\n",
			[]string{"t.toml:5:", "missing unit", "t.toml:7:", `verb "stop"`, "action 2"}},
		{"wrong value type", "[group.g]\n[[group.g.action]]\ntype = \"announce\"\ninterface = \"eth0\"\naddresses = [\"10.0.0.5\"]\ncount = \"three\"\n",
			[]string{"t.toml:6:"}},
		{"syntax", "[group.g\n", []string{"t.toml:1:"}},
		{"no groups", "state_dir = \"/x\"\n", []string{"no [group.NAME]"}},
		{"duplicate match", "[group.a]\nmatch=[\"b\"]\n[[group.a.action]]\ntype=\"role-file\"\npath=\"/x\"\n[group.b]\n[[group.b.action]]\ntype=\"role-file\"\npath=\"/y\"\n",
			[]string{"already selects group"}},
		{"group without actions", "[group.g]\nmatch = [\"x\"]\n", []string{"t.toml:1:", "has no"}},
		{"bad on_error", "[group.g]\non_error = \"panic\"\n[[group.g.action]]\ntype=\"role-file\"\npath=\"/x\"\n", []string{"t.toml:2:", "on_error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(tt.doc))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(p)
	if err != nil || f.Path != p {
		t.Fatalf("Load = %v, %v", f, err)
	}
	if _, err := Load(p + ".missing"); err == nil {
		t.Error("no error for a missing file")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = \"/x\"\n"))
	f.Add([]byte("[group.g]\n[[group.g.action]]\ntype = \"ocf\"\nagent=\"/a\"\n[group.g.action.params]\nx=\"1\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.toml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.toml") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		for _, g := range cfg.Groups {
			if len(g.Actions) == 0 {
				t.Fatal("accepted a group without actions")
			}
			for _, a := range g.Actions {
				if _, ok := allowedKeys[a.Type]; !ok {
					t.Fatalf("accepted type %q", a.Type)
				}
			}
		}
	})
}
