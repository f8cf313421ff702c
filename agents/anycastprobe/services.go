package anycastprobe

// The checks of the services besides DNS: RADIUS, syslog, HTTP proxy and
// SOCKS, each a thin mapping of its configuration onto a prober of probe/.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/ocfkit/ocfkit/internal/filesafe"
	"github.com/ocfkit/ocfkit/probe/proxy"
	"github.com/ocfkit/ocfkit/probe/radius"
	"github.com/ocfkit/ocfkit/probe/socks5"
	"github.com/ocfkit/ocfkit/probe/syslog"
	"github.com/ocfkit/ocfkit/probe/tcp"

	"github.com/ocfkit/ocfkit/internal/duration"
)

// RetryRange is the range of a radius check's retry.
var RetryRange = duration.Range{Unit: time.Second, Min: 10 * time.Millisecond, Max: time.Minute}

// maxPassword bounds a password file.
const maxPassword = 255

// readPassword reads a password file under the rules of a secret file
// (radius.ReadSecret: filesafe, bounded, one trailing newline dropped).
// Neither the password nor its length is in an error.
func readPassword(path string) (string, error) {
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("password_file %q: want an absolute path", path)
	}
	b, err := filesafe.ReadFile(path, os.Geteuid(), maxPassword+2)
	if err != nil {
		return "", fmt.Errorf("password_file: %w", err)
	}
	b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	if len(b) == 0 || len(b) > maxPassword {
		return "", fmt.Errorf("password_file %s: want 1 to %d bytes", path, maxPassword)
	}
	return string(b), nil
}

// hostPort checks a HOST:PORT key.
func hostPort(kind, key, s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || !validPort(port) {
		return fmt.Errorf("%s check: %s %q: want HOST:PORT", kind, key, s)
	}
	return nil
}

type radiusCheck struct{ cfg radius.Config }

