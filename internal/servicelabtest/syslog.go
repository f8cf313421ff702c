package servicelabtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// Pkgroot is where scripts/pkgroot.sh unpacks syslog-ng and rsyslog: as
// Debian packages they conflict (installing one removes the other, and
// would change the host's logging), so neither is installed.
const Pkgroot = "/var/cache/ocfkit-test/pkgroot"

// snippetLogFile is the path of the snippets' log file, replaced by the
// test's own.
const snippetLogFile = "/var/log/anycast-probe.log"

// The relay set-up of the snippets: the daemon listens on SyslogSource
// (UDP and TCP) and forwards what carries the probe's tag to SyslogRelay
// (UDP).
const (
	SyslogSource = "127.0.0.1:5514"
	SyslogRelay  = "127.0.0.1:5515"
)

// Syslog is a real syslog daemon in a namespace of its own, configured
// with the relay snippet of docs/snippets.
type Syslog struct {
	Server
	LogFile    string
	OctetPort  string // the TCP port that takes octet-counted frames
	LFPort     string // the TCP port that takes LF-ended frames
	OctetAlone bool   // octet counting on its own port (syslog-ng's syslog())
}

// Unpacked returns the path of a program unpacked by scripts/pkgroot.sh,
// failing (or skipping) when it is not there.
func Unpacked(t testing.TB, rel string) string {
	t.Helper()
	testenv.RequireRoot(t)
	p := filepath.Join(Pkgroot, rel)
	if _, err := os.Stat(p); err != nil {
		if testenv.Strict() {
			t.Fatalf("%s missing: run scripts/pkgroot.sh (make deps)", p)
		}
		t.Skipf("%s missing: run scripts/pkgroot.sh (make deps)", p)
	}
	return p
}

func syslogSnippet(t testing.TB, name, logFile string) string {
	t.Helper()
	return strings.ReplaceAll(readSnippet(t, name), snippetLogFile, logFile)
}

// StartSyslogNG runs syslog-ng 3.38 from the unpacked package, with the
// snippet and extra.
func StartSyslogNG(t testing.TB, extra string, ready Ready) *Syslog {
	t.Helper()
	root := filepath.Join(Pkgroot, "syslog-ng")
	bin := Unpacked(t, "syslog-ng/usr/sbin/syslog-ng")
	dir := testenv.SharedTempDir(t, "sng")
	d := &Syslog{LogFile: filepath.Join(dir, "probe.log"), LFPort: "5514", OctetPort: "5516"}
	conf := filepath.Join(dir, "syslog-ng.conf")
	WriteFile(t, conf, "@version: 3.38\n"+syslogSnippet(t, "anycast-syslog-ng.conf", d.LogFile)+extra)
	// env execs the daemon: the PID recorded is syslog-ng's own.
	d.Server = Server{T: t, Name: "syslog-ng", NS: testenv.NewNS(t, "sng"), Ready: ready,
		Argv: []string{"env", "LD_LIBRARY_PATH=" + filepath.Join(root, "usr/lib/syslog-ng"), bin,
			"--module-path=" + filepath.Join(root, "usr/lib/syslog-ng/3.38"),
			"-F", "-e", "-f", conf, "-R", filepath.Join(dir, "persist"), "-p", filepath.Join(dir, "pid"),
			"-c", filepath.Join(dir, "ctl")}}
	d.Start()
	return d
}

// StartRsyslog runs rsyslogd 8.2302 from the unpacked package.
func StartRsyslog(t testing.TB, ready Ready) *Syslog {
	t.Helper()
	bin := Unpacked(t, "rsyslog/usr/sbin/rsyslogd")
	dir := testenv.SharedTempDir(t, "rsl")
	d := &Syslog{LogFile: filepath.Join(dir, "probe.log"), LFPort: "5514", OctetPort: "5514"}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "rsyslog.conf")
	// processInternalMessages keeps rsyslogd's own messages off the
	// host's /dev/log.
	WriteFile(t, conf, fmt.Sprintf("global(workDirectory=%q processInternalMessages=\"on\")\n", work)+
		syslogSnippet(t, "anycast-rsyslog.conf", d.LogFile)+
		fmt.Sprintf("*.* action(type=\"omfile\" file=%q)\n", filepath.Join(dir, "internal.log")))
	d.Server = Server{T: t, Name: "rsyslog", NS: testenv.NewNS(t, "rsl"), Ready: ready,
		Argv: []string{bin, "-n", "-M", filepath.Join(Pkgroot, "rsyslog/usr/lib/x86_64-linux-gnu/rsyslog"),
			"-f", conf, "-i", filepath.Join(dir, "pid")}}
	d.Start()
	return d
}
