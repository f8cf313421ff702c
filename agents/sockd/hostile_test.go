package sockd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/checkstyle"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestPidfileNamesAnotherInstancesGroup gives the pidfile the PID of a
// shell whose process group holds another Dante instance (a reused PID):
// the agent must neither count that group as its own (monitor "damaged",
// start refused) nor signal any of its processes on stop.
func TestPidfileNamesAnotherInstancesGroup(t *testing.T) {
	a := newLab(t)
	b := newLabIn(t, a.ns)
	b.writeConfig(testenv.DanteConfig{Port: 1081})
	// Dante in the foreground, in the process group the shell leads.
	shell := a.ns.Start(t, "sh", "-c", fmt.Sprintf("/usr/sbin/danted -f %s -p %s; :", b.env["OCF_RESKEY_sockd_config"], b.env["OCF_RESKEY_sockd_pidfile"]))
	b.groups[shell.Process.Pid] = true
	testenv.WaitFor(t, 10*time.Second, "the other instance's children", func() error {
		if len(b.children("io-child")) == 0 {
			return fmt.Errorf("none yet: %s", describeProcs(b.processes()))
		}
		return nil
	})
	before := b.processes()
	writeFile(t, a.env["OCF_RESKEY_sockd_pidfile"], strconv.Itoa(shell.Process.Pid)+"\n")
	a.expect(7, "monitor", recurring)
	a.expect(0, "stop")
	for _, p := range before {
		if !alive(p.PID) {
			t.Errorf("stop of one instance ended process %d of another", p.PID)
		}
	}
	writeFile(t, a.env["OCF_RESKEY_sockd_pidfile"], strconv.Itoa(shell.Process.Pid)+"\n")
	a.start()
	a.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=10")
	a.stopClean()
	if left := b.processes(); len(left) != len(before) {
		t.Errorf("the other instance has %d processes, had %d: %s", len(left), len(before), describeProcs(left))
	}
}

// TestMonitorNotRoot runs monitor as nobody while Dante runs as root: the
// agent cannot read the executables, so it is in doubt (1), never
// "stopped" (7).
func TestMonitorNotRoot(t *testing.T) {
	setpriv := testenv.RequireCommand(t, "setpriv")
	l := newLab(t)
	l.start()
	for _, extra := range [][]string{nil, {recurring}} {
		cmd := l.ns.Command(setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", agentBin, "monitor")
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		for k, v := range l.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Env = append(cmd.Env, extra...)
		out, err := cmd.CombinedOutput()
		if code := exitCode(err); code != 1 || !strings.Contains(string(out), "permission denied") {
			t.Errorf("monitor %v as nobody: exit %d, want 1 with a reason: %s", extra, code, out)
		}
	}
	l.expect(0, "monitor", recurring)
}

// TestPidfileNotAFile points sockd_pidfile at directories: validation says
// so (6), stop succeeds with nothing running, and nothing removes the
// directory.
func TestPidfileNotAFile(t *testing.T) {
	l := newLab(t)
	empty, full := l.path("empty.d"), l.path("full.d")
	for _, d := range []string{empty, full} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, full+"/x", "")
	for _, dir := range []string{empty, full} {
		pf := "OCF_RESKEY_sockd_pidfile=" + dir
		l.expectReason(6, "not a regular file", "validate-all", pf)
		l.expectReason(6, "not a regular file", "start", pf)
		l.expectReason(6, "not a regular file", "monitor", pf, recurring)
		l.expect(0, "stop", pf)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Errorf("%s was removed: %v", dir, err)
		}
	}
	// A pidfile that became a directory under a running instance: stop
	// still ends it, and leaves the directory.
	l.start()
	pidfile := l.env["OCF_RESKEY_sockd_pidfile"]
	if err := os.Remove(pidfile); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(pidfile, 0o755); err != nil {
		t.Fatal(err)
	}
	l.stopClean()
	if fi, err := os.Stat(pidfile); err != nil || !fi.IsDir() {
		t.Errorf("stop removed the directory %s: %v", pidfile, err)
	}
}

