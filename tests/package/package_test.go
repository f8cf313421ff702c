// Package pkgtest tests the packages `make deb` and `make dist-bsd` build:
// every file where Debian's and resource-agents' conventions put it,
// lintian without errors, man pages that render without warnings and
// document every parameter of the agents' meta-data and every option of the
// built programs (so the documentation cannot drift from the code), the
// OCF agents working through their links, and the systemd units of the
// daemons.
//
// It builds everything into temporary directories with the same scripts
// make uses (packaging/deb/build.sh, packaging/bsd/build.sh). The package
// is installed with dpkg -i and purged on an overlay of the machine's root
// (TestDpkgInstallOverlay), so the machine's /usr is never written.
package pkgtest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ocfkit/ocfkit/internal/helptest"
	"github.com/ocfkit/ocfkit/internal/testenv"
	"github.com/ocfkit/ocfkit/metadata"
)

// version is the version the test package is built as; its Debian version
// is debVersion.
const (
	version    = "v0.2.0"
	debVersion = "0.2.0-1"
)

var root = func() string { r, _ := filepath.Abs("../.."); return r }()

// built is what the shared build produced.
type built struct {
	dir        string // everything below
	bin        string // the programs
	man        string // the generated pages
	completion string
	deb        string
	tree       string // the package, extracted
	programs   []string
	agents     map[string]string // provider/type -> program
	err        error
}

var (
	once  sync.Once
	build built
)

// pkg builds the programs, the pages, the completions and the package
// once for every test.
func pkg(t *testing.T) *built {
	t.Helper()
	testenv.RequireCommand(t, "dpkg-deb")
	once.Do(func() { build.err = build.make() })
	if build.err != nil {
		t.Fatal(build.err)
	}
	return &build
}

func (b *built) make() error {
	var err error
	if b.dir, err = os.MkdirTemp("", "ocfkit-package-"); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(root, "cmd"))
	if err != nil {
		return err
	}
	var pkgs []string
	for _, e := range entries {
		b.programs = append(b.programs, e.Name())
		pkgs = append(pkgs, "./cmd/"+e.Name())
	}
	if b.bin, _, err = testenv.BuildTemp("ocfkit-package-bin-", pkgs...); err != nil {
		return err
	}
	b.man, b.completion = filepath.Join(b.dir, "man"), filepath.Join(b.dir, "completion")
	if _, err := docgen("-version", version, "-date", "2026-01-01", "man", b.man); err != nil {
		return err
	}
	if _, err := docgen("completion", b.completion); err != nil {
		return err
	}
	out, err := docgen("agents")
	if err != nil {
		return err
	}
	b.agents = map[string]string{}
	for _, l := range strings.Fields(out) {
		agent, program, _ := strings.Cut(l, "=")
		b.agents[agent] = program
	}
	cmd := exec.Command(filepath.Join(root, "packaging/deb/build.sh"), version, filepath.Join(b.dir, "out"))
	cmd.Env = append(os.Environ(), "GO="+goCmd(), "BIN="+b.bin, "MAN="+b.man, "COMPLETION="+b.completion)
	deb, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("packaging/deb/build.sh: %w\n%s", err, stderr(err))
	}
	b.deb = strings.TrimSpace(string(deb))
	b.tree = filepath.Join(b.dir, "tree")
	if out, err := exec.Command("dpkg-deb", "-x", b.deb, b.tree).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg-deb -x: %w\n%s", err, out)
	}
	return nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	if build.bin != "" {
		os.RemoveAll(build.bin)
	}
	os.Exit(code)
}

func goCmd() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// docgen runs the build-time generator as make does (GOFLAGS cleared).
func docgen(args ...string) (string, error) {
	cmd := exec.Command(goCmd(), append([]string{"run", "./tools/docgen", "-root", root}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("docgen %v: %w\n%s", args, err, stderr(err))
	}
	return string(out), nil
}

func stderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// entry is one line of dpkg-deb -c.
type entry struct {
	mode, owner, path, target string
}

func contents(t *testing.T, deb string) map[string]entry {
	t.Helper()
	out, err := exec.Command("dpkg-deb", "-c", deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v", err)
	}
	m := map[string]entry{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", l)
		}
		e := entry{mode: f[0], owner: f[1], path: strings.TrimPrefix(f[5], ".")}
		if len(f) == 8 && f[6] == "->" {
			e.target = f[7]
		}
		m[e.path] = e
	}
	return m
}

