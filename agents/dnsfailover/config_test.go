package dnsfailover

import (
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const goodConfig = `primaries = ["10.53.0.1", "10.53.0.2:5353", "fd00::53"]
zone = "mydomain.test"
tsig_key = "/etc/dns-failover/ddns.key"
interval = "2s"
timeout = 2
max_removals = 1

[[record]]
name = "www.mydomain.test"
min_records = 2
check = { type = "send-expect", port = "http", send = "GET /robots.txt HTTP/1.0", expect = "httpd is working" }
[[record.member]]
address = "10.0.0.1"
[[record.member]]
address = "10.0.0.2"
restart = { type = "systemd", unit = "apache2.service", backoff = "5m" }
[[record.member]]
address = "10.0.0.3"
check = { type = "https", host = "www.mydomain.test", path = "/health", status = 204 }

[[record]]
name = "mx.mydomain.test"
check = { type = "send-expect", port = "smtp", send = "QUIT", expect = "220" }
[[record.member]]
address = "fd00::25"
`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig("x.toml", []byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Servers, " ") != "10.53.0.1:53 10.53.0.2:5353 [fd00::53]:53" {
		t.Errorf("servers %v", c.Servers)
	}
	r := c.Records[0]
	if r.Name != "www.mydomain.test." || r.Zone != "mydomain.test." || r.Min != 2 || r.Line != 8 {
		t.Errorf("record %+v", r)
	}
	if r.Members[0].Check.PortNum != 80 || r.Members[2].Check.PortNum != 443 || r.Members[1].Restart.BackoffD.Minutes() != 5 {
		t.Errorf("ports %d %d", r.Members[0].Check.PortNum, r.Members[2].Check.PortNum)
	}
	if c.Records[1].Members[0].Check.PortNum != 25 || c.Records[1].typeName() != "AAAA" {
		t.Errorf("smtp record %+v", c.Records[1])
	}
	if c.Timeout.Seconds() != 2 {
		t.Errorf("timeout %v", c.Timeout)
	}
}

// TestParseConfigRefuses lists hostile and wrong values, each refused
// with a reason (and a line where the TOML decoder gives one).
func TestParseConfigRefuses(t *testing.T) {
	base := func(old, new string) string { return strings.Replace(goodConfig, old, new, 1) }
	for _, c := range []struct{ text, want string }{
		{base(`max_removals = 1`, "max_removals = 1\nbogus = 1"), `x.toml:7: unknown key "bogus"`},
		{base(`address = "10.0.0.1"`, "address = \"10.0.0.1\"\nadress = 2"), `unknown key "record.member.adress"`},
		{base(`interval = "2s"`, `interval = "-5s"`), "interval"},
		{base(`interval = "2s"`, `interval = "18446744073710s"`), "interval"},
		{base(`timeout = 2`, `timeout = "fast"`), "timeout"},
		{base(`min_records = 2`, `min_records = 4`), "min_records 4"},
		{base(`min_records = 2`, `min_records = -1`), "min_records -1"},
		{base(`max_removals = 1`, `max_removals = -1`), "max_removals"},
		{base(`max_removals = 1`, "max_removals = 1\nfast_interval = \"3s\""), "fast_interval 3s is longer than interval 2s"},
		{base(`max_removals = 1`, "max_removals = 1\nfast_interval = \"1ms\""), "fast_interval"},
		{base(`"10.0.0.1"`, `"10.0.0.1; rm -rf /"`), "not an IP address"},
		{base(`"10.0.0.1"`, `"10.0.0.2"`), "listed twice"},
		{base(`"10.0.0.1"`, `"fd00::1"`), "mix IPv4 and IPv6"},
		{base(`name = "www.mydomain.test"`, `name = "www.other.test"`), "not in zone"},
		{base(`name = "www.mydomain.test"`, `name = "www\"; update delete mydomain.test"`), "not a domain name"},
		{base(`port = "http"`, `port = "no-such-service"`), "/etc/services"},
		{base(`port = "http"`, `port = "70000"`), "port 70000"},
		{base(`type = "https"`, `type = "gopher"`), "type \"gopher\""},
		{base(`unit = "apache2.service"`, `unit = "../x"`), "unit"},
		{base(`type = "systemd", unit = "apache2.service"`, `type = "exec", command = ["rm", "-rf"]`), "absolute path"},
		{base(`"10.53.0.1", `, `"ns1.example", `), "IP address"},
		{base(`tsig_key = "/etc/dns-failover/ddns.key"`, `tsig_key = "ddns.key"`), "absolute path"},
		{"primaries = []\n", "primaries"},
		{"primaries = [" + strings.Repeat("\"10.0.0.1\", ", 33) + "]\n", "at most 32"},
		{base(`type = "https", host`, `type = "https", watch = "yes", host`), "x.toml:19: toml: cannot decode TOML string into struct field dnsfailover.Check.Watch of type bool"},
		{base(`address = "fd00::25"`, "address = \"fd00::25\"\ncheck = { type = \"dns\", query = \"mx.mydomain.test\", watch = true }"),
			"x.toml:21: record mx.mydomain.test.: member fd00::25: check: watch: dns checks hold no connection to watch"},
		{base(`address = "fd00::25"`, "address = \"fd00::25\"\ncheck = { type = \"exec\", command = [\"/bin/true\"], watch = true }"),
			"watch: exec checks hold no connection"},
		{"a = \"\x00\"\n", "NUL"},
		{"[[record]\n", "x.toml:1"},
	} {
		_, err := ParseConfig("x.toml", []byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v\n%s", c.want, err, c.text)
		}
	}
}