// TestStopOrphansWithoutAnyProof kills the mother of a Dante started
// outside the agent (no marker) and leaves its children: no mother, no
// marker and no group remembered prove them the instance's, so stop leaves
// them alone, even with the pidfile naming their group.
func TestStopOrphansWithoutAnyProof(t *testing.T) {
	l := newLab(t)
	cmd := l.ns.Command("/usr/sbin/danted", "-D", "-f", l.env["OCF_RESKEY_sockd_config"], "-p", l.env["OCF_RESKEY_sockd_pidfile"])
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	if err := cmd.Run(); err != nil {
		t.Fatalf("starting Dante: %v", err)
	}
	var mother int
	testenv.WaitFor(t, 10*time.Second, "Dante's children", func() error {
		if mother, _ = readPidfile(l.env["OCF_RESKEY_sockd_pidfile"]); mother > 0 {
			l.groups[mother] = true
		}
		if len(l.children("io-child")) == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	l.expect(0, "monitor", recurring)
	l.signalAll(l.mothers(), syscall.SIGSTOP)
	children := l.children("child")
	l.signalAll(children, syscall.SIGSTOP)
	l.signalAll(l.mothers(), syscall.SIGKILL)
	l.waitMothers(0)
	writeFile(t, l.env["OCF_RESKEY_sockd_pidfile"], strconv.Itoa(mother)+"\n")
	l.expect(0, "stop")
	for _, p := range children {
		if !alive(p.PID) {
			t.Errorf("stop ended %d, which nothing proved the instance's", p.PID)
		}
	}
	for _, p := range children {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
	testenv.WaitFor(t, 5*time.Second, "the children to end", func() error {
		if left := l.processes(); len(left) > 0 {
			return fmt.Errorf("left: %s", describeProcs(left))
		}
		return nil
	})
}

// TestParseDanteArgs reads sockd_args as Dante's getopt does.
func TestParseDanteArgs(t *testing.T) {
	for args, want := range map[string]int{"": 1, "-N 2": 2, "-N3": 3, "-d 1 -N 4": 4, "-nN5": 5, "-d1 -n": 1, "x -N 2": 2, "-- -f x": 1} {
		f, err := parseDanteArgs(strings.Fields(args))
		if err != nil || f.mothers != want {
			t.Errorf("%q: %d mothers, %v; want %d", args, f.mothers, err, want)
		}
	}
	for args, flag := range map[string]string{
		"-nf /etc/other.conf": "-f", "-np /tmp/x.pid": "-p", "-nV": "-V", "-D": "-D", "-nD": "-D",
		"-f/etc/x": "-f", "x -V": "-V", "-N": "-N needs a value", "-N 0": "-N", "-N x": "-N",
		"-N 99999999999": "-N", "-q": "-q", "--frobnicate": "--frobnicate", "-:": "-:", "-h": "-h", "-v": "-v", "-L": "-L",
	} {
		_, err := parseDanteArgs(strings.Fields(args))
		if err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("%q: error %v, want one naming %s", args, err, flag)
		}
	}
}

// TestBadPaths gives relative paths and flag clusters that set what the
// agent owns: each is a configuration error naming the problem.
func TestBadPaths(t *testing.T) {
	l := newLab(t)
	// Stop, run where a file of the relative name exists, leaves it.
	rel := "OCF_RESKEY_sockd_pidfile=rel.pid"
	cmd := l.ns.Command(agentBin, "stop")
	cmd.Dir = l.dir
	cmd.Env = []string{rel, "OCF_RESKEY_sockd_config=" + l.env["OCF_RESKEY_sockd_config"]}
	writeFile(t, l.path("rel.pid"), "")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("stop with a relative pidfile: %v: %s", err, out)
	}
	if _, err := os.Stat(l.path("rel.pid")); err != nil {
		t.Errorf("stop removed a file by a relative pidfile path: %v", err)
	}
	for _, tc := range []struct{ setting, reason string }{
		{"OCF_RESKEY_sockd_args=-nf /etc/danted.conf", "-f"},
		{"OCF_RESKEY_sockd_args=-np /tmp/x.pid", "-p"},
		{"OCF_RESKEY_sockd_args=-nV", "-V"},
		{"OCF_RESKEY_sockd_args=-N 0", "-N"},
		{"OCF_RESKEY_sockd_pidfile=rel.pid", "not an absolute path"},
		{"OCF_RESKEY_sockd=danted", "not an absolute path"},
		{"OCF_RESKEY_sockd=usr/sbin/danted", "not an absolute path"},
	} {
		l.expectReason(6, tc.reason, "validate-all", tc.setting)
		l.expectReason(6, tc.reason, "start", tc.setting)
	}
	l.assertNothingLeft()
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	p, err := readProcess(pid, nil)
	return err == nil && !p.Zombie()
}

// TestCheckParameterLimits gives deep-check parameters beyond their
// limits: RFC 1929's 255 bytes, durations that overflow, a password file
// that is a directory.
func TestCheckParameterLimits(t *testing.T) {
	l := newLab(t)
	long, ok, dir := l.path("long-password"), l.path("password"), l.path("password.d")
	writeFile(t, long, strings.Repeat("p", 256)+"\n")
	writeFile(t, ok, strings.Repeat("p", 255)+"\n")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	user := "OCF_RESKEY_check_username=u"
	for _, tc := range []struct {
		settings []string
		reason   string
	}{
		{[]string{user, "OCF_RESKEY_check_password_file=" + long}, "longer than 255 bytes"},
		{[]string{user, "OCF_RESKEY_check_password_file=" + dir}, "not a regular file (a directory)"},
		{[]string{"OCF_RESKEY_check_username=" + strings.Repeat("u", 256), "OCF_RESKEY_check_password_file=" + ok}, "at most 255"},
		{[]string{"OCF_RESKEY_check_timeout=10000000000"}, "out of range"},
		{[]string{"OCF_RESKEY_check_timeout=9223372036854775807"}, "out of range"},
		{[]string{"OCF_RESKEY_check_timeout=3601"}, "from 0s to 1h"},
		{[]string{"OCF_RESKEY_check_timeout=-1"}, "out of range"},
		{[]string{"OCF_RESKEY_check_timeout=soon"}, "not a duration"},
		{[]string{"OCF_RESKEY_check_target=127.0.0.1:99999"}, "not a port number"},
		{[]string{"OCF_RESKEY_check_udp_target=127.0.0.1:0"}, "not a port number"},
		{[]string{"OCF_RESKEY_check_target=:80"}, "no host"},
		// adv4 F3: a host no name can be, which the reason and the log
		// would carry: a newline (a log line of its own), a forged
		// "ocf-exit-reason:" (Pacemaker takes the last one anywhere in
		// the output), an escape sequence, more than SOCKS5's 255 bytes.
		{[]string{"OCF_RESKEY_check_target=[evil\nocf-exit-reason:forged]:80"}, "neither an IP address nor a host name"},
		{[]string{"OCF_RESKEY_check_target=[x ocf-exit-reason:forged]:80"}, "neither an IP address nor a host name"},
		{[]string{"OCF_RESKEY_check_udp_target=a\x1bb:53"}, "neither an IP address nor a host name"},
		{[]string{"OCF_RESKEY_check_target=" + strings.Repeat("h", 256) + ":80"}, "at most 255"},
	} {
		l.expectReason(6, tc.reason, "validate-all", tc.settings...)
	}
	l.expect(0, "validate-all", user, "OCF_RESKEY_check_password_file="+ok)
	for _, v := range []string{"127.0.0.1:80", "[::1]:80", "[fe80::1%lo]:80", "upstream.example_1-a.test:443", strings.Repeat("h", 255) + ":80"} {
		l.expect(0, "validate-all", "OCF_RESKEY_check_target="+v)
	}
	for _, v := range []string{"0", "5", "3600", "500ms", "2m"} {
		l.expect(0, "validate-all", "OCF_RESKEY_check_timeout="+v)
	}
	l.expectReason(2, "OCF_RESKEY_CRM_meta_timeout", "monitor", "OCF_RESKEY_CRM_meta_timeout=9223372036854775807")
}

// TestReadSmallFiles reads pidfiles and password files that are named
// pipes, directories or hold no PID.
func TestReadSmallFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := dir + "/fifo"
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// A named pipe with no writer would block an open for ever.
	if _, err := readPidfile(fifo); err == nil || !strings.Contains(err.Error(), "a FIFO") {
		t.Errorf("pidfile that is a named pipe: %v", err)
	}
	if _, err := readPassword(fifo); err == nil || !strings.Contains(err.Error(), "a FIFO") {
		t.Errorf("password file that is a named pipe: %v", err)
	}
	if _, err := readPidfile(dir); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("pidfile that is a directory: %v", err)
	}
	for _, text := range []string{"-1", "0", "1x", "99999999999999999999", "4194305", strings.Repeat("1", 100), "12\n13\n", strings.Repeat(" ", 100) + "7"} {
		f := dir + "/p"
		writeFile(t, f, text)
		if pid, err := readPidfile(f); err == nil {
			t.Errorf("pidfile %q gives PID %d", text, pid)
		}
	}
	f := dir + "/pw"
	writeFile(t, f, "secret\r\nsecond line\n")
	if pw, err := readPassword(f); err != nil || pw != "secret" {
		t.Errorf("password %q, %v", pw, err)
	}
	writeFile(t, f, "\n")
	if pw, err := readPassword(f); err != nil || pw != "" {
		t.Errorf("empty first line: %q, %v", pw, err)
	}
}

