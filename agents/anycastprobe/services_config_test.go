package anycastprobe

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// safeFile writes content to a new file (mode) under the test's safe
// TMPDIR and returns its path.
func safeFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServicesSnippet: docs/snippets/anycast-probe-services.toml parses,
// with its secret file made the test's own.
func TestServicesSnippet(t *testing.T) {
	data, err := os.ReadFile("../../docs/snippets/anycast-probe-services.toml")
	if err != nil {
		t.Fatal(err)
	}
	secret := safeFile(t, "status-secret-from-a-file\n", 0o600)
	data = bytes.ReplaceAll(data, []byte("/etc/anycast-probe/radius-status.secret"), []byte(secret))
	c, err := ParseConfig("snippet.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsListen != "127.0.0.1:9426" || len(c.Services) != 4 {
		t.Errorf("parsed %+v", c)
	}
	for _, n := range c.Names() {
		if _, err := newRunner(c.Services[n], 249, t.Logf); err != nil {
			t.Errorf("service %s: %v", n, err)
		}
	}
}

// TestServiceChecksRefused lists the radius, syslog, proxy and socks
// checks refused at load, each with its line; no error shows a secret.
func TestServiceChecksRefused(t *testing.T) {
	secret := safeFile(t, "the-secret\n", 0o600)
	open := safeFile(t, "the-secret\n", 0o666)
	empty := safeFile(t, "\n", 0o600)
	head := "[service.s]\naddresses = [\"192.0.2.1\"]\n\n[[service.s.check]]\n"
	for _, tc := range []struct{ check, want string }{
		{"type = \"radius\"\nserver = \"127.0.0.1:18121\"\n", "t.toml:4: service s: radius check: secret_file: want the absolute path"},
		{"type = \"radius\"\nserver = \"127.0.0.1:18121\"\nsecret_file = \"rel/secret\"\n", "secret_file: want the absolute path"},
		{"type = \"radius\"\nserver = \"127.0.0.1:18121\"\nsecret_file = \"" + open + "\"\n", "t.toml:4: service s: radius check: secret file:"},
		{"type = \"radius\"\nserver = \"127.0.0.1:18121\"\nsecret_file = \"" + empty + "\"\n", "empty"},
		{"type = \"radius\"\nserver = \"127.0.0.1:18121\"\nsecret_file = \"/nonexistent/secret\"\n", "secret file:"},
		{"type = \"radius\"\nserver = \"127.0.0.1\"\nsecret_file = \"" + secret + "\"\n", "radius check: server \"127.0.0.1\": want HOST:PORT"},
		{"type = \"radius\"\nserver = \"127.0.0.1:1812\"\nsecret_file = \"" + secret + "\"\nuser = \"u\"\n", "user and password_file go together"},
		{"type = \"radius\"\nserver = \"127.0.0.1:1812\"\nsecret_file = \"" + secret + "\"\nuser = \"u\"\npassword_file = \"" + open + "\"\n", "password_file:"},
		{"type = \"radius\"\nserver = \"127.0.0.1:1812\"\nsecret_file = \"" + secret + "\"\naccounting = true\nuser = \"u\"\npassword_file = \"" + secret + "\"\n", "accounting applies to a Status-Server only"},
		{"type = \"radius\"\nserver = \"127.0.0.1:1812\"\nsecret_file = \"" + secret + "\"\nretry = \"5ms\"\n", "radius check: retry:"},
		{"type = \"radius\"\nserver = \"127.0.0.1:1812\"\nsecret = \"inline\"\n", `unknown key "service.s.check.secret"`},
		{"type = \"radius\"\nserver = \"127.0.0.1:1812\"\nsecret_file = \"" + secret + "\"\ntarget = \"x\"\n", `check type radius: key "target" does not apply`},
		{"type = \"syslog\"\nserver = \"127.0.0.1:5514\"\n", "want a relay address or a file"},
		{"type = \"syslog\"\nserver = \"127.0.0.1:5514\"\nrelay = \"127.0.0.1:5515\"\nfile = \"/var/log/x\"\n", "not both"},
		{"type = \"syslog\"\nserver = \"127.0.0.1:5514\"\nfile = \"x.log\"\n", "file \"x.log\": want an absolute path"},
		{"type = \"syslog\"\nserver = \"127.0.0.1:5514\"\nrelay = \"127.0.0.1:5515\"\noctet_counting = true\n", "octet counting applies to TCP only"},
		{"type = \"syslog\"\nserver = \"127.0.0.1:5514\"\nrelay = \"127.0.0.1:5515\"\nformat = \"json\"\n", `format "json"`},
		{"type = \"syslog\"\nserver = \"127.0.0.1:5514\"\nfile = \"/var/log/x\"\nrelay_tcp = true\n", "relay_tcp applies to a relay"},
		{"type = \"proxy\"\nserver = \"127.0.0.1:3128\"\n", "proxy check: target: want the URL"},
		{"type = \"proxy\"\nserver = \"127.0.0.1:3128\"\ntarget = \"https://example.org/\"\n", "https goes through the proxy with CONNECT only"},
		{"type = \"proxy\"\nserver = \"127.0.0.1:3128\"\ntarget = \"http://u:p@example.org/\"\n", "without user or fragment"},
		{"type = \"proxy\"\nserver = \"127.0.0.1:3128\"\ntarget = \"http://example.org/\"\nstatus = 42\n", "status 42"},
		{"type = \"socks\"\nserver = \"127.0.0.1:1080\"\nudp = true\n", "socks check: udp, send and expect need a target"},
		{"type = \"socks\"\nserver = \"127.0.0.1:1080\"\nudp = true\ntarget = \"127.0.0.1:7\"\n", "udp needs send"},
		{"type = \"socks\"\nserver = \"127.0.0.1:1080\"\ntarget = \"127.0.0.1\"\n", "socks check: target \"127.0.0.1\": want HOST:PORT"},
		{"type = \"socks\"\nserver = \"127.0.0.1:1080\"\npassword_file = \"" + secret + "\"\n", "user and password_file go together"},
		{"type = \"socks\"\nserver = \"127.0.0.1:1080\"\nuser = \"u\"\npassword_file = \"" + open + "\"\n", "socks check: password_file:"},
	} {
		_, err := ParseConfig("t.toml", []byte(head+tc.check))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("check:\n%s\nerror %v, want it to contain %q", tc.check, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "the-secret") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
	for _, bad := range []string{"9426", "localhost:9426", "127.0.0.1:0", "127.0.0.1:99999", "[fe80::1%lo]x"} {
		_, err := ParseConfig("t.toml", []byte("metrics_listen = \""+bad+"\"\n"+head+"type = \"exec\"\ncommand = [\"/bin/true\"]\n"))
		if err == nil || !strings.Contains(err.Error(), "t.toml:1: metrics_listen") {
			t.Errorf("metrics_listen %q: %v", bad, err)
		}
	}
}

// TestOneLinerUsage: the one-liners' usage errors exit 2 and name what
// is wrong; a secret is never taken from the command line.
func TestOneLinerUsage(t *testing.T) {
	secret := safeFile(t, "s\n", 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"radius", "127.0.0.1:18121", "192.0.2.1"}, "--secret-file is required"},
		{[]string{"radius", "--secret", "x", "127.0.0.1:18121", "192.0.2.1"}, "flag provided but not defined: -secret"},
		{[]string{"radius", "--secret-file", secret, "127.0.0.1:18121"}, "radius: want HOST:PORT SERVICE_ADDRESS..."},
		{[]string{"radius", "--secret-file", secret, "127.0.0.1:18121", "10.0.0.0/8"}, "a service address is a host address"},
		{[]string{"syslog", "127.0.0.1:5514", "192.0.2.1"}, "want --relay ADDR or --file PATH"},
		{[]string{"syslog", "--relay", "x", "--file", "/y", "127.0.0.1:5514", "192.0.2.1"}, "want --relay ADDR or --file PATH"},
		{[]string{"syslog", "--relay", "127.0.0.1:5515", "--octet-counting", "127.0.0.1:5514", "192.0.2.1"}, "octet counting applies to TCP only"},
		{[]string{"proxy", "127.0.0.1:3128", "192.0.2.1"}, "--target URL is required"},
		{[]string{"proxy", "--target", "ftp://x/", "127.0.0.1:3128", "192.0.2.1"}, "want an http:// or https:// URL"},
		{[]string{"socks", "--udp", "127.0.0.1:1080", "192.0.2.1"}, "udp, send and expect need a target"},
		{[]string{"socks", "--metrics-listen", "nowhere", "127.0.0.1:1080", "192.0.2.1"}, "--metrics-listen: metrics_listen \"nowhere\""},
	} {
		var out, errb bytes.Buffer
		code := Main(append([]string{"anycast-probe"}, tc.args...), func(string) (string, bool) { return "", false }, &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errb.String(), exitUsage, tc.want)
		}
	}
}

