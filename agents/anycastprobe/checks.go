package anycastprobe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/ocfkit/ocfkit/probe/dns"
	"github.com/ocfkit/ocfkit/probe/tcp"
)

// Check is one probe of a service, bounded by its context.
type Check interface {
	Name() string
	Run(ctx context.Context) error
}

// NewCheck builds a check from its configuration, refusing keys that do
// not apply to its type.
func NewCheck(c *CheckConfig) (Check, error) {
	set := c.setKeys()
	allowed := map[string][]string{
		"dns":    {"server", "query", "qtype", "tcp", "edns", "rcode", "answer", "value"},
		"tcp":    {"address", "send", "expect"},
		"exec":   {"command"},
		"radius": {"server", "secret_file", "accounting", "user", "password_file", "reply_message", "retry"},
		"syslog": {"server", "tcp", "format", "octet_counting", "relay", "relay_tcp", "file"},
		"proxy":  {"server", "connect", "target", "status", "body"},
		"socks":  {"server", "udp", "user", "password_file", "target", "send", "expect"},
	}
	keys, ok := allowed[c.Type]
	if !ok {
		return nil, fmt.Errorf("check type %q: unknown probe (want dns, tcp, exec, radius, syslog, proxy or socks)", c.Type)
	}
	for _, k := range set {
		if !contains(keys, k) {
			return nil, fmt.Errorf("check type %s: key %q does not apply", c.Type, k)
		}
	}
	switch c.Type {
	case "dns":
		return newDNSCheck(c)
	case "radius":
		return newRadiusCheck(c)
	case "syslog":
		return newSyslogCheck(c)
	case "proxy":
		return newProxyCheck(c)
	case "socks":
		return newSocksCheck(c)
	case "tcp":
		if _, port, err := net.SplitHostPort(c.Address); err != nil || !validPort(port) {
			return nil, fmt.Errorf("tcp check: address %q: want HOST:PORT", c.Address)
		}
		return &tcpCheck{tcp.Config{Address: c.Address, Send: []byte(unescape(c.Send)), Expect: []byte(unescape(c.Expect))}}, nil
	default:
		if len(c.Command) == 0 || !filepath.IsAbs(c.Command[0]) {
			return nil, fmt.Errorf("exec check: command must start with an absolute path")
		}
		return &execCheck{argv: c.Command}, nil
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n < 65536
}

// unescape turns \r \n \t \\ in send/expect strings into bytes, as the
// shell scripts' printf did.
func unescape(s string) string {
	return strings.NewReplacer(`\r`, "\r", `\n`, "\n", `\t`, "\t", `\\`, `\`).Replace(s)
}

// setKeys lists the keys given in the file.
func (c *CheckConfig) setKeys() []string {
	var k []string
	add := func(name string, set bool) {
		if set {
			k = append(k, name)
		}
	}
	add("server", c.Server != "")
	add("query", c.Query != "")
	add("qtype", c.QType != "")
	add("tcp", c.TCP)
	add("edns", c.EDNS != 0)
	add("rcode", c.Rcode != "")
	add("answer", c.Answer != nil)
	add("value", c.Value != "")
	add("address", c.Address != "")
	add("send", c.Send != "")
	add("expect", c.Expect != "")
	add("command", len(c.Command) > 0)
	add("secret_file", c.SecretFile != "")
	add("accounting", c.Accounting)
	add("user", c.User != "")
	add("password_file", c.PasswordFile != "")
	add("reply_message", c.ReplyMessage != "")
	add("retry", c.Retry != "")
	add("format", c.Format != "")
	add("octet_counting", c.OctetCounting)
	add("relay", c.Relay != "")
	add("relay_tcp", c.RelayTCP)
	add("file", c.File != "")
	add("connect", c.Connect)
	add("target", c.Target != "")
	add("status", c.Status != 0)
	add("body", c.Body != "")
	add("udp", c.UDP)
	return k
}

type dnsCheck struct{ cfg dns.Config }

func newDNSCheck(c *CheckConfig) (Check, error) {
	cfg := dns.Config{Server: c.Server, Name: c.Query, TCP: c.TCP, Recursive: true, ExpectAnswer: true, ExpectValue: c.Value}
	if cfg.Server == "" {
		cfg.Server = "127.0.0.1"
	}
	if _, err := dns.ServerAddr(cfg.Server); err != nil {
		return nil, fmt.Errorf("dns check: %w", err)
	}
	if cfg.Name == "" {
		cfg.Name = "."
	}
	if _, ok := mdns.IsDomainName(cfg.Name); !ok {
		return nil, fmt.Errorf("dns check: query %q: not a domain name", cfg.Name)
	}
	if c.QType != "" {
		t, err := dns.ParseType(c.QType)
		if err != nil {
			return nil, fmt.Errorf("dns check: %w", err)
		}
		cfg.Type = t
	} else if cfg.Name == "." {
		cfg.Type = mdns.TypeNS
	}
	if c.EDNS < 0 || c.EDNS > 65535 || (c.EDNS > 0 && c.EDNS < 512) {
		return nil, fmt.Errorf("dns check: edns %d: want 0 (off) or 512 to 65535", c.EDNS)
	}
	cfg.EDNS = uint16(c.EDNS)
	if c.Rcode != "" {
		rc, err := dns.ParseRcode(c.Rcode)
		if err != nil {
			return nil, fmt.Errorf("dns check: %w", err)
		}
		cfg.ExpectRcode = rc
	}
	if c.Answer != nil {
		cfg.ExpectAnswer = *c.Answer
	}
	if cfg.ExpectRcode != mdns.RcodeSuccess && c.Answer == nil {
		cfg.ExpectAnswer = false
	}
	return &dnsCheck{cfg}, nil
}

func (d *dnsCheck) Name() string {
	proto := "udp"
	if d.cfg.TCP {
		proto = "tcp"
	}
	return fmt.Sprintf("dns %s %s/%s", d.cfg.Name, d.cfg.Server, proto)
}

func (d *dnsCheck) Run(ctx context.Context) error {
	_, err := dns.Probe(ctx, d.cfg)
	return err
}

type tcpCheck struct{ cfg tcp.Config }

func (t *tcpCheck) Name() string { return "tcp " + t.cfg.Address }

func (t *tcpCheck) Run(ctx context.Context) error {
	_, err := tcp.Probe(ctx, t.cfg)
	return err
}

type execCheck struct{ argv []string }

func (e *execCheck) Name() string { return "exec " + e.argv[0] }

// Run runs the command; exit 0 is healthy. The whole process group is
// killed when ctx ends, so a hung check cannot outlive its timeout.
func (e *execCheck) Run(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, e.argv[0], e.argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out := &capped{max: 4096}
	cmd.Stdout, cmd.Stderr = out, out
	// A check that exits but leaves a child holding its output (a daemon
	// started by a status script) is judged by its exit status.
	cmd.WaitDelay = 100 * time.Millisecond
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("exec %s: %w", e.argv[0], ctx.Err())
		}
		msg := strings.TrimSpace(out.b.String())
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if msg != "" {
			return fmt.Errorf("exec %s: %w: %s", e.argv[0], err, strings.ReplaceAll(msg, "\n", " "))
		}
		return fmt.Errorf("exec %s: %w", e.argv[0], err)
	}
	return nil
}

// capped keeps the first max bytes written to it and drops the rest: a
// check that prints without end costs no memory.
type capped struct {
	max int
	b   bytes.Buffer
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