// TestNameLookupBounded gives internal: a host name whose name server never
// answers: the monitor ends within its operation timeout.
func TestNameLookupBounded(t *testing.T) {
	l := newLab(t)
	l.start()
	// ip netns exec puts /etc/netns/NAME/resolv.conf in place of
	// /etc/resolv.conf; the name server listens and never answers.
	dir := "/etc/netns/" + l.ns.Name
	_, err := os.Stat("/etc/netns")
	hadNetns := err == nil
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(dir)
		if !hadNetns {
			os.Remove("/etc/netns") // only if empty: other tests may use it
		}
	})
	writeFile(t, dir+"/resolv.conf", "nameserver 127.0.0.1\noptions timeout:5 attempts:3\n")
	var dns net.PacketConn
	if err := l.ns.Within(func() (err error) { dns, err = net.ListenPacket("udp", "127.0.0.1:53"); return err }); err != nil {
		t.Fatal(err)
	}
	defer dns.Close()
	conf := l.env["OCF_RESKEY_sockd_config"]
	b, _ := os.ReadFile(conf)
	writeFile(t, conf, strings.Replace(string(b), "internal: 127.0.0.1", "internal: proxy.ocfkit.test", 1))
	r := l.deep(10)
	if r.code != 1 || r.took >= 3*time.Second {
		t.Errorf("monitor with a silent name server: exit %d after %v (timeout 3 s): %s", r.code, r.took, r.reason())
	}
	writeFile(t, conf, string(b))
}

