package dnsfailover

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/ocfkit/ocfkit/action"
	"github.com/ocfkit/ocfkit/probe/l7"
	"github.com/ocfkit/ocfkit/probe/sendexpect"
)

// probe runs member m's check once, bounded by ctx; nil is healthy.
func probe(ctx context.Context, m *Member) error {
	k := m.Check
	addr := m.checkAddr()
	switch k.Type {
	case "send-expect", "tls":
		c := &sendexpect.Check{Send: k.Send, Expect: k.Expect}
		if k.Type == "tls" {
			c.TLS = tlsConfig(k, m)
		}
		if r := c.Dial(ctx, addr); r.Failure != sendexpect.OK {
			return &checkError{fmt.Sprintf("%s %s: %s", k.Type, addr, r), r.Err}
		}
		return nil
	case "http", "https":
		return httpCheck(ctx, k, m, addr)
	case "dns":
		return dnsCheck(ctx, k, addr)
	case "exec":
		return execCheck(ctx, k, m)
	}
	return fmt.Errorf("check type %q unknown", k.Type)
}

// checkError is a failed check: its message, and the error under it
// (nil for a reply that did not match), so that shortage can see it.
type checkError struct {
	msg   string
	cause error
}

func (e *checkError) Error() string { return e.msg }
func (e *checkError) Unwrap() error { return e.cause }

func tlsConfig(k *Check, m *Member) *tls.Config {
	name := k.Host
	if name == "" {
		name = m.Addr.String()
	}
	return &tls.Config{ServerName: name, InsecureSkipVerify: k.Insecure} //nolint:gosec // configured explicitly
}

func httpCheck(ctx context.Context, k *Check, m *Member, addr string) error {
	host := k.Host
	if host == "" {
		host = m.Addr.String()
		if m.Addr.Is6() {
			host = "[" + host + "]"
		}
	}
	h := &l7.HTTP{Host: host, Path: k.Path, Status: k.Status}
	if k.Expect != "" {
		h.Regex = literal(k.Expect)
	}
	if k.Type == "https" {
		h.TLS = tlsConfig(k, m)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%s %s: connect: %w", k.Type, addr, err)
	}
	if r := h.Check(ctx, conn); r.Failure != l7.OK {
		return &checkError{fmt.Sprintf("%s %s: %s", k.Type, addr, r), r.Err}
	}
	return nil
}

// dnsCheck asks the member for the configured name over UDP and wants
// NOERROR with at least one answer. (A local prober: probe/dns, being
// written for anycast-probe, is to replace it.)
func dnsCheck(ctx context.Context, k *Check, addr string) error {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(k.Query), dns.StringToType[strings.ToUpper(k.QType)])
	c := &dns.Client{Net: "udp"}
	r, _, err := c.ExchangeContext(ctx, m, addr)
	if err != nil {
		return fmt.Errorf("dns %s: %w", addr, err)
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		return fmt.Errorf("dns %s: %s with %d answers", addr, dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	if k.Expect != "" {
		for _, rr := range r.Answer {
			if strings.Contains(rr.String(), k.Expect) {
				return nil
			}
		}
		return fmt.Errorf("dns %s: no answer holds %q", addr, k.Expect)
	}
	return nil
}

// execCheck runs the command with MEMBER_ADDRESS and MEMBER_PORT set; exit
// status 0 is healthy.
func execCheck(ctx context.Context, k *Check, m *Member) error {
	if err := action.CheckCommand(k.Command); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	cmd := exec.CommandContext(ctx, k.Command[0], k.Command[1:]...)
	cmd.Env = append(os.Environ(), "MEMBER_ADDRESS="+m.Addr.String(), "MEMBER_PORT="+strconv.Itoa(k.PortNum))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("exec %s: %w: %s", k.Command[0], err, lastLine(out))
	}
	return nil
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// literal is a regular expression matching s as it is.
func literal(s string) *regexp.Regexp { return regexp.MustCompile(regexp.QuoteMeta(s)) }

// hostChecks checks that the commands the configuration names exist and
// are safe to run as root (action.CheckCommand): exec checks, restart
// commands and agents, the notify hook.
func hostChecks(cfg *Config) error {
	var errs []error
	if len(cfg.Notify) > 0 {
		errs = append(errs, wrap("notify", action.CheckCommand(cfg.Notify)))
	}
	for _, r := range cfg.Records {
		for _, m := range r.Members {
			what := r.Name + " " + m.Addr.String()
			if m.Check.Type == "exec" {
				errs = append(errs, wrap(what+": check", action.CheckCommand(m.Check.Command)))
			}
			if m.Restart == nil {
				continue
			}
			a, err := restartAction(m)
			if err != nil {
				errs = append(errs, wrap(what+": restart", err))
			} else if hc, ok := a.(action.HostChecker); ok {
				errs = append(errs, wrap(what+": restart", hc.CheckHost()))
			}
		}
	}
	return errors.Join(errs...)
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