// TestDebContents checks that every file is where the conventions put it,
// owned by root, with the right mode, and nothing else is there.
func TestDebContents(t *testing.T) {
	b := pkg(t)
	files := contents(t, b.deb)
	want := map[string]string{} // path -> mode
	for _, p := range b.programs {
		want["/usr/sbin/"+p] = "-rwxr-xr-x"
		want["/usr/share/bash-completion/completions/"+p] = "-rw-r--r--"
		want["/usr/share/zsh/vendor-completions/_"+p] = "-rw-r--r--"
	}
	// The agents the README promises, and every agent with meta-data.
	for _, a := range []string{"dante/sockd", "ocfkit/vipcheck", "ocfkit/realserver"} {
		if b.agents[a] == "" {
			t.Errorf("docgen agents does not list %s", a)
		}
	}
	for _, name := range metadata.Names() {
		a := metadata.Provider(name) + "/" + name
		program := b.agents[a]
		if program == "" {
			t.Errorf("agent %s has no program", a)
			continue
		}
		path := "/usr/lib/ocf/resource.d/" + a
		want[path] = "lrwxrwxrwx"
		if e := files[path]; e.target != "../../../../sbin/"+program {
			t.Errorf("%s links to %q, want ../../../../sbin/%s", path, e.target, program)
		}
	}
	pages, _ := os.ReadDir(b.man)
	if len(pages) == 0 {
		t.Fatal("no man pages generated")
	}
	// Every program's configuration file page (tools/docgen tomlPages).
	for _, p := range []string{"carp-hook", "anycast-probe", "dns-failover"} {
		want["/usr/share/man/man5/"+p+".toml.5.gz"] = "-rw-r--r--"
	}
	for _, p := range pages {
		section := p.Name()[strings.LastIndex(p.Name(), ".")+1:]
		want["/usr/share/man/man"+section+"/"+p.Name()+".gz"] = "-rw-r--r--"
	}
	for _, f := range []string{"copyright", "changelog.Debian.gz", "changelog.gz", "README.md.gz", "cli.md.gz",
		"examples/carp-hook.toml", "examples/anycast-probe.toml", "examples/dns-failover.toml"} {
		want["/usr/share/doc/ocfkit/"+f] = "-rw-r--r--"
	}
	want["/usr/share/lintian/overrides/ocfkit"] = "-rw-r--r--"
	units, _ := filepath.Glob(filepath.Join(root, "dist/systemd/*.[st][eoi][rcm]*"))
	for _, u := range units {
		want["/lib/systemd/system/"+filepath.Base(u)] = "-rw-r--r--"
	}

	for path, mode := range want {
		e, ok := files[path]
		switch {
		case !ok:
			t.Errorf("missing %s", path)
		case e.mode != mode:
			t.Errorf("%s: mode %s, want %s", path, e.mode, mode)
		}
	}
	for path, e := range files {
		if e.owner != "root/root" {
			t.Errorf("%s: owner %s, want root/root", path, e.owner)
		}
		if strings.HasPrefix(e.mode, "d") {
			if e.mode != "drwxr-xr-x" {
				t.Errorf("directory %s: mode %s, want drwxr-xr-x", path, e.mode)
			}
			continue
		}
		if _, ok := want[path]; !ok {
			t.Errorf("unexpected file %s", path)
		}
		if strings.HasPrefix(path, "/etc/") {
			t.Errorf("%s: the package ships no configuration (see docs/install.md)", path)
		}
	}
}