// failingPacketConn fails every read, as a socket in a persistent error.
type failingPacketConn struct {
	net.PacketConn
	reads atomic.Int64
}

func (f *failingPacketConn) ReadFrom([]byte) (int, net.Addr, error) {
	f.reads.Add(1)
	return 0, nil, syscall.EBADF
}

// TestEchoUDPStopsOnError checks that the UDP echo stops on a read error
// instead of spinning on it.
func TestEchoUDPStopsOnError(t *testing.T) {
	fc := &failingPacketConn{}
	e := &echoServer{udp: fc, open: map[net.Conn]bool{}}
	e.wg.Add(1)
	done := make(chan struct{})
	go func() { e.serveUDP(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("serveUDP still runs after %d failed reads", fc.reads.Load())
	}
}

// TestEchoCloseBounded connects to the echo endpoint while it closes, with
// peers that never close their side: Close must still return.
func TestEchoCloseBounded(t *testing.T) {
	for i := 0; i < 50; i++ {
		e, err := startEcho(mustAddr("127.0.0.1"), false)
		if err != nil {
			t.Fatal(err)
		}
		var conns []net.Conn
		stop := make(chan struct{})
		dialed := make(chan struct{})
		go func() {
			defer close(dialed)
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("tcp", e.TCPAddr())
				if err != nil {
					return
				}
				conns = append(conns, c)
			}
		}()
		closed := make(chan struct{})
		go func() { e.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("Close waits on connections accepted while it closes")
		}
		close(stop)
		<-dialed
		for _, c := range conns {
			c.Close()
		}
	}
	// And a connection tracked after Close is closed at once.
	e, err := startEcho(mustAddr("127.0.0.1"), false)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	a, b := net.Pipe()
	defer b.Close()
	if e.track(a) {
		t.Error("a connection was tracked after Close")
	}
	if _, err := a.Write([]byte("x")); err == nil {
		t.Error("the late connection is still open")
	}
}