// TestWatchConfig: watch is off by default; the top-level key turns it
// on for the checks over TCP only (a dns or exec check under it is not
// watched, and not an error); a check's own key overrides it.
func TestWatchConfig(t *testing.T) {
	const recs = `
[[record]]
name = "www.z.test"
check = { type = "http" }
[[record.member]]
address = "10.0.0.1"
[[record.member]]
address = "10.0.0.2"
check = { type = "send-expect", port = "25", watch = false }
[[record.member]]
address = "10.0.0.3"
check = { type = "dns", query = "z.test" }
[[record.member]]
address = "10.0.0.4"
check = { type = "tls", port = "443", watch = true }
`
	for _, tc := range []struct {
		top  string
		want string // watched members, in order
	}{
		{"", "10.0.0.4"},
		{"watch = false", "10.0.0.4"},
		{"watch = true", "10.0.0.1 10.0.0.4"},
	} {
		c, err := ParseConfig("w.toml", []byte("primaries = [\"10.53.0.1\"]\nzone = \"z.test\"\n"+tc.top+recs))
		if err != nil {
			t.Fatalf("%s: %v", tc.top, err)
		}
		var got []string
		for _, m := range c.Records[0].Members {
			if m.Check.Watched {
				got = append(got, m.Address)
			}
		}
		if strings.Join(got, " ") != tc.want || c.watched() != (tc.want != "") {
			t.Errorf("%q: watched %v, want %s", tc.top, got, tc.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte("primaries = [\"1.2.3.4\"]\nzone = \"a\"\n[[record]]\nname = \"b.a\"\ncheck = {type=\"dns\", query=\"x\"}\n[[record.member]]\naddress = \"::1\"\n"))
	f.Add([]byte("primaries = [\"1.2.3.4\"]\nzone = \"a\"\nwatch = true\n[[record]]\nname = \"b.a\"\ncheck = {type=\"http\", watch=false}\n[[record.member]]\naddress = \"::1\"\ncheck = {type=\"tls\", port=\"443\", watch=true}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("fuzz.toml", data)
		if err != nil {
			return
		}
		for _, r := range c.Records {
			if r.Min < 0 || r.Min > len(r.Members) || r.Zone == "" {
				t.Fatalf("record accepted with min %d zone %q", r.Min, r.Zone)
			}
			for _, m := range r.Members {
				if !m.Addr.IsValid() || m.Check == nil {
					t.Fatalf("member accepted without address or check: %+v", m)
				}
				if m.Check.Watched && !contains(watchTypes, m.Check.Type) {
					t.Fatalf("a %s check accepted as watched", m.Check.Type)
				}
			}
		}
	})
}

const classicExample = `bind8_dns_server1 = 192.168.0.1
bind8_dns_server2 = 192.168.0.2
check_server1 = 192.168.0.1|www.mydomain.com|http|apache|GET /robots.txt HTTP/1.0|httpd is working
check_server3 = 192.168.0.1|smtp.mydomain.com|smtp|postfix|QUIT|220
`

// TestImportClassic converts the example; the result is a valid
// configuration with the same checks.
func TestImportClassic(t *testing.T) {
	out, err := ImportClassic([]byte(classicExample), ClassicOptions{TSIGKey: "/etc/dns-failover/ddns.key"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig("imported.toml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(c.Records) != 2 || c.Records[0].Zone != "mydomain.com." || c.Records[0].Members[0].Check.Send != "GET /robots.txt HTTP/1.0" ||
		c.Records[1].Members[0].Check.PortNum != 25 || c.Records[0].Members[0].Restart.Command[0] != "/etc/init.d/apache" || c.TSIGKey == "" {
		t.Fatalf("imported:\n%s", out)
	}
	for _, bad := range []string{
		"check_server1 = 192.168.0.1|www|http|x|GET /|ok\n",
		"bind8_dns_server1 = 192.168.0.1\ncheck_server1 = 192.168.0.1|www.a.b|http|x|GET /\n",
		"bind8_dns_server1 = ns1\n",
		"bind8_dns_server1 = 1.2.3.4\ncheck_server1 = 1.2.3.4|www.a.b|nosuchsvc|x|GET /|ok\n",
		"bind8_dns_server1 = 1.2.3.4\ncheck_server1 = 1.2.3.4|www.a.b|http|../../bin/sh -c|GET /|ok\n",
		"password = secret\n",
	} {
		if _, err := ImportClassic([]byte(bad), ClassicOptions{}); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func FuzzImportClassic(f *testing.F) {
	f.Add([]byte(classicExample))
	f.Add([]byte("bind8_dns_server1 = ::1\ncheck_server1 = ::1|a.b.c|80|/x y|\"\\\x7f|\x01\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := ImportClassic(data, ClassicOptions{TSIGKey: "/k"})
		if err != nil {
			return
		}
		// Whatever was accepted converts to a file we read back.
		if _, err := ParseConfig("imported.toml", out); err != nil {
			t.Fatalf("import produced a file we refuse: %v\n%s", err, out)
		}
	})
}

// TestSnippets reads the README's configuration and converts its classic
// configuration without root (the lab tests run both against BIND).
func TestSnippets(t *testing.T) {
	data, err := os.ReadFile("../../docs/snippets/dnsfo.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig("dnsfo.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Records) != 3 || c.Records[1].Type() != dns.TypeAAAA || c.MaxRemovals != 1 || c.Records[0].Members[0].Restart == nil {
		t.Fatalf("snippet read as %+v", c)
	}
	classic, err := os.ReadFile("../../docs/snippets/dnsfo-failover-monitor.config")
	if err != nil {
		t.Fatal(err)
	}
	out, err := ImportClassic(classic, ClassicOptions{TSIGKey: "/etc/bind/dns-failover.key"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseConfig("imported.toml", out); err != nil {
		t.Fatal(err)
	}
}
