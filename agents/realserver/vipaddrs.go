package realserver

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// MaxAddresses bounds how many addresses one instance configures (a file
// of /24s expands 256 times): beyond it the list is refused. The kernel
// adds and removes an IPv4 address in time linear in the addresses on the
// interface, so start and stop grow with the square of the count: 16,384
// take about 5 s to add and 3 s to remove on a loaded 2-core machine,
// well within the default 20 s timeouts; 32,768 took 21 s to add.
const MaxAddresses = 16384

// ErrSyntax is wrapped by every error for a line that is not an address
// or subnet the agent accepts.
var ErrSyntax = errors.New("bad vipaddrs entry")

// LineError is a refused line of a vipaddrs file.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Parse reads a vipaddrs file: one IPv4 or IPv6 address or subnet per
// line, # comments and blank lines. IPv4 subnets /24 to /32 and IPv6
// subnets /120 to /128 are expanded to every address they hold. Anything
// else is refused with its line number. The result is in order of first
// appearance, duplicates merged.
func Parse(data []byte) ([]netip.Addr, error) {
	var l addrList
	for i, line := range strings.Split(string(data), "\n") {
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" {
			continue
		}
		if err := l.addEntry(line); err != nil {
			return nil, &LineError{Line: i + 1, Err: err}
		}
	}
	return l.addrs, nil
}

// ParseList reads the addresses parameter: the entries of a vipaddrs
// file separated by commas or white space.
func ParseList(s string) ([]netip.Addr, error) {
	var l addrList
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if err := l.addEntry(f); err != nil {
			return nil, err
		}
	}
	return l.addrs, nil
}

// addrList collects addresses without duplicates.
type addrList struct {
	addrs []netip.Addr
	seen  map[netip.Addr]bool
}

// Merge appends the addresses of more not yet in the list.
func (l *addrList) merge(more []netip.Addr) error {
	for _, a := range more {
		if err := l.add(a); err != nil {
			return err
		}
	}
	return nil
}

func (l *addrList) add(a netip.Addr) error {
	if l.seen == nil {
		l.seen = map[netip.Addr]bool{}
	}
	if l.seen[a] {
		return nil
	}
	if len(l.addrs) >= MaxAddresses {
		return fmt.Errorf("%w: more than %d addresses", ErrSyntax, MaxAddresses)
	}
	l.seen[a] = true
	l.addrs = append(l.addrs, a)
	return nil
}

// quote quotes an entry for a message, cut to 64 bytes: the line of a
// file that is not a vipaddrs file belongs in no log whole.
func quote(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "..."
	}
	return strconv.Quote(s)
}

// addEntry adds one address or subnet, expanded.
func (l *addrList) addEntry(s string) error {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("%w: %s is not an IP address or subnet", ErrSyntax, quote(s))
		}
		if err := checkVIP(a, s); err != nil {
			return err
		}
		return l.add(a)
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("%w: %s is not an IP address or subnet", ErrSyntax, quote(s))
	}
	if err := checkVIP(p.Addr(), s); err != nil {
		return err
	}
	min := 24
	if p.Addr().Is6() {
		min = 120
	}
	if p.Bits() < min {
		return fmt.Errorf("%w: %s: subnets are /%d or longer (%d addresses at most)", ErrSyntax, quote(s), min, 1<<(p.Addr().BitLen()-min))
	}
	if p.Masked() != p {
		return fmt.Errorf("%w: %s has host bits set (the subnet is %v)", ErrSyntax, quote(s), p.Masked())
	}
	// Every address of the subnet must pass as a single one would:
	// 255.255.255.0/24 holds the broadcast address.
	n := 1 << (p.Addr().BitLen() - p.Bits())
	for a, i := p.Addr(), 0; i < n; a, i = a.Next(), i+1 {
		if err := checkVIP(a, s); err != nil {
			return fmt.Errorf("%w (holds %v)", err, a)
		}
	}
	for a, i := p.Addr(), 0; i < n; a, i = a.Next(), i+1 {
		if err := l.add(a); err != nil {
			return err
		}
	}
	return nil
}

// checkVIP refuses addresses that cannot be a VIP: zones, IPv4-mapped
// IPv6, unspecified, loopback, multicast, link-local, broadcast, "this
// network" (0.0.0.0/8) and the reserved class E (240.0.0.0/4).
func checkVIP(a netip.Addr, s string) error {
	var why string
	switch {
	case a.Zone() != "":
		why = "has a zone"
	case a.Is4In6():
		why = "is IPv4-mapped IPv6 (write the IPv4 address)"
	case a.IsUnspecified():
		why = "is unspecified"
	case a.IsLoopback():
		why = "is a loopback address"
	case a.IsMulticast():
		why = "is multicast"
	case a.IsLinkLocalUnicast():
		why = "is link-local"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		why = "is the broadcast address"
	case a.Is4() && a.As4()[0] == 0:
		why = "is in 0.0.0.0/8 (this network)"
	case a.Is4() && a.As4()[0] >= 240:
		why = "is in 240.0.0.0/4 (reserved)"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s %s", ErrSyntax, quote(s), why)
}