// TestDaemonLogOrderAndRotation follows two log files: problems come back
// oldest first across both, every time, and a file rotated to a smaller
// one is read from its start.
func TestDaemonLogOrderAndRotation(t *testing.T) {
	dir := t.TempDir()
	a, b := dir+"/a.log", dir+"/b.log"
	line := func(sec int, msg string) string {
		return fmt.Sprintf("Nov 22 02:50:%02d (17637798%02d.000001) danted[42]: error: %s\n", sec, sec, msg)
	}
	writeFile(t, a, strings.Repeat("Nov 22 02:50:00 (1763779800.1) danted[42]: info: filler line to make the file long\n", 20))
	writeFile(t, b, "")
	cfg := &Config{LogOutput: []string{a, b}}
	for i := 0; i < 20; i++ {
		log := followLog(cfg)
		appendFile(t, a, line(10, "first")+line(30, "third"))
		appendFile(t, b, line(20, "second")+line(40, "fourth"))
		if got, want := log.problems(), []string{"error: first", "error: second", "error: third", "error: fourth"}; !slices.Equal(got, want) {
			t.Fatalf("problems %q, want newest last %q", got, want)
		}
		writeFile(t, a, strings.Repeat("Nov 22 02:50:00 (1763779800.1) danted[42]: info: filler line to make the file long\n", 20))
		writeFile(t, b, "")
	}
	// Rotation: the path names a new, smaller file.
	log := followLog(cfg)
	if err := os.Rename(a, a+".1"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, a, line(50, "after rotation"))
	if got := log.problems(); !slices.Equal(got, []string{"error: after rotation"}) {
		t.Errorf("after rotation: %q", got)
	}
	// Truncation in place.
	writeFile(t, a, strings.Repeat("Nov 22 02:50:00 (1763779800.1) danted[42]: info: filler line to make the file long\n", 20))
	log = followLog(cfg)
	if err := os.Truncate(a, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, a, line(55, "after truncation"))
	if got := log.problems(); !slices.Equal(got, []string{"error: after truncation"}) {
		t.Errorf("after truncation: %q", got)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// TestProxyArgumentMistakes checks that mistaken check addresses are usage
// errors saying how to write them.
func TestProxyArgumentMistakes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"::1:1080"}, "[::1]:1080"},
		{[]string{"fe80::1:2:1080"}, "[fe80::1:2]:1080"},
		{[]string{"2001:db8::1:443"}, "[2001:db8::1]:443"},
		{[]string{"[::1:1080"}, "not HOST[:PORT]"},
		{[]string{"[foo]"}, "not an IPv6 address"},
		{[]string{"1080", "127.0.0.1"}, "swapped"},
		{[]string{"127.0.0.1", "http"}, "not a port number"},
		{[]string{"127.0.0.1:0"}, "not a port number"},
		{[]string{"127.0.0.1:65536"}, "not a port number"},
		{[]string{"vip", "80", "rip", "x"}, "not a port number"},
		{[]string{":1080"}, "no host"},
		{[]string{"a", "b", "c"}, "got 3 arguments"},
	} {
		_, err := proxyFromArgs(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, checkstyle.ErrUsage) {
			t.Errorf("%q: error %v, want a usage error saying %q", tc.args, err, tc.want)
		}
	}
}

