package config

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/agents/carphook/engine"
	"github.com/ocfkit/ocfkit/internal/filesafe/filesafetest"
	"github.com/ocfkit/ocfkit/internal/testenv"
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
	if g.Timeout != time.Minute || g.OnError != engine.Revert || len(g.Actions) != 6 {
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
		// Hostile input: the per-type key check holds for every way of
		// writing an action, and values are checked for what they name.
		{"single action table", "[group.g.action]\ntype = \"role-file\"\npath = \"/x\"\nunit = \"a.service\"\n",
			[]string{"t.toml:1:", "single table", "[[group.g.action]]"}},
		{"inline action", "[group.g]\naction = [{type = \"role-file\", path = \"/x\", unit = \"a.service\"}]\n",
			[]string{"t.toml:2:", `key "unit" does not apply to type role-file`}},
		{"NUL in path", "[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = \"/x\\u0000y\"\n",
			[]string{"t.toml:4:", "group.g.action.1.path: a NUL byte"}},
		{"NUL in exec argument", "[group.g]\n[[group.g.action]]\ntype = \"exec\"\nup = [\"/bin/echo\", \"a\\u0000b\"]\n",
			[]string{"t.toml:4:", "a NUL byte"}},
		{"dot-dot path", "[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = \"/run/../etc/shadow\"\n",
			[]string{"t.toml:4:", `".."`}},
		{"dot-dot exec", "[group.g]\n[[group.g.action]]\ntype = \"exec\"\ndown = [\"/usr/../tmp/x\"]\n",
			[]string{"t.toml:4:", `".."`}},
		{"zero timeout", "[group.g]\ntimeout = \"0\"\n[[group.g.action]]\ntype = \"role-file\"\npath = \"/x\"\n",
			[]string{"t.toml:2:", "out of range", "from 1ms to 1h"}},
		{"negative timeout", "[group.g]\n[[group.g.action]]\ntype = \"exec\"\nup = [\"/bin/true\"]\ntimeout = \"-1s\"\n",
			[]string{"t.toml:5:", "out of range"}},
		{"overflowing timeout", "[group.g]\n[[group.g.action]]\ntype = \"exec\"\nup = [\"/bin/true\"]\ntimeout = \"99999999999999999999h\"\n",
			[]string{"t.toml:5:", "out of range"}},
		{"huge plain timeout", "[group.g]\n[[group.g.action]]\ntype = \"exec\"\nup = [\"/bin/true\"]\ntimeout = \"18446744073709551616\"\n",
			[]string{"t.toml:5:", "out of range"}},
		{"huge count", "[group.g]\n[[group.g.action]]\ntype = \"announce\"\ninterface = \"eth0\"\naddresses = [\"10.0.0.5\"]\ncount = 9223372036854775807\n",
			[]string{"t.toml:6:", "want 1..100"}},
		{"unit without type", "[group.g]\n[[group.g.action]]\ntype = \"systemd\"\nunit = \"danted\"\n",
			[]string{"t.toml:4:", "NAME.TYPE"}},
		{"unit with slash", "[group.g]\n[[group.g.action]]\ntype = \"systemd\"\nunit = \"../x.service\"\n",
			[]string{"t.toml:4:", "letters, digits"}},
		{"unit template", "[group.g]\n[[group.g.action]]\ntype = \"systemd\"\nunit = \"getty@.service\"\n",
			[]string{"t.toml:4:", "template"}},
		{"unit too long", "[group.g]\n[[group.g.action]]\ntype = \"systemd\"\nunit = \"" + strings.Repeat("a", 250) + ".service\"\n",
			[]string{"t.toml:4:", "at most 255"}},
		{"dot-dot state_dir", "state_dir = \"/run/../tmp\"\n[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = \"/x\"\n",
			[]string{"t.toml:1:", `".."`}},
		{"relative ocf_root", "ocf_root = \"lib/ocf\"\n[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = \"/x\"\n",
			[]string{"t.toml:1:", "absolute path"}},
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

func TestMain(m *testing.M) { os.Exit(filesafetest.Main(m)) }

func TestPlainNumberIsSeconds(t *testing.T) {
	f, err := Parse("t.toml", []byte("[group.g]\ntimeout = \"5\"\n[[group.g.action]]\ntype = \"exec\"\nup = [\"/bin/true\"]\ntimeout = \"1500ms\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := f.Groups["g"]
	if g.Timeout != 5*time.Second || g.Actions[0].Timeout != 1500*time.Millisecond {
		t.Errorf("timeouts %v, %v; want 5s, 1.5s", g.Timeout, g.Actions[0].Timeout)
	}
}

func TestValidUnitName(t *testing.T) {
	for _, u := range []string{"danted.service", "getty@tty1.service", "a:b-c_d.e\\x2d.target", "x@a@b.service"} {
		if err := ValidUnitName(u); err != nil {
			t.Errorf("ValidUnitName(%q): %v", u, err)
		}
	}
}

// TestLoadRefusesUnsafe: carp-hook runs the file's actions as root, so a
// file someone else can write is refused (it gave uid 0 to anyone through
// an exec action), as is a file that is not regular or too large
// (check-config /dev/zero grew to 557 MB).
func TestLoadRefusesUnsafe(t *testing.T) {
	testenv.RequireRoot(t)
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip(err)
	}
	nobody, _ := strconv.Atoi(u.Uid)
	dir := t.TempDir()
	write := func(name string, mode os.FileMode, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	world := write("world.toml", 0o666, good)
	theirs := write("theirs.toml", 0o644, good)
	if err := os.Chown(theirs, nobody, -1); err != nil {
		t.Fatal(err)
	}
	big := write("big.toml", 0o644, "# "+strings.Repeat("x", MaxSize)+"\n")
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o1777); err != nil {
		t.Fatal(err)
	}
	inOpen := filepath.Join(open, "c.toml")
	if err := os.WriteFile(inOpen, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.toml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		world:       "writable by group and others",
		theirs:      "owned by uid " + u.Uid,
		inOpen:      "directory " + open + " is writable",
		big:         "file too large",
		fifo:        "not a regular file (a FIFO)",
		"/dev/zero": "not a regular file (a character device)",
	} {
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("Load(%s): %v; want an error naming it with %q", path, err, want)
		}
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
	f.Add([]byte("[group.g.action]\ntype = \"role-file\"\npath = \"/x\"\n"))
	f.Add([]byte("[group.g]\naction = [{type = \"exec\", up = [\"/bin/true\"]}]\n"))
	f.Add([]byte("[group.g]\n[[group.g.action]]\ntype = \"systemd\"\nunit = \"a@b.service\"\ntimeout = \"5\"\n"))
	f.Add([]byte("[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = \"/x\\u0000\"\n"))
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
				for _, p := range []string{a.Path, a.Agent} {
					if p != "" && badPath(p) != "" {
						t.Fatalf("accepted path %q: %s", p, badPath(p))
					}
				}
				if a.Timeout <= 0 || a.Timeout > time.Hour {
					t.Fatalf("accepted timeout %v", a.Timeout)
				}
			}
		}
	})
}
