package anycastprobe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodConfig = `socket = "/run/acp-test.sock"
[service.dns]
addresses = ["192.0.2.1", "2001:db8::1/128"]
rise = 2
fall = 3
interval = "500ms"
fast_interval = "100ms"
timeout = "400ms"
jitter = "1"
mode = "any"

[[service.dns.check]]
type = "dns"
server = "127.0.0.1"
query = "svc.lab"
qtype = "A"
tcp = true

[[service.dns.check]]
type = "tcp"
address = "127.0.0.1:53"

[service.route]
interface = "eth0"
routes = ["198.51.100.7"]

[[service.route.check]]
type = "exec"
command = ["/bin/true"]
`

// TestParseConfig reads every key and applies the defaults.
func TestParseConfig(t *testing.T) {
	c, err := ParseConfig("t.toml", []byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Services["dns"]
	if s.Rise != 2 || s.Fall != 3 || s.Interval != 500*time.Millisecond || s.FastInterval != 100*time.Millisecond ||
		s.Timeout != 400*time.Millisecond || s.Jitter != time.Second || s.Mode != "any" || len(s.Prefixes) != 2 || s.Interface != "lo" {
		t.Errorf("dns service: %+v", s)
	}
	r := c.Services["route"]
	if r.Rise != 1 || r.Fall != 1 || r.Interval != time.Second || r.FastInterval != time.Second || len(r.RouteDests) != 1 || r.Mode != "all" {
		t.Errorf("route service: %+v", r)
	}
	if c.Protocol != DefaultProtocol {
		t.Errorf("protocol %d", c.Protocol)
	}
}

// TestConfigRefused lists the hostile and malformed files refused, each
// with the line named.
func TestConfigRefused(t *testing.T) {
	check := "\n[[service.s.check]]\ntype = \"exec\"\ncommand = [\"/bin/true\"]\n"
	for _, tc := range []struct{ text, want string }{
		{"[service.s]\naddresses = [\"192.0.2.1\"]\nrisee = 2\n" + check, `t.toml:3: unknown key "service.s.risee"`},
		{"[service.s]\naddresses = [\"192.0.2.1\"\n", "t.toml:"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\n\n[[service.s.check]]\ntype = \"smtp\"\n", `t.toml:4: service s: check type "smtp": unknown probe`},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\n\n[[service.s.check]]\ntype = \"exec\"\ncommand = [\"/bin/true\"]\naddress = \"1.2.3.4:5\"\n", `key "address" does not apply`},
		{"[service.s]\naddresses = [\"::ffff:192.0.2.1\"]\n" + check, "t.toml:2: service s: address \"::ffff:192.0.2.1\": an IPv4-mapped IPv6 address mixes the families"},
		{"[service.s]\naddresses = [\"192.0.2.1/128\"]\n" + check, "not an IP address"},
		{"[service.s]\naddresses = [\"192.0.2.0/24\"]\n" + check, "a service address is a host address (/32)"},
		{"[service.s]\naddresses = [\"127.0.0.1\"]\n" + check, "not a unicast address"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\nrise = -1\n" + check, "t.toml:3: service s: rise -1: want 1 to 100"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\ninterval = \"-5s\"\n" + check, "t.toml:3: service s: interval:"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\ninterval = \"18446744073710s\"\n" + check, "interval:"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\ntimeout = \"0\"\n" + check, "timeout:"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\ninterval = \"1s\"\nfast_interval = \"2s\"\n" + check, "longer than interval"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\ninterface = \"../etc\"\n" + check, "not an interface name"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\nmode = \"some\"\n" + check, `mode "some"`},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\non_up = [\"rm\", \"-rf\"]\n" + check, "must be an absolute path"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\n", "no [[service.s.check]]"},
		{"[service.s]\n" + check, "no addresses"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\nroutes = [\"192.0.2.2\"]\n" + check, "one service holds one kind"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\n" + check + "[service.t]\naddresses = [\"192.0.2.1\"]\n" + strings.ReplaceAll(check, "service.s", "service.t"), "already held by service s"},
		{"protocol = 2\n[service.s]\naddresses = [\"192.0.2.1\"]\n" + check, "t.toml:1: protocol 2"},
		// adv4 F5: ocf-realserver's mark; its stop would remove (and its
		// start adopt) such an address that one of its instances lists.
		{"protocol = 248\n[service.s]\naddresses = [\"192.0.2.1\"]\n" + check, "t.toml:1: protocol 248 marks ocf-realserver's addresses"},
		{"socket = \"relative.sock\"\n[service.s]\naddresses = [\"192.0.2.1\"]\n" + check, "t.toml:1: socket"},
		{"[service.\"a b\"]\naddresses = [\"192.0.2.1\"]\n" + strings.ReplaceAll(check, "service.s", "service.\"a b\""), "name: use letters"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\n\n[[service.s.check]]\ntype = \"dns\"\nqtype = \"BOGUS\"\n", "t.toml:4: service s: dns check: unknown query type"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\n\n[[service.s.check]]\ntype = \"dns\"\nedns = 100\n", "edns 100"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\n\n[[service.s.check]]\ntype = \"dns\"\nserver = \"a b c\"\n", "dns check: server"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\n\n[[service.s.check]]\ntype = \"tcp\"\naddress = \"127.0.0.1:99999\"\n", "want HOST:PORT"},
		{"[service.s]\naddresses = [\"192.0.2.1\"]\n" + strings.Repeat(check, 65), "65 checks: at most 64"},
		{"", "no [service.NAME] defined"},
		{"a = \"\x00\"", "NUL"},
	} {
		_, err := ParseConfig("t.toml", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config:\n%s\nerror %v, want it to contain %q", tc.text, err, tc.want)
		}
	}
}

// TestLoadConfigUnsafe: a file others can write is refused (filesafe).
func TestLoadConfigUnsafe(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.toml")
	if err := os.WriteFile(p, []byte(goodConfig), 0o666); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(p, 0o666)
	if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), "refusing config") {
		t.Errorf("world-writable config: %v", err)
	}
	_ = os.Chmod(p, 0o600)
	if _, err := LoadConfig(p); err != nil {
		t.Errorf("safe config: %v", err)
	}
}

// FuzzParseConfig: no input panics, and an accepted file has services
// with checks and host addresses.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte("[service.s]\naddresses = [\"192.0.2.1\"]\n[[service.s.check]]\ntype = \"exec\"\ncommand = [\"/bin/true\"]\n"))
	f.Add([]byte("[[service.s.check]]\n[service.s]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("f.toml", data)
		if err != nil {
			return
		}
		for _, s := range c.Services {
			if len(s.Checks) == 0 || len(s.Prefixes)+len(s.RouteDests) == 0 || s.Rise < 1 || s.Fall < 1 || s.Interval <= 0 {
				t.Fatalf("accepted a service without checks, addresses or counts: %+v", s)
			}
			for _, p := range s.Prefixes {
				if p.Bits() != p.Addr().BitLen() {
					t.Fatalf("accepted a non-host address %v", p)
				}
			}
		}
	})
}