// TestCheckCommandUsage runs the check command with mistaken addresses and
// timeouts: it says what is wrong, never checks something else.
func TestCheckCommandUsage(t *testing.T) {
	testenv.RequireRoot(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"::1:1080"}, "[::1]:1080"},
		{[]string{"1080", "127.0.0.1"}, "swapped"},
		{[]string{"--timeout", "9223372036854775807", "127.0.0.1"}, "out of range"},
		{[]string{"--timeout", "0", "127.0.0.1"}, "out of range"},
		{[]string{"--username", strings.Repeat("u", 256), "--password-file", "/dev/null", "127.0.0.1"}, "at most 255"},
		{[]string{"--username", "u", "--password-file", "/", "127.0.0.1"}, "not a regular file"},
	} {
		out, err := exec.Command(agentBin, append([]string{"check", "--exit-style", "nagios"}, tc.args...)...).CombinedOutput()
		if exitCode(err) != 3 || !strings.Contains(string(out), tc.want) {
			t.Errorf("check %q: exit %d, want 3 (UNKNOWN) saying %q: %s", tc.args, exitCode(err), tc.want, out)
		}
	}
}

// TestMonitorWithoutParameters runs monitor with an empty environment: it
// names the parameters it did not get and what it assumed.
func TestMonitorWithoutParameters(t *testing.T) {
	testenv.RequireRoot(t)
	for _, extra := range [][]string{nil, {recurring}} {
		cmd := exec.Command(agentBin, "monitor")
		cmd.Env = extra
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), "OCF_RESKEY_sockd_pidfile not set, assumed") || !strings.Contains(string(out), "sockd_config=") {
			t.Errorf("monitor %v with no parameters: %s", extra, out)
		}
	}
}

// TestStopLeavesSpecialFiles points sockd_pidfile at a named pipe and a
// device node (as /dev/null would be): stop succeeds with nothing running
// and removes neither; validation refuses both.
func TestStopLeavesSpecialFiles(t *testing.T) {
	l := newLab(t)
	fifo, dev := l.path("fifo"), l.path("null")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Skipf("mknod: %v", err)
	}
	// A pidfile parameter naming a file that is no pidfile: start and
	// validation refuse it, stop leaves it.
	precious := l.path("passwd")
	writeFile(t, precious, "root:x:0:0:root:/root:/bin/bash\n")
	l.expectReason(6, "does not hold a PID", "validate-all", "OCF_RESKEY_sockd_pidfile="+precious)
	l.expectReason(6, "does not hold a PID", "start", "OCF_RESKEY_sockd_pidfile="+precious)
	l.expect(0, "stop", "OCF_RESKEY_sockd_pidfile="+precious)
	if b, err := os.ReadFile(precious); err != nil || !strings.HasPrefix(string(b), "root:") {
		t.Errorf("a file named as pidfile was removed or overwritten: %q, %v", b, err)
	}
	// A pidfile that links to a secret: refused, never quoted.
	secret, link := l.path("secret"), l.path("link.pid")
	writeFile(t, secret, "root:$y$j9T$verysecrethash:19000:0:99999:7:::\n")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"validate-all", "start", "monitor"} {
		r := l.expect(6, action, "OCF_RESKEY_sockd_pidfile="+link, recurring)
		if !strings.Contains(r.reason(), "symbolic link") || strings.Contains(r.stderr, "secret") && strings.Contains(r.stderr, "verysecrethash") {
			t.Errorf("%s with a symlinked pidfile: %s", action, r.stderr)
		}
	}
	writeFile(t, l.env["OCF_RESKEY_sockd_pidfile"], "root:$y$j9T$verysecrethash:19000\n")
	for _, action := range []string{"monitor", "stop"} {
		if r := l.run(action, recurring); strings.Contains(r.stderr, "verysecrethash") {
			t.Errorf("%s quotes the pidfile's content: %s", action, r.stderr)
		}
	}
	if r := l.run("stop", "OCF_RESKEY_sockd_pidfile="+link); r.code != 0 {
		t.Errorf("stop with a symlinked pidfile: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(secret); err != nil {
		t.Errorf("stop removed the symlink's target: %v", err)
	}
	for _, f := range []string{fifo, dev} {
		pf := "OCF_RESKEY_sockd_pidfile=" + f
		l.expectReason(6, "not a regular file", "validate-all", pf)
		l.expect(7, "monitor", pf)
		l.expect(0, "stop", pf)
		if _, err := os.Lstat(f); err != nil {
			t.Errorf("stop removed %s: %v", f, err)
		}
	}
}

