package sockd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// DefaultPort is the port Dante listens on when internal: names none.
const DefaultPort = 1080

// Config is what the agent needs from a Dante configuration file: where
// the server listens, where it relays from, where it logs and which SOCKS
// methods it accepts. Rules are left to Dante.
type Config struct {
	// Internal are the addresses clients connect to.
	Internal []Endpoint
	// External are the addresses (or interface names) Dante relays from.
	External []string
	// LogOutput are the log destinations: stderr, stdout, syslog[/facility]
	// or file names.
	LogOutput []string
	// SocksMethods are the methods of the socksmethod: line (method: in
	// older configurations).
	SocksMethods []string
}

// Endpoint is one internal: statement.
type Endpoint struct {
	// Host is an IP address, an interface name or a host name.
	Host string
	Port int
	// Line is the statement's line number in the file.
	Line int
}

func (e Endpoint) String() string { return fmt.Sprintf("%s port %d", e.Host, e.Port) }

// RequiresUsername reports whether the server accepts only username
// authentication, so a check must log in.
func (c *Config) RequiresUsername() bool {
	hasUser := false
	for _, m := range c.SocksMethods {
		switch m {
		case "none":
			return false
		case "username":
			hasUser = true
		}
	}
	return hasUser
}

// LogFiles returns the file destinations of logoutput:.
func (c *Config) LogFiles() []string {
	var files []string
	for _, out := range c.LogOutput {
		if strings.HasPrefix(out, "/") {
			files = append(files, out)
		}
	}
	return files
}

// maxConfig bounds the configuration file the agent reads.
const maxConfig = 16 << 20

// ParseConfigFile reads and parses a Dante configuration file, which must
// be a regular file of at most 16 MiB.
func ParseConfigFile(path string) (*Config, error) {
	b, more, err := filesafe.ReadRegular(path, 0, maxConfig)
	if err != nil {
		return nil, err
	}
	if more {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, maxConfig>>20)
	}
	cfg, err := ParseConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses the top-level statements of a Dante configuration.
// Statements inside rule blocks ({ ... }) are skipped; comments start with
// #. It fails on an internal: statement it cannot read, because the agent
// could not check that address.
func ParseConfig(r io.Reader) (*Config, error) {
	cfg := &Config{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	depth := 0
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		// Braces open and close rule blocks; what precedes an opening brace
		// on its line is the rule's head, not a statement.
		opens, closes := strings.Count(line, "{"), strings.Count(line, "}")
		top := depth == 0 && opens == 0
		depth += opens - closes
		if depth < 0 {
			return nil, fmt.Errorf("line %d: unbalanced }", n)
		}
		if !top {
			continue
		}
		keyword, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || strings.ContainsAny(keyword, " \t") {
			continue
		}
		fields := strings.Fields(value)
		switch keyword {
		case "internal":
			ep, err := parseEndpoint(value, n)
			if err != nil {
				return nil, err
			}
			cfg.Internal = append(cfg.Internal, ep)
		case "external":
			if len(fields) == 0 {
				return nil, fmt.Errorf("line %d: external: names no address", n)
			}
			cfg.External = append(cfg.External, fields[0])
		case "logoutput":
			cfg.LogOutput = append(cfg.LogOutput, fields...)
		case "socksmethod", "method":
			cfg.SocksMethods = append(cfg.SocksMethods, fields...)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseEndpoint parses the value of internal:, "ADDRESS [port [=] N]".
func parseEndpoint(value string, line int) (Endpoint, error) {
	value = strings.ReplaceAll(value, "=", " = ")
	fields := strings.Fields(value)
	if len(fields) == 0 {
		return Endpoint{}, fmt.Errorf("line %d: internal: names no address", line)
	}
	ep := Endpoint{Host: fields[0], Port: DefaultPort, Line: line}
	rest := fields[1:]
	if len(rest) == 0 {
		return ep, nil
	}
	if rest[0] != "port" {
		return Endpoint{}, fmt.Errorf("line %d: internal: expected \"port\" after %s, found %q", line, ep.Host, rest[0])
	}
	rest = rest[1:]
	if len(rest) > 0 && rest[0] == "=" {
		rest = rest[1:]
	}
	if len(rest) != 1 {
		return Endpoint{}, fmt.Errorf("line %d: internal: expected one port number", line)
	}
	port, err := strconv.Atoi(rest[0])
	if err != nil || port < 1 || port > 65535 {
		return Endpoint{}, fmt.Errorf("line %d: internal: bad port %q", line, rest[0])
	}
	ep.Port = port
	return ep, nil
}