func newRadiusCheck(c *CheckConfig) (Check, error) {
	cfg := radius.Config{Server: c.Server, Accounting: c.Accounting, User: c.User, ReplyMessage: c.ReplyMessage}
	if err := hostPort("radius", "server", c.Server); err != nil {
		return nil, err
	}
	if c.SecretFile == "" || !filepath.IsAbs(c.SecretFile) {
		return nil, errors.New("radius check: secret_file: want the absolute path of the file holding the shared secret")
	}
	secret, err := radius.ReadSecret(c.SecretFile, os.Geteuid())
	if err != nil {
		return nil, fmt.Errorf("radius check: %w", err)
	}
	cfg.Secret = secret
	if c.User != "" || c.PasswordFile != "" {
		if c.User == "" || c.PasswordFile == "" {
			return nil, errors.New("radius check: user and password_file go together (an Access-Request)")
		}
		if cfg.Password, err = readPassword(c.PasswordFile); err != nil {
			return nil, fmt.Errorf("radius check: %w", err)
		}
		cfg.Kind = radius.AccessRequest
	}
	if c.Retry != "" {
		if cfg.Retry, err = RetryRange.Parse(c.Retry); err != nil {
			return nil, fmt.Errorf("radius check: retry: %w", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("radius check: %w", err)
	}
	c.filesSum = sha256.Sum256(append(append(append([]byte{}, secret...), 0), cfg.Password...))
	return &radiusCheck{cfg}, nil
}

func (r *radiusCheck) Name() string {
	what := "status-server"
	if r.cfg.Kind == radius.AccessRequest {
		what = "access-request"
	}
	return fmt.Sprintf("radius %s %s", what, r.cfg.Server)
}

func (r *radiusCheck) Run(ctx context.Context) error {
	_, err := radius.Probe(ctx, r.cfg)
	return err
}

type syslogCheck struct{ cfg syslog.Config }

func newSyslogCheck(c *CheckConfig) (Check, error) {
	cfg := syslog.Config{Server: c.Server, Network: "udp", Format: syslog.Format(c.Format),
		OctetCounting: c.OctetCounting, Relay: c.Relay, RelayNetwork: "udp", File: c.File}
	if err := hostPort("syslog", "server", c.Server); err != nil {
		return nil, err
	}
	if c.TCP {
		cfg.Network = "tcp"
	}
	if c.RelayTCP {
		cfg.RelayNetwork = "tcp"
	}
	if c.Relay != "" {
		if err := hostPort("syslog", "relay", c.Relay); err != nil {
			return nil, err
		}
	} else if c.RelayTCP {
		return nil, errors.New("syslog check: relay_tcp applies to a relay")
	}
	if c.File != "" && !filepath.IsAbs(c.File) {
		return nil, fmt.Errorf("syslog check: file %q: want an absolute path", c.File)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("syslog check: %w", err)
	}
	return &syslogCheck{cfg}, nil
}

func (s *syslogCheck) Name() string {
	via := "relay " + s.cfg.Relay + "/" + s.cfg.RelayNetwork
	if s.cfg.File != "" {
		via = "file " + s.cfg.File
	}
	return fmt.Sprintf("syslog %s/%s %s", s.cfg.Server, s.cfg.Network, via)
}

func (s *syslogCheck) Run(ctx context.Context) error {
	_, err := syslog.Probe(ctx, s.cfg)
	return err
}

type proxyCheck struct{ cfg proxy.Config }

func newProxyCheck(c *CheckConfig) (Check, error) {
	cfg := proxy.Config{Proxy: c.Server, Mode: proxy.Get, Target: c.Target, Status: c.Status, Body: c.Body}
	if err := hostPort("proxy", "server", c.Server); err != nil {
		return nil, err
	}
	if c.Connect {
		cfg.Mode = proxy.Connect
	}
	if c.Target == "" {
		return nil, errors.New("proxy check: target: want the URL fetched through the proxy")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("proxy check: %w", err)
	}
	return &proxyCheck{cfg}, nil
}

func (p *proxyCheck) Name() string {
	return fmt.Sprintf("proxy %s %s via %s", p.cfg.Mode, p.cfg.Target, p.cfg.Proxy)
}

func (p *proxyCheck) Run(ctx context.Context) error {
	_, err := proxy.Probe(ctx, p.cfg)
	return err
}

// socksCheck negotiates with the proxy (authenticating when a user is
// given) and, with a target, CONNECTs to it and exchanges send/expect;
// with udp it makes a UDP association and does the round trip through
// its relay instead.
type socksCheck struct {
	client       socks5.Client
	udp          bool
	target       string
	send, expect []byte
}

func newSocksCheck(c *CheckConfig) (Check, error) {
	if err := hostPort("socks", "server", c.Server); err != nil {
		return nil, err
	}
	s := &socksCheck{client: socks5.Client{Proxy: c.Server, Username: c.User}, udp: c.UDP,
		target: c.Target, send: []byte(unescape(c.Send)), expect: []byte(unescape(c.Expect))}
	if (c.User == "") != (c.PasswordFile == "") {
		return nil, errors.New("socks check: user and password_file go together")
	}
	if len(c.User) > 255 {
		return nil, errors.New("socks check: user longer than 255 bytes")
	}
	if c.PasswordFile != "" {
		var err error
		if s.client.Password, err = readPassword(c.PasswordFile); err != nil {
			return nil, fmt.Errorf("socks check: %w", err)
		}
	}
	c.filesSum = sha256.Sum256([]byte(s.client.Password))
	if c.Target != "" {
		if err := hostPort("socks", "target", c.Target); err != nil {
			return nil, err
		}
	} else if c.UDP || c.Send != "" || c.Expect != "" {
		return nil, errors.New("socks check: udp, send and expect need a target")
	}
	if c.UDP && len(s.send) == 0 {
		return nil, errors.New("socks check: udp needs send (the datagram; expect defaults to its echo)")
	}
	return s, nil
}

func (s *socksCheck) Name() string {
	switch {
	case s.udp:
		return fmt.Sprintf("socks udp %s via %s", s.target, s.client.Proxy)
	case s.target != "":
		return fmt.Sprintf("socks connect %s via %s", s.target, s.client.Proxy)
	}
	return "socks greeting " + s.client.Proxy
}

func (s *socksCheck) Run(ctx context.Context) error {
	switch {
	case s.udp:
		a, err := s.client.UDPAssociate(ctx)
		if err != nil {
			return err
		}
		defer a.Close()
		return a.RoundTrip(ctx, s.target, s.send, s.expect)
	case s.target != "":
		conn, err := s.client.Dial(ctx, s.target)
		if err != nil {
			return err
		}
		defer conn.Close()
		return s.client.Exchange(ctx, conn, s.send, s.expect)
	}
	return s.client.Greet(ctx)
}

// Stage names the stage a check's error failed at ("exec" for a command,
// "timeout" for a probe without a stage of its own that ran out of time,
// "" for none).
func Stage(err error) string {
	var (
		re *radius.Error
		se *syslog.Error
		pe *proxy.Error
		ke *socks5.Error
		te *tcp.Error
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &re):
		return string(re.Stage)
	case errors.As(err, &se):
		return string(se.Stage)
	case errors.As(err, &pe):
		return string(pe.Stage)
	case errors.As(err, &ke):
		return string(ke.Stage)
	case errors.As(err, &te):
		return string(te.Stage)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "check"
}