// TestPathsWithSpaces runs an instance whose configuration and pidfile
// paths hold spaces and a leading dash.
func TestPathsWithSpaces(t *testing.T) {
	l := newLab(t)
	dir := l.path("a dir -f x")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l.env["OCF_RESKEY_sockd_config"] = dir + "/-p danted.conf"
	l.env["OCF_RESKEY_sockd_pidfile"] = dir + "/-V danted.pid"
	l.writeConfig(testenv.DanteConfig{})
	l.start()
	l.expect(0, "monitor", recurring, "OCF_CHECK_LEVEL=20")
	l.stopClean()
	l.expect(7, "monitor", recurring)
}

// FuzzParsePidfile checks that a pidfile gives a PID Linux can hand out,
// or 0 for an empty file, or an error; never a negative or huge PID.
func FuzzParsePidfile(f *testing.F) {
	for _, s := range []string{"4242\n", "", " 17 ", "-1", "+5", "0", "99999999999999999999", "4194304", "1\n2\n"} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, more bool) {
		pid, ok := parsePidfile(b, more)
		if ok && (pid < 0 || pid > maxPID || (pid == 0 && len(strings.TrimSpace(string(b))) > 0)) {
			t.Errorf("%q gives PID %d", b, pid)
		}
	})
}

// FuzzLogProblems checks that no log text makes the parser panic and that
// every problem it returns starts with a level.
func FuzzLogProblems(f *testing.F) {
	f.Add([]byte("Nov 22 02:50:01 (1763779801.2) danted[42]: error: x\n"))
	f.Add([]byte("(((]: alert: )\n(1e999) d[1]: warning: y"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, l := range logProblems(b) {
			if !strings.Contains(l.text, ":") {
				t.Errorf("problem %q has no level", l.text)
			}
		}
	})
}

// FuzzParseDanteArgs checks that no sockd_args value makes the parser
// panic, and that an accepted one asks for a sane number of mothers.
func FuzzParseDanteArgs(f *testing.F) {
	for _, s := range []string{"-N 2", "-nf /x", "-d1 -N3 -- -f", "x -V", "-:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Fields(s)
		fl, err := parseDanteArgs(args)
		if err != nil {
			return
		}
		if fl.mothers < 1 || fl.mothers > maxMothers {
			t.Errorf("%q: %d mothers", s, fl.mothers)
		}
	})
}

// TestPidfileNamesPID1 writes PID 1 into the pidfile: it is never the
// instance's, and stop signals nothing. Then it stops an instance whose
// every process, the mother included, is SIGSTOPped.
func TestPidfileNamesPID1(t *testing.T) {
	l := newLab(t)
	writeFile(t, l.env["OCF_RESKEY_sockd_pidfile"], "1\n")
	l.expectReason(7, "stale pidfile", "monitor", recurring)
	l.expect(0, "stop")
	// Everything stopped, the mother included: SIGTERM with SIGCONT ends
	// it all.
	l.start()
	l.signalAll(l.processes(), syscall.SIGSTOP)
	l.stopClean()
}

// TestEndlessFiles names devices that never end as the configuration and
// the password file: refused at once, never read into memory.
func TestEndlessFiles(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		settings []string
		reason   string
	}{
		{[]string{"OCF_RESKEY_sockd_config=/dev/zero"}, "not a regular file (a character device)"},
		{[]string{"OCF_RESKEY_sockd_config=/"}, "not a regular file (a directory)"},
		{[]string{"OCF_RESKEY_check_username=u", "OCF_RESKEY_check_password_file=/dev/zero"}, "not a regular file (a character device)"},
		{[]string{"OCF_RESKEY_check_username=u", "OCF_RESKEY_check_password_file=/dev/urandom"}, "not a regular file (a character device)"},
	} {
		r := l.expect(6, "validate-all", append(tc.settings, "OCF_RESKEY_CRM_meta_timeout=5000")...)
		if !strings.Contains(r.reason(), tc.reason) {
			t.Errorf("%v: reason %q, want %q", tc.settings, r.reason(), tc.reason)
		}
	}
	l.expect(6, "monitor", recurring, "OCF_RESKEY_sockd_config=/dev/zero")
}

