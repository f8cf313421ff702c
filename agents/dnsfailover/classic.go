package dnsfailover

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/miekg/dns"
)

// maxClassic bounds a classic configuration file.
const maxClassic = 1 << 20

// ClassicOptions adds to a classic failover-monitor configuration what it
// lacks.
type ClassicOptions struct {
	TSIGKey string // key file path for tsig_key
	Zone    string // zone of every name; "" takes the name without its first label
	InitDir string // where the start/stop scripts live (/etc/init.d)
}

// classicCheck is one check_serverN line.
type classicCheck struct {
	addr                             netip.Addr
	name, service, script, send, exp string
	line                             int
}

// ImportClassic converts a classic failover-monitor.config (bind8_dns_serverN
// and check_serverN lines) into dns-failover's TOML.
func ImportClassic(data []byte, o ClassicOptions) ([]byte, error) {
	if len(data) > maxClassic {
		return nil, fmt.Errorf("file larger than %d bytes", maxClassic)
	}
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return nil, fmt.Errorf("not UTF-8 text")
	}
	var servers []string
	var checks []classicCheck
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxClassic)
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want KEY = VALUE", n)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case strings.HasPrefix(k, "bind8_dns_server") || strings.HasPrefix(k, "dns_server"):
			a, err := netip.ParseAddr(v)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: %q is not an IP address", n, k, v)
			}
			servers = append(servers, a.String())
		case strings.HasPrefix(k, "check_server"):
			f := strings.SplitN(v, "|", 6)
			if len(f) != 6 {
				return nil, fmt.Errorf("line %d: %s: want ADDRESS|NAME|SERVICE|SCRIPT|REQUEST|EXPECT", n, k)
			}
			for i := range f {
				f[i] = strings.TrimSpace(f[i])
			}
			a, err := netip.ParseAddr(f[0])
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("line %d: %s: %q is not an IP address", n, k, f[0])
			}
			if !validName(dns.Fqdn(f[1])) {
				return nil, fmt.Errorf("line %d: %s: %q is not a domain name", n, k, f[1])
			}
			if _, err := LookupPort(f[2]); err != nil {
				return nil, fmt.Errorf("line %d: %s: %w", n, k, err)
			}
			if strings.ContainsAny(f[3], "/ ") && !strings.HasPrefix(f[3], "/") {
				return nil, fmt.Errorf("line %d: %s: script %q: want a name in %s or an absolute path", n, k, f[3], o.initDir())
			}
			checks = append(checks, classicCheck{addr: a.Unmap(), name: dns.Fqdn(strings.ToLower(f[1])), service: f[2],
				script: f[3], send: f[4], exp: f[5], line: n})
		default:
			return nil, fmt.Errorf("line %d: unknown key %q", n, k)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("no bind8_dns_serverN line")
	}
	if len(checks) == 0 {
		return nil, fmt.Errorf("no check_serverN line")
	}
	return o.render(servers, checks), nil
}

func (o ClassicOptions) initDir() string {
	if o.InitDir == "" {
		return "/etc/init.d"
	}
	return o.InitDir
}

func (o ClassicOptions) render(servers []string, checks []classicCheck) []byte {
	var b bytes.Buffer
	b.WriteString("# Converted from a failover-monitor configuration by dns-failover import.\n")
	fmt.Fprintf(&b, "primaries = [%s]\n", quoteList(servers))
	if o.TSIGKey != "" {
		fmt.Fprintf(&b, "tsig_key = %s\n", quote(o.TSIGKey))
	} else {
		b.WriteString("# tsig_key = \"/etc/dns-failover/ddns.key\"   # tsig-keygen NAME > FILE; unsigned updates otherwise\n")
	}
	b.WriteString("interval = \"10s\"\ntimeout = \"5s\"\nrise = 2\nfall = 2\n")
	// Records in order of first mention, each with its type's members.
	type rkey struct {
		name string
		six  bool
	}
	var order []rkey
	groups := map[rkey][]classicCheck{}
	for _, c := range checks {
		k := rkey{c.name, c.addr.Is6()}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	for _, k := range order {
		zone := o.Zone
		if zone == "" {
			if labels := dns.SplitDomainName(k.name); len(labels) > 2 {
				zone = strings.Join(labels[1:], ".") + "."
			} else {
				zone = k.name
			}
		}
		fmt.Fprintf(&b, "\n[[record]]\nname = %s\nzone = %s\n", quote(k.name), quote(dns.Fqdn(zone)))
		for _, c := range groups[k] {
			fmt.Fprintf(&b, "\n  [[record.member]]\n  address = %s  # line %d\n", quote(c.addr.String()), c.line)
			fmt.Fprintf(&b, "  check = { type = \"send-expect\", port = %s, send = %s, expect = %s }\n",
				quote(c.service), quote(c.send), quote(c.exp))
			if c.script != "" {
				script := c.script
				if !strings.HasPrefix(script, "/") {
					script = o.initDir() + "/" + script
				}
				fmt.Fprintf(&b, "  restart = { type = \"exec\", command = [%s, \"restart\"] }\n", quote(script))
			}
		}
	}
	return b.Bytes()
}

// quote writes s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = quote(s)
	}
	return strings.Join(q, ", ")
}