// TestDebControl checks the control fields and the md5sums.
func TestDebControl(t *testing.T) {
	b := pkg(t)
	field := func(name string) string {
		out, err := exec.Command("dpkg-deb", "-f", b.deb, name).Output()
		if err != nil {
			t.Fatalf("dpkg-deb -f %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	for name, want := range map[string]string{
		"Package": "ocfkit", "Version": debVersion, "Architecture": "amd64", "Section": "admin",
		"Priority": "optional", "Depends": "", "Pre-Depends": "",
	} {
		if got := field(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	for name, wants := range map[string][]string{
		"Recommends": {"pacemaker", "resource-agents"},
		"Suggests":   {"dante-server", "pcs", "ucarp | keepalived"},
	} {
		got := field(name)
		for _, w := range wants {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %s", name, got, w)
			}
		}
	}
	ctrl := filepath.Join(b.dir, "control")
	if out, err := exec.Command("dpkg-deb", "-e", b.deb, ctrl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(ctrl, "conffiles")); err == nil {
		t.Error("the package has conffiles, but ships nothing under /etc")
	}
	sums, err := os.ReadFile(filepath.Join(ctrl, "md5sums"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("md5sum", "--check", "--strict", "--quiet")
	cmd.Dir, cmd.Stdin = b.tree, bytes.NewReader(sums)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("md5sums: %v\n%s", err, out)
	}
	regular := 0
	filepath.Walk(b.tree, func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && fi.Mode().IsRegular() {
			regular++
		}
		return nil
	})
	if n := bytes.Count(sums, []byte("\n")); n != regular {
		t.Errorf("md5sums lists %d files, the package has %d", n, regular)
	}
}

// TestLintian fails on any lintian error; warnings are logged.
func TestLintian(t *testing.T) {
	b := pkg(t)
	lintian := testenv.RequireCommand(t, "lintian")
	out, _ := exec.Command(lintian, "--info", "--display-experimental", "--pedantic", "--tag-display-limit", "0", b.deb).CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "E: "):
			t.Errorf("lintian: %s", l)
		case strings.HasPrefix(l, "W: "), strings.HasPrefix(l, "I: "), strings.HasPrefix(l, "P: "), strings.HasPrefix(l, "X: "):
			t.Logf("lintian: %s", l)
		}
	}
}

// TestManPagesGzip checks the pages are compressed with -9n: no file
// name, no time stamp, best compression.
func TestManPagesGzip(t *testing.T) {
	b := pkg(t)
	gzs, _ := filepath.Glob(filepath.Join(b.tree, "usr/share/man/man*/*.gz"))
	gzs2, _ := filepath.Glob(filepath.Join(b.tree, "usr/share/doc/ocfkit/*.gz"))
	for _, path := range append(gzs, gzs2...) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		z, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if z.Name != "" || !z.ModTime.IsZero() && z.ModTime.Unix() != 0 {
			t.Errorf("%s: gzip header keeps name %q and time %v (want gzip -n)", path, z.Name, z.ModTime)
		}
		var hdr [9]byte
		f.ReadAt(hdr[:], 0)
		if hdr[8] != 2 { // XFL 2: maximum compression
			t.Errorf("%s: not compressed with -9 (XFL %d)", path, hdr[8])
		}
		f.Close()
	}
}

// render returns an installed page as man shows it, failing on any groff
// warning.
func render(t *testing.T, path string) string {
	t.Helper()
	man := testenv.RequireCommand(t, "man")
	cmd := exec.Command(man, "--warnings", "-l", path)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "LANG=C.UTF-8", "MAN_KEEP_FORMATTING=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || errb.Len() > 0 {
		t.Errorf("man --warnings -l %s: %v\n%s", filepath.Base(path), err, errb.String())
	}
	s := regexp.MustCompile(".\b").ReplaceAllString(out.String(), "")
	s = strings.NewReplacer("\u2010\n", "", "\u2010", "-", "\u2212", "-").Replace(s)
	return regexp.MustCompile(`-\n\s+`).ReplaceAllString(s, "-")
}