// TestPidfileDirectoryGone removes the pidfile's directory under a running
// instance: the monitor is in doubt about the pidfile (1), not a hard
// configuration error, and stop still ends Dante.
func TestPidfileDirectoryGone(t *testing.T) {
	l := newLab(t)
	dir := l.path("run")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l.env["OCF_RESKEY_sockd_pidfile"] = dir + "/danted.pid"
	l.start()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	l.expectReason(1, "pidfile", "monitor", recurring)
	l.expectReason(6, "does not exist", "validate-all")
	l.stopClean()
}

// TestPidfilePathCannotExist names pidfiles no file can have: under a
// regular file (ENOTDIR) and with a name longer than the file system takes
// (ENAMETOOLONG). Validation and start refuse them (6), a probe says
// stopped, and stop, with nothing of the instance running, succeeds.
func TestPidfilePathCannotExist(t *testing.T) {
	l := newLab(t)
	for _, pf := range []string{
		l.env["OCF_RESKEY_sockd_config"] + "/danted.pid",
		l.path(strings.Repeat("p", 300) + ".pid"),
	} {
		setting := "OCF_RESKEY_sockd_pidfile=" + pf
		l.expect(6, "validate-all", setting)
		l.expect(6, "start", setting)
		l.expect(7, "monitor", setting)
		l.expect(0, "stop", setting)
	}
	l.assertNothingLeft()
}

// TestNamedPipeConfig names a named pipe as the configuration: every
// action answers at once, none waits for a writer.
func TestNamedPipeConfig(t *testing.T) {
	l := newLab(t)
	fifo := l.path("fifo.conf")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	setting := "OCF_RESKEY_sockd_config=" + fifo
	l.expectReason(6, "a FIFO", "validate-all", setting, "OCF_RESKEY_CRM_meta_timeout=5000")
	l.expect(7, "monitor", setting, "OCF_RESKEY_CRM_meta_timeout=5000")
	l.expect(6, "monitor", setting, recurring, "OCF_RESKEY_CRM_meta_timeout=5000")
	l.expect(0, "stop", setting, "OCF_RESKEY_CRM_meta_timeout=5000")
}

// TestLongResourceName gives the resource a name longer than a file name
// may be: the state file's name is bounded, and the life cycle works.
func TestLongResourceName(t *testing.T) {
	l := newLab(t)
	l.env["OCF_RESOURCE_INSTANCE"] = strings.Repeat("r", 300)
	l.expect(7, "monitor")
	l.start()
	l.expect(0, "monitor", recurring)
	l.stopClean()
}

// TestParseProcNetTCP reads listening sockets of both families in the
// kernel's format.
func TestParseProcNetTCP(t *testing.T) {
	tcp := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 0100007F:0438 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41757 1 0000000000000000 100 0 0 10 0\n" +
		"   1: 6301200A:0438 0101A8C0:D431 01 00000000:00000000 00:00000000 00000000     0        0 41758 1\n"
	tcp6 := "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 00000000000000000000000001000000:0438 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41760 1\n" +
		"   1: B80D0120000000000000000099000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41761 1\n"
	got := append(parseProcNetTCP([]byte(tcp)), parseProcNetTCP([]byte(tcp6))...)
	want := []tcpSocket{
		{netip.MustParseAddrPort("127.0.0.1:1080"), tcpListen, 41757},
		{netip.MustParseAddrPort("10.32.1.99:1080"), 1, 41758},
		{netip.MustParseAddrPort("[::1]:1080"), tcpListen, 41760},
		{netip.MustParseAddrPort("[2001:db8::99]:80"), tcpListen, 41761},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// FuzzParseProcNetTCP checks that no /proc/net/tcp content makes the
// parser panic, and that every socket it returns has a valid address.
func FuzzParseProcNetTCP(f *testing.F) {
	f.Add([]byte("   0: 0100007F:0438 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41757 1\n"))
	f.Add([]byte("0: 00000000000000000000000001000000:0438 x 0A a b c d e 1\n: : : :"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, s := range parseProcNetTCP(b) {
			if !s.addr.IsValid() || s.state < 0 || s.state > 255 {
				t.Errorf("invalid socket %+v", s)
			}
		}
	})
}
