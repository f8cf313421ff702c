package sockd

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/duration"
	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// checkSettings are the deep-check parameters of an instance.
type checkSettings struct {
	Check
	timeout time.Duration
}

// readCheckSettings reads and checks the check_* parameters. Failures are
// ErrConfigured. The password is read from its file and never reported.
func readCheckSettings(req *ocf.Request) (checkSettings, error) {
	p := req.Params
	var cs checkSettings
	var err error
	if cs.timeout, err = CheckTimeouts.Parse(p.String("check_timeout")); err != nil {
		return cs, ocf.Errorf(ocf.ErrConfigured, "check_timeout: %w", err)
	}
	if cs.UDP, err = p.Bool("check_udp"); err != nil {
		return cs, err
	}
	cs.Username = p.String("check_username")
	if err := checkUsername(cs.Username); err != nil {
		return cs, ocf.Errorf(ocf.ErrConfigured, "check_username: %w", err)
	}
	passwordFile := p.String("check_password_file")
	switch {
	case cs.Username != "" && passwordFile == "":
		return cs, ocf.Errorf(ocf.ErrConfigured, "check_username is set but check_password_file is not")
	case cs.Username != "":
		if cs.Password, err = readPassword(passwordFile); err != nil {
			return cs, ocf.Errorf(ocf.ErrConfigured, "check_password_file: %w", err)
		}
	}
	for _, name := range []string{"check_target", "check_udp_target"} {
		if v := p.String(name); v != "" {
			host, port, err := net.SplitHostPort(v)
			if err == nil && host == "" {
				err = fmt.Errorf("no host")
			}
			if err == nil {
				err = checkHost(host)
			}
			if err == nil {
				_, err = parsePort(port)
			}
			if err != nil {
				return cs, ocf.Errorf(ocf.ErrConfigured, "%s=%q is not host:port: %w", name, v, err)
			}
		}
	}
	cs.Target, cs.UDPTarget = p.String("check_target"), p.String("check_udp_target")
	cs.Send, cs.Expect = []byte(unescape(p.String("check_send"))), []byte(unescape(p.String("check_expect")))
	if (len(cs.Send) > 0 || len(cs.Expect) > 0) && cs.Target == "" {
		return cs, ocf.Errorf(ocf.ErrConfigured, "check_send and check_expect need check_target")
	}
	return cs, nil
}

// checkHost refuses a target host that is neither an IP address nor a
// host name of letters, digits, '-', '.' and '_' that SOCKS5 can carry
// (1 to 255 bytes). No such host can be reached, and the host goes into
// the exit reason and the log: a newline there would start a line of its
// own, and Pacemaker takes the last "ocf-exit-reason:" anywhere in the
// output, even one inside the brackets of "[x ocf-exit-reason:y]:80".
func checkHost(host string) error {
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if len(host) > 255 {
		return fmt.Errorf("the host name has %d bytes, SOCKS5 carries at most 255", len(host))
	}
	for _, c := range []byte(host) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("the host is neither an IP address nor a host name (letters, digits, '-', '.', '_'): %q", c)
		}
	}
	return nil
}

// CheckTimeouts is the range of check_timeout: seconds as a plain number,
// or a duration; 0 derives the limit from the operation's timeout.
var CheckTimeouts = duration.Range{Unit: time.Second, Min: 0, Max: time.Hour}

// defaultCheckTimeout derives a deep check's time limit from the
// operation's timeout: a quarter of it, at least 2 s. A healthy proxy
// answers in milliseconds, and a shorter limit catches a hang sooner; the
// operation's own deadline still bounds it.
func defaultCheckTimeout(op time.Duration) time.Duration {
	if t := op / 4; t > 2*time.Second {
		return t
	}
	return 2 * time.Second
}

// maxCredential is RFC 1929's limit on a user name and on a password:
// each is sent with a one-byte length.
const maxCredential = 255

// checkUsername rejects a user name SOCKS5 cannot carry.
func checkUsername(user string) error {
	if len(user) > maxCredential {
		return fmt.Errorf("the user name is %d bytes long; SOCKS5 (RFC 1929) carries at most %d", len(user), maxCredential)
	}
	return nil
}

// readPassword returns the first line of a password file, which must be a
// regular file and hold a password SOCKS5 can carry.
func readPassword(path string) (string, error) {
	// A line longer than any password SOCKS5 carries is read no further.
	b, _, err := filesafe.ReadRegular(path, 0, 4*maxCredential)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	password := strings.TrimRight(line, "\r")
	switch {
	case len(b) == 0:
		return "", fmt.Errorf("%s is empty", path)
	case len(password) > maxCredential:
		return "", fmt.Errorf("the password in %s is longer than %d bytes, the most SOCKS5 (RFC 1929) carries", path, maxCredential)
	}
	return password, nil
}

// unescape understands \r, \n, \t and \\ in check_send and check_expect.
func unescape(s string) string {
	return strings.NewReplacer(`\r`, "\r", `\n`, "\n", `\t`, "\t", `\\`, `\`).Replace(s)
}

// deepCheck runs the depth-10 or depth-20 check against every internal
// address of the configuration, those of interface names as the mothers
// bound them.
func deepCheck(ctx context.Context, req *ocf.Request, cfg *Config, mothers []Process) error {
	cs, err := readCheckSettings(req)
	if err != nil {
		return err
	}
	if cfg.RequiresUsername() && cs.Username == "" {
		return ocf.Errorf(ocf.ErrConfigured, "Dante accepts only username authentication: set check_username and check_password_file for depth %d", req.Depth)
	}
	timeout := cs.timeout
	if timeout == 0 {
		timeout = defaultCheckTimeout(req.Timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	targets, err := resolveEndpoints(ctx, cfg.Internal)
	if err != nil {
		return resolveError(ctx, err)
	}
	endpoints, err := boundEndpoints(targets, mothers)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "depth %d: %w", req.Depth, err)
	}
	proxies := make([]string, len(endpoints))
	for i, ep := range endpoints {
		proxies[i] = ep.String()
	}
	cs.Depth = Depth(req.Depth)
	if cs.Depth >= DepthDataPath {
		addr, err := echoAddress(ctx, cfg.External)
		if err != nil {
			return ocf.WithCode(ocf.ErrConfigured, err)
		}
		if cs.Echo, err = startEcho(addr, cs.UDP); err != nil {
			return ocf.Errorf(ocf.ErrGeneric, "opening the check's echo endpoint on %s: %w", addr, err)
		}
		defer cs.Echo.Close()
	}
	for _, r := range cs.runChecks(ctx, proxies) {
		if r.Err != nil {
			return ocf.Errorf(ocf.ErrGeneric, "%s", r.summary(cs.Depth))
		}
	}
	return nil
}