// TestReloadKeepsMetricsListen: SIGHUP cannot move the metrics endpoint.
func TestReloadKeepsMetricsListen(t *testing.T) {
	cfg := &Config{Protocol: DefaultProtocol, Socket: "/run/x.sock", MetricsListen: "127.0.0.1:9426", Services: map[string]*Service{}}
	d := newDaemon(cfg, t.Logf, func(string) {})
	other := *cfg
	other.MetricsListen = "127.0.0.1:9427"
	d.load = func() (*Config, error) { return &other, nil }
	if err := d.reload(); err == nil || !strings.Contains(err.Error(), "metrics_listen cannot change") {
		t.Errorf("reload moving metrics_listen: %v", err)
	}
}

// TestStatusRequest: the status socket answers JSON to "json", and the
// text to anything else, to a client that writes nothing, and to one that
// writes without end.
func TestStatusRequest(t *testing.T) {
	svc := &Service{Name: "web", Mode: "all", Rise: 1, Fall: 1, Interval: time.Second, FastInterval: time.Second, Timeout: time.Second,
		Checks: []*CheckConfig{{Type: "exec", Command: []string{"/bin/true"}}}}
	d := newDaemon(&Config{Protocol: DefaultProtocol, Services: map[string]*Service{"web": svc}}, t.Logf, func(string) {})
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go d.serveStatus(ln)
	ask := func(req string, close bool) string {
		c, err := net.Dial("unix", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if req != "" {
			_, _ = io.WriteString(c, req)
		}
		if close {
			_ = c.(*net.UnixConn).CloseWrite()
		}
		b, _ := io.ReadAll(c)
		return string(b)
	}
	var st StatusJSON
	if out := ask("json\n", true); json.Unmarshal([]byte(out), &st) != nil || st.Total != 1 || st.Services[0].Name != "web" || st.Services[0].State != "down" {
		t.Errorf("json: %q", out)
	}
	for _, tc := range []struct {
		req   string
		close bool
	}{{"text\n", true}, {"", true}, {"", false}, {"JSON please\n", true}, {strings.Repeat("j", 1000), false}} {
		if out := ask(tc.req, tc.close); !strings.HasPrefix(out, "anycast-probe: 0/1 services up\nservice web: down") {
			t.Errorf("request %.20q (close %v): %q", tc.req, tc.close, out)
		}
	}
}

// TestReloadSeesSecretChange: a service whose secret file changed is a
// changed service on reload (its check is rebuilt with the new secret);
// one whose file did not change is the same.
func TestReloadSeesSecretChange(t *testing.T) {
	secret := safeFile(t, "one\n", 0o600)
	text := []byte("[service.s]\naddresses = [\"192.0.2.1\"]\n[[service.s.check]]\ntype = \"radius\"\nserver = \"127.0.0.1:18121\"\nsecret_file = \"" + secret + "\"\n")
	parse := func() *Service {
		c, err := ParseConfig("t.toml", text)
		if err != nil {
			t.Fatal(err)
		}
		return c.Services["s"]
	}
	a, b := parse(), parse()
	if !sameService(a, b) {
		t.Error("the same file and secret: a changed service")
	}
	if err := os.WriteFile(secret, []byte("two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if sameService(a, parse()) {
		t.Error("a changed secret file: the same service (the old secret would stay)")
	}
}

// FuzzReadRequest: any bytes on the status socket are the text request
// unless their first line is "json".
func FuzzReadRequest(f *testing.F) {
	f.Add([]byte("json\n"))
	f.Add([]byte(" json \r\nmore"))
	f.Add([]byte("text\n"))
	f.Add([]byte(strings.Repeat("x", 100)))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, b := net.Pipe()
		go func() { _, _ = a.Write(in); a.Close() }()
		_ = b.SetReadDeadline(time.Now().Add(time.Second))
		got := readRequest(b)
		b.Close()
		line, _, _ := bytes.Cut(in[:min(len(in), 64)], []byte("\n"))
		want := requestText
		if string(bytes.TrimSpace(line)) == requestJSON {
			want = requestJSON
		}
		if got != want {
			t.Fatalf("%q: %s, want %s", in, got, want)
		}
	})
}
