package sockd

import (
	"reflect"
	"strings"
	"testing"
)

const sampleConfig = `# /etc/danted.conf
logoutput: syslog /var/log/danted.log
internal: 10.0.0.1 port = 1080
internal: eth0 port=1081
internal: ::1
external: eth1
socksmethod: username none # both
user.privileged: root
client pass {
        from: 0.0.0.0/0 to: 0.0.0.0/0
        internal: 1.2.3.4 port = 9   # not a statement
}
socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0
        command: connect udpassociate
}
`

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(sampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Internal: []Endpoint{
			{Host: "10.0.0.1", Port: 1080, Line: 3},
			{Host: "eth0", Port: 1081, Line: 4},
			{Host: "::1", Port: 1080, Line: 5},
		},
		External:     []string{"eth1"},
		LogOutput:    []string{"syslog", "/var/log/danted.log"},
		SocksMethods: []string{"username", "none"},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}
	if cfg.RequiresUsername() {
		t.Error("username none does not require a username")
	}
	if got := cfg.LogFiles(); !reflect.DeepEqual(got, []string{"/var/log/danted.log"}) {
		t.Errorf("LogFiles = %v", got)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, conf, want string }{
		{"no address", "internal:\n", "line 1: internal: names no address"},
		{"bad keyword", "internal: 1.2.3.4 prot = 1\n", `expected "port"`},
		{"bad port", "\ninternal: 1.2.3.4 port = 70000\n", "line 2: internal: bad port"},
		{"no port", "internal: 1.2.3.4 port =\n", "expected one port number"},
		{"unbalanced", "}\n", "line 1: unbalanced }"},
		{"no external", "external:\n", "external: names no address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tc.conf))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestRequiresUsername(t *testing.T) {
	for methods, want := range map[string]bool{"username": true, "none": false, "username none": false, "": false, "pam.username": false} {
		cfg := &Config{SocksMethods: strings.Fields(methods)}
		if got := cfg.RequiresUsername(); got != want {
			t.Errorf("%q: RequiresUsername = %v, want %v", methods, got, want)
		}
	}
}

// FuzzParseConfig checks that no input makes the parser panic, and that
// every endpoint it returns is usable.
func FuzzParseConfig(f *testing.F) {
	f.Add(sampleConfig)
	f.Add("internal: 127.0.0.1 port=1080\nexternal: lo\n")
	f.Add("{{}}internal:x port")
	f.Fuzz(func(t *testing.T, conf string) {
		cfg, err := ParseConfig(strings.NewReader(conf))
		if err != nil {
			return
		}
		for _, ep := range cfg.Internal {
			if ep.Host == "" || ep.Port < 1 || ep.Port > 65535 {
				t.Errorf("unusable endpoint %+v", ep)
			}
		}
	})
}