// TestManPagesDocumentPrograms renders every installed page without
// warnings and checks, against the built programs themselves, that each
// program's page lists every command and option its --help shows, and each
// agent's page every parameter its meta-data action prints.
func TestManPagesDocumentPrograms(t *testing.T) {
	b := pkg(t)
	pages, _ := filepath.Glob(filepath.Join(b.tree, "usr/share/man/man*/*.gz"))
	text := map[string]string{}
	for _, p := range pages {
		text[strings.TrimSuffix(filepath.Base(p), ".gz")] = render(t, p)
	}
	for _, prog := range b.programs {
		page, ok := text[prog+".8"]
		if !ok {
			t.Errorf("%s has no section 8 page", prog)
			continue
		}
		bin := filepath.Join(b.tree, "usr/sbin", prog)
		help, _ := run(bin, "--help")
		commands := helptest.Commands(help)
		if len(commands) == 0 {
			t.Errorf("%s --help lists no commands:\n%s", prog, help)
		}
		for _, o := range helptest.Options(help, "GLOBAL OPTIONS:", "OPTIONS:") {
			expectOption(t, prog+".8", page, o)
		}
		for _, c := range commands {
			if c == "help" {
				continue
			}
			if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(c) + `\b`).MatchString(page) {
				t.Errorf("%s.8 does not document command %s", prog, c)
			}
			help, err := run(bin, c, "--help")
			if err != nil { // a front-end that takes its caller's words verbatim
				t.Logf("%s %s --help: %v (options not compared)", prog, c, err)
				continue
			}
			for _, o := range helptest.Options(help, "GLOBAL OPTIONS:", "OPTIONS:") {
				expectOption(t, prog+".8", page, o)
			}
		}
	}
	for agent, prog := range b.agents {
		name := strings.Split(agent, "/")
		page, ok := text["ocf_"+name[0]+"_"+name[1]+".7"]
		if !ok {
			t.Errorf("agent %s has no page ocf_%s_%s.7", agent, name[0], name[1])
			continue
		}
		xml, err := run(filepath.Join(b.tree, "usr/sbin", prog), "meta-data")
		if err != nil {
			t.Fatalf("%s meta-data: %v", prog, err)
		}
		params := regexp.MustCompile(`<parameter name="([^"]+)"`).FindAllStringSubmatch(xml, -1)
		if len(params) == 0 {
			t.Errorf("%s meta-data has no parameters", prog)
		}
		for _, p := range params {
			if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(p[1]) + `\s`).MatchString(page) {
				t.Errorf("ocf_%s_%s.7 does not document parameter %s", name[0], name[1], p[1])
			}
		}
		for _, a := range regexp.MustCompile(`<action name="([^"]+)"`).FindAllStringSubmatch(xml, -1) {
			if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(a[1]) + `\b`).MatchString(page) {
				t.Errorf("ocf_%s_%s.7 does not document action %s", name[0], name[1], a[1])
			}
		}
	}
	for _, p := range []string{"carp-hook.toml.5", "anycast-probe.toml.5", "dns-failover.toml.5"} {
		if _, ok := text[p]; !ok {
			t.Errorf("no %s", p)
		}
	}
}

func expectOption(t *testing.T, page, text, option string) {
	t.Helper()
	if !regexp.MustCompile(`(^|[\s,])` + regexp.QuoteMeta(option) + `\b`).MatchString(text) {
		t.Errorf("%s does not document option %s", page, option)
	}
}

// run runs a program and returns its standard output.
func run(bin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%w: %s", err, stderr(err))
	}
	return string(out), nil
}

