package testenv

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// DanteConfig describes a danted.conf (Dante 1.4) for tests. Clients may
// CONNECT and UDP ASSOCIATE anywhere, in both address families: only the
// test's own namespaces are reachable.
type DanteConfig struct {
	// LogFile is the logoutput file, where Dante also writes what it
	// finds wrong with the configuration.
	LogFile string
	// Internal are the addresses or interfaces the proxy listens on,
	// each on Port; default 127.0.0.1.
	Internal []string
	// Port is the SOCKS port, default 1080.
	Port int
	// External is the address or interface Dante relays from; default
	// 127.0.0.1.
	External string
	// Username makes username (RFC 1929, system accounts) the only method.
	Username bool
	// Methods, when set, are the socksmethods in order of preference, such
	// as username and none; they take the place of what Username chooses.
	Methods []string
	// BlockConnect adds a rule that refuses every CONNECT (REP 2).
	BlockConnect bool
	// BlockConnectTo, when set, adds a rule that refuses CONNECT to this
	// address (REP 2), such as 127.0.0.2/32.
	BlockConnectTo string
	// NoUDPReply leaves out the udpreply rule, so UDP replies are dropped.
	NoUDPReply bool
}

// String renders the configuration, one keyword per line as Dante wants.
func (d DanteConfig) String() string {
	internal, port, external, method := d.Internal, d.Port, d.External, "none"
	if len(internal) == 0 {
		internal = []string{"127.0.0.1"}
	}
	if port == 0 {
		port = 1080
	}
	if external == "" {
		external = "127.0.0.1"
	}
	if d.Username {
		method = "username"
	}
	if len(d.Methods) > 0 {
		method = strings.Join(d.Methods, " ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "logoutput: %s\n", d.LogFile)
	for _, in := range internal {
		fmt.Fprintf(&b, "internal: %s port = %d\n", in, port)
	}
	fmt.Fprintf(&b, "external: %s\nclientmethod: none\nsocksmethod: %s\n", external, method)
	b.WriteString("user.privileged: root\nuser.unprivileged: nobody\n")
	rule := func(verdict, to, command string) {
		fmt.Fprintf(&b, "%s {\n  from: 0/0 to: %s\n", verdict, to)
		if command != "" {
			fmt.Fprintf(&b, "  command: %s\n", command)
		}
		b.WriteString("  log: error\n}\n")
	}
	rule("client pass", "0/0", "")
	if d.BlockConnect {
		rule("socks block", "0/0", "connect")
	}
	if d.BlockConnectTo != "" {
		rule("socks block", d.BlockConnectTo, "connect")
	}
	rule("socks pass", "0/0", "connect udpassociate")
	if !d.NoUDPReply {
		rule("socks pass", "0/0", "udpreply")
	}
	return b.String()
}

// Write writes the configuration to path.
func (d DanteConfig) Write(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(d.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