// TestAgentsThroughLinks runs each OCF agent by its installed link, as
// Pacemaker does: the program must behave as the agent (meta-data, usage)
// under the name resource-agents gives it.
func TestAgentsThroughLinks(t *testing.T) {
	b := pkg(t)
	for agent, prog := range b.agents {
		link := filepath.Join(b.tree, "usr/lib/ocf/resource.d", agent)
		viaLink, err := run(link, "meta-data")
		if err != nil {
			t.Errorf("%s meta-data: %v", agent, err)
			continue
		}
		direct, _ := run(filepath.Join(b.tree, "usr/sbin", prog), "meta-data")
		if viaLink != direct || !strings.Contains(viaLink, `<resource-agent name="`+filepath.Base(agent)+`"`) {
			t.Errorf("%s meta-data differs from %s meta-data", agent, prog)
		}
		if out, err := run(link, "usage"); err != nil || !strings.Contains(out, "start") {
			t.Errorf("%s usage: %v %q", agent, err, out)
		}
		// No parameters: validate-all must answer with an OCF code, not
		// a command-line usage error of the program.
		cmd := exec.Command(link, "monitor")
		cmd.Env = []string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=pkgtest", "OCF_RESKEY_CRM_meta_timeout=5000",
			"HA_LOGFACILITY=none", "OCF_RESKEY_vip=192.0.2.1", "OCF_RESKEY_real_servers=192.0.2.2",
			"OCF_RESKEY_sockd_config=/nonexistent/sockd.conf", "HA_RSCTMP=" + t.TempDir()}
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 7 {
			t.Errorf("%s monitor of a stopped instance: exit %d, want 7 (not running)\n%s", agent, code, out)
		}
	}
}

// TestSystemdUnits checks that the daemons (docgen daemons) and the units
// in dist/systemd/ match, and that systemd-analyze verify accepts each
// unit, and the template new units start from, run against the built
// program.
func TestSystemdUnits(t *testing.T) {
	b := pkg(t)
	out, err := docgen("daemons")
	if err != nil {
		t.Fatal(err)
	}
	daemons := strings.Fields(out)
	units, _ := filepath.Glob(filepath.Join(root, "dist/systemd/*"))
	var services []string
	for _, u := range units {
		switch filepath.Ext(u) {
		case ".service":
			services = append(services, strings.TrimSuffix(filepath.Base(u), ".service"))
		case ".socket", ".timer":
			prog := strings.TrimSuffix(filepath.Base(u), filepath.Ext(u))
			if !contains(daemons, prog) {
				t.Errorf("%s belongs to no daemon", u)
			}
		case ".md":
		default:
			t.Errorf("%s: not a unit (service, socket, timer) nor README", u)
		}
	}
	sort.Strings(services)
	sort.Strings(daemons)
	if strings.Join(services, " ") != strings.Join(daemons, " ") {
		t.Errorf("dist/systemd has services %v, the daemons are %v (tools/docgen/programs.go Daemon)", services, daemons)
	}
	for _, d := range daemons {
		if !contains(b.programs, d) {
			t.Errorf("daemon %s is not a program under cmd/", d)
		}
	}
	analyze := testenv.RequireCommand(t, "systemd-analyze")
	// The unit runs /usr/sbin/PROGRAM; verify it against the built one.
	verify := func(name string, text []byte) {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, bytes.ReplaceAll(text, []byte("/usr/sbin/"), []byte(b.bin+"/")), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
			return
		}
		// verify also loads what the unit's targets pull in: complaints
		// about other units of this machine (a package's own unit) are
		// not about ours.
		for _, line := range strings.Split(string(bytes.TrimSpace(out)), "\n") {
			switch {
			case line == "":
			case strings.Contains(line, name) || strings.Contains(line, path):
				t.Errorf("systemd-analyze verify %s: %s", name, line)
			default:
				t.Logf("systemd-analyze verify %s, about another unit of this machine: %s", name, line)
			}
		}
	}
	for _, u := range units {
		if filepath.Ext(u) == ".md" {
			continue
		}
		text, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		verify(filepath.Base(u), text)
	}
	// The README's template, for a program that exists, must verify too.
	readme, err := os.ReadFile(filepath.Join(root, "dist/systemd/README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```ini\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("dist/systemd/README.md has no ```ini unit template")
	}
	verify("carp-hook.service", bytes.ReplaceAll(m[1], []byte("PROGRAM"), []byte("carp-hook")))
	if len(services) == 0 {
		t.Logf("no daemons yet: the template verifies, no units to install")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestBSDArchives builds the FreeBSD and OpenBSD archives of carp-hook and
// checks their contents and that each binary is built for its system.
func TestBSDArchives(t *testing.T) {
	b := pkg(t)
	cmd := exec.Command(filepath.Join(root, "packaging/bsd/build.sh"), version, filepath.Join(b.dir, "bsd"))
	cmd.Env = append(os.Environ(), "GO="+goCmd(), "MAN="+b.man)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("packaging/bsd/build.sh: %v\n%s", err, stderr(err))
	}
	archives := strings.Fields(string(out))
	if len(archives) != 2 {
		t.Fatalf("archives %v, want two", archives)
	}
	for _, os_ := range []string{"freebsd", "openbsd"} {
		name := "carp-hook-" + version + "-" + os_ + "-amd64"
		path := filepath.Join(b.dir, "bsd", name+".tar.gz")
		want := []string{"sbin/carp-hook", "man/man8/carp-hook.8.gz", "man/man5/carp-hook.toml.5.gz",
			"share/examples/carp-hook/carp-hook.toml", "share/doc/carp-hook/LICENSE",
			"share/doc/carp-hook/COPYRIGHT", "share/doc/carp-hook/CHANGELOG.md"}
		if os_ == "freebsd" {
			want = append(want, "share/examples/carp-hook/devd-carp-hook.conf")
		} else {
			want = append(want, "share/examples/carp-hook/ifstated.conf")
		}
		list, err := exec.Command("tar", "-tvzf", path).Output()
		if err != nil {
			t.Fatalf("tar -t %s: %v", path, err)
		}
		have := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(list))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if f[1] != "0/0" {
				t.Errorf("%s: %s owned by %s, want 0/0", name, f[5], f[1])
			}
			have[strings.TrimPrefix(f[5], name+"/")] = f[0]
		}
		for _, w := range want {
			if _, ok := have[w]; !ok {
				t.Errorf("%s lacks %s", name, w)
			}
		}
		if have["sbin/carp-hook"] != "-rwxr-xr-x" {
			t.Errorf("%s: sbin/carp-hook mode %s", name, have["sbin/carp-hook"])
		}
		dir := t.TempDir()
		if out, err := exec.Command("tar", "-xzf", path, "-C", dir).CombinedOutput(); err != nil {
			t.Fatalf("tar -x: %v\n%s", err, out)
		}
		checkBSDBinary(t, filepath.Join(dir, name, "sbin/carp-hook"), os_)
		for _, p := range []string{"man/man8/carp-hook.8.gz", "man/man5/carp-hook.toml.5.gz"} {
			render(t, filepath.Join(dir, name, p))
		}
	}
}

// checkBSDBinary checks that an ELF binary is for FreeBSD (OS ABI) or
// OpenBSD (its ident note).
func checkBSDBinary(t *testing.T, path, system string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("%s: machine %v", path, f.Machine)
	}
	switch system {
	case "freebsd":
		if f.OSABI != elf.ELFOSABI_FREEBSD {
			t.Errorf("%s: OS ABI %v, want FreeBSD", path, f.OSABI)
		}
	case "openbsd":
		s := f.Section(".note.openbsd.ident")
		if s == nil {
			t.Errorf("%s: no OpenBSD ident note", path)
			return
		}
		note, _ := io.ReadAll(s.Open())
		if !bytes.Contains(note, []byte("OpenBSD")) {
			t.Errorf("%s: ident note %q", path, note)
		}
	}
}

// installScript installs the package with dpkg -i, checks what dpkg,
// Pacemaker and man see, purges it and checks that nothing remains.
func installScript(b *built, deb string) string {
	var sb strings.Builder
	sb.WriteString("set -eux\n") // -x: a failure shows its command
	fmt.Fprintf(&sb, "dpkg -i %s >/dev/null\n", deb)
	sb.WriteString("dpkg -s ocfkit | grep -qx 'Status: install ok installed'\n")
	for agent := range b.agents {
		ocf := "ocf:" + strings.ReplaceAll(agent, "/", ":")
		fmt.Fprintf(&sb, "if command -v crm_resource >/dev/null; then crm_resource --show-metadata %s | grep -q '<resource-agent name=\"%s\"'; fi\n",
			ocf, filepath.Base(agent))
		fmt.Fprintf(&sb, "test -x /usr/lib/ocf/resource.d/%s\n", agent)
	}
	for _, p := range b.programs {
		fmt.Fprintf(&sb, "man -w %s >/dev/null\n", p)
	}
	sb.WriteString("dpkg --purge ocfkit >/dev/null\n")
	for agent := range b.agents {
		fmt.Fprintf(&sb, "! test -e /usr/lib/ocf/resource.d/%s\n", agent)
	}
	for _, p := range b.programs {
		fmt.Fprintf(&sb, "! test -e /usr/sbin/%s\n", p)
	}
	sb.WriteString("echo installed and purged\n")
	return sb.String()
}

// TestDpkgInstallOverlay installs and purges the package with dpkg in a
// private mount namespace whose root is an overlay of the machine's: every
// write lands in a temporary upper directory, none on the machine.
func TestDpkgInstallOverlay(t *testing.T) {
	testenv.RequireRoot(t)
	b := pkg(t)
	unshare := testenv.RequireCommand(t, "unshare")
	dir := t.TempDir()
	for _, d := range []string{"upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	merged := filepath.Join(dir, "merged")
	inner := installScript(b, "/tmp/ocfkit-test.deb")
	// The chroot happens only once merged is the overlay (set -e).
	outer := fmt.Sprintf(`set -eu
mount -t overlay overlay -o lowerdir=/,upperdir=%[1]s/upper,workdir=%[1]s/work %[2]s
mountpoint -q %[2]s
mount -t proc proc %[2]s/proc
mount --rbind /dev %[2]s/dev
mount -t tmpfs tmpfs %[2]s/tmp
cp %[3]s %[2]s/tmp/ocfkit-test.deb
exec chroot %[2]s sh -c %[4]s
`, dir, merged, b.deb, shellQuote(inner))
	out, err := exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c", outer).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "installed and purged") {
		t.Fatalf("dpkg -i and --purge in an overlay root: %v\n%s", err, out)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestDebVersion checks how build.sh turns git describe into a Debian
// version, and that the versions sort as the releases do.
func TestDebVersion(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(root, "packaging/deb/build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	fn := regexp.MustCompile(`(?ms)^debversion\(\) \{.*?^\}`).Find(script)
	if fn == nil {
		t.Fatal("build.sh has no debversion function")
	}
	cases := []struct{ in, want string }{
		{"v0.2.0", "0.2.0-1"},
		{"v0.2.0-dirty", "0.2.0+dirty-1"},
		{"v0.2.0-4-gabc1234", "0.2.0+git4.abc1234-1"},
		{"v0.2.0-4-gabc1234-dirty", "0.2.0+git4.abc1234+dirty-1"},
		{"v1.0.0-rc1", "1.0.0~rc1-1"},
		{"v1.0.0-rc1-3-gdeadbee", "1.0.0~rc1+git3.deadbee-1"},
	}
	for _, c := range cases {
		out, err := exec.Command("sh", "-c", string(fn)+"\ndebversion \"$1\"", "sh", c.in).Output()
		if err != nil {
			t.Fatalf("debversion %s: %v", c.in, err)
		}
		if v := strings.TrimSpace(string(out)); v != c.want {
			t.Errorf("debversion %s = %s, want %s", c.in, v, c.want)
		}
	}
	// An untagged tree sorts before any release.
	out, _ := exec.Command("sh", "-c", string(fn)+"\ndebversion 647d806", "sh").Output()
	untagged := strings.TrimSpace(string(out))
	if !strings.HasPrefix(untagged, "0.0~git") || !strings.HasSuffix(untagged, ".647d806-1") {
		t.Errorf("debversion 647d806 = %s", untagged)
	}
	for _, pair := range [][2]string{{untagged, "0.2.0-1"}, {"0.2.0-1", "0.2.0+git4.abc1234-1"},
		{"1.0.0~rc1-1", "1.0.0~rc1+git3.deadbee-1"}, {"1.0.0~rc1+git3.deadbee-1", "1.0.0-1"}} {
		if err := exec.Command("dpkg", "--compare-versions", pair[0], "lt", pair[1]).Run(); err != nil {
			t.Errorf("%s does not sort before %s", pair[0], pair[1])
		}
	}
}
