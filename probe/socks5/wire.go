package socks5

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
)

// Wire constants of RFC 1928 (SOCKS5) and RFC 1929 (username/password).
const (
	socksVersion = 0x05
	authVersion  = 0x01

	methodNone         = 0x00
	methodUserPass     = 0x02
	methodNoAcceptable = 0xFF

	atypIPv4   = 0x01
	atypDomain = 0x03
	atypIPv6   = 0x04
)

// command is the CMD field of a request (RFC 1928 §4).
type command byte

// The commands the client sends.
const (
	cmdConnect      command = 0x01
	cmdUDPAssociate command = 0x03
)

// ErrNoAcceptableMethod means the server accepted none of the offered
// methods (it chose method FF).
var ErrNoAcceptableMethod = errors.New("no acceptable authentication method (server chose method FF)")

// ErrAuthRejected means the server refused the username and password
// (RFC 1929 status other than 0).
var ErrAuthRejected = errors.New("username/password rejected")

// errTruncated means a message ended before its last field.
var errTruncated = errors.New("message truncated")

// ReplyError is a non-zero REP field in a server's reply (RFC 1928 §6).
type ReplyError struct {
	Code byte
}

var replyText = [...]string{
	1: "general SOCKS server failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

// Error returns the RFC's text for the code, e.g. "connection not allowed by
// ruleset (REP 2)", or "unassigned" for codes the RFC does not define.
func (e *ReplyError) Error() string {
	text := "unassigned"
	if e.Code != 0 && int(e.Code) < len(replyText) {
		text = replyText[e.Code]
	}
	return fmt.Sprintf("%s (REP %d)", text, e.Code)
}

// addr is a SOCKS address: an IP address (ATYP 01 or 04) or a domain name
// (ATYP 03), and a port.
type addr struct {
	IP   netip.Addr // valid for IP addresses
	Name string     // the domain name when IP is not valid
	Port uint16
}

// String returns the address in host:port form.
func (a addr) String() string {
	host := a.Name
	if a.IP.IsValid() {
		host = a.IP.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(int(a.Port)))
}

// parseHostPort reads "host:port". An IPv4 or IPv6 literal becomes an IP
// address; anything else is kept as a domain name, never resolved here.
func parseHostPort(s string) (addr, error) {
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		return addr{}, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return addr{}, fmt.Errorf("port %q in %q: not a number from 0 to 65535", portText, s)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return addr{}, fmt.Errorf("address %q: SOCKS cannot carry an IPv6 zone", s)
		}
		return addr{IP: ip.Unmap(), Port: uint16(port)}, nil
	}
	if host == "" || len(host) > 255 {
		return addr{}, fmt.Errorf("host in %q: a domain name must have 1 to 255 bytes", s)
	}
	return addr{Name: host, Port: uint16(port)}, nil
}

// appendAddr appends ATYP DST.ADDR DST.PORT. The address must come from
// parseHostPort or parseAddr, which keep domain names within 1..255 bytes.
func appendAddr(b []byte, a addr) []byte {
	switch {
	case a.IP.Is4():
		ip := a.IP.As4()
		b = append(append(b, atypIPv4), ip[:]...)
	case a.IP.Is6():
		ip := a.IP.As16()
		b = append(append(b, atypIPv6), ip[:]...)
	default:
		b = append(append(b, atypDomain, byte(len(a.Name))), a.Name...)
	}
	return binary.BigEndian.AppendUint16(b, a.Port)
}

// addrLen returns the length of the ATYP ADDR PORT field at the start of b,
// which needs its first byte (two for a domain name) to tell.
func addrLen(b []byte) (int, error) {
	if len(b) < 1 {
		return 0, errTruncated
	}
	switch b[0] {
	case atypIPv4:
		return 1 + 4 + 2, nil
	case atypIPv6:
		return 1 + 16 + 2, nil
	case atypDomain:
		if len(b) < 2 {
			return 0, errTruncated
		}
		return 1 + 1 + int(b[1]) + 2, nil
	}
	return 0, fmt.Errorf("unknown address type %d", b[0])
}

// parseAddr reads the ATYP ADDR PORT field at the start of b and returns it
// with its length in bytes.
func parseAddr(b []byte) (addr, int, error) {
	n, err := addrLen(b)
	if err != nil {
		return addr{}, 0, err
	}
	if len(b) < n {
		return addr{}, 0, errTruncated
	}
	a := addr{Port: binary.BigEndian.Uint16(b[n-2 : n])}
	switch b[0] {
	case atypIPv4:
		a.IP = netip.AddrFrom4([4]byte(b[1:5]))
	case atypIPv6:
		a.IP = netip.AddrFrom16([16]byte(b[1:17]))
	default:
		if b[1] == 0 {
			return addr{}, 0, errors.New("empty domain name")
		}
		a.Name = string(b[2 : n-2])
	}
	return a, n, nil
}

// appendGreeting appends VER NMETHODS METHODS.
func appendGreeting(b []byte, methods []byte) []byte {
	return append(append(b, socksVersion, byte(len(methods))), methods...)
}

// parseMethodReply reads the server's VER METHOD and checks that the method
// is one of those offered.
func parseMethodReply(b [2]byte, offered []byte) (byte, error) {
	if b[0] != socksVersion {
		return 0, fmt.Errorf("version %d in method selection, want 5", b[0])
	}
	if b[1] == methodNoAcceptable {
		return 0, ErrNoAcceptableMethod
	}
	for _, m := range offered {
		if m == b[1] {
			return m, nil
		}
	}
	return 0, fmt.Errorf("server chose method %#02x, which was not offered", b[1])
}

// appendAuth appends the RFC 1929 request VER ULEN UNAME PLEN PASSWD.
func appendAuth(b []byte, user, password string) ([]byte, error) {
	if len(user) < 1 || len(user) > 255 || len(password) > 255 {
		return nil, errors.New("username must have 1 to 255 bytes and password at most 255")
	}
	b = append(append(b, authVersion, byte(len(user))), user...)
	return append(append(b, byte(len(password))), password...), nil
}

// parseAuthReply reads the RFC 1929 reply VER STATUS. Some servers put the
// SOCKS version (5) in VER, so both 1 and 5 are accepted.
func parseAuthReply(b [2]byte) error {
	if b[0] != authVersion && b[0] != socksVersion {
		return fmt.Errorf("version %d in authentication reply, want 1", b[0])
	}
	if b[1] != 0 {
		return fmt.Errorf("%w (status %d)", ErrAuthRejected, b[1])
	}
	return nil
}

// appendRequest appends VER CMD RSV ATYP DST.ADDR DST.PORT.
func appendRequest(b []byte, cmd command, dst addr) []byte {
	return appendAddr(append(b, socksVersion, byte(cmd), 0), dst)
}

// reply is a server's answer to a request.
type reply struct {
	Code  byte // REP: 0 succeeded, else see ReplyError
	Bound addr // BND.ADDR and BND.PORT
}

// parseReply reads VER REP RSV ATYP BND.ADDR BND.PORT at the start of b and
// returns it with its length in bytes.
func parseReply(b []byte) (reply, int, error) {
	if len(b) < 4 {
		return reply{}, 0, errTruncated
	}
	if b[0] != socksVersion {
		return reply{}, 0, fmt.Errorf("version %d in reply, want 5", b[0])
	}
	a, n, err := parseAddr(b[3:])
	if err != nil {
		return reply{}, 0, err
	}
	return reply{Code: b[1], Bound: a}, 3 + n, nil
}

// readReply reads exactly one reply from r, so that relayed data after it
// stays unread.
func readReply(r io.Reader) (reply, error) {
	var buf [3 + 1 + 1 + 255 + 2]byte
	// Five bytes are in every reply: a domain name has at least its length
	// byte and a port, an IP address at least four bytes.
	n, err := io.ReadFull(r, buf[:5])
	if err != nil {
		// A refusal cut short still says why the server refused.
		if n >= 2 && buf[0] == socksVersion && buf[1] != 0 {
			return reply{Code: buf[1]}, nil
		}
		return reply{}, fmt.Errorf("reading reply (%d bytes): %w", n, err)
	}
	if buf[0] != socksVersion {
		return reply{}, fmt.Errorf("version %d in reply, want 5", buf[0])
	}
	alen, err := addrLen(buf[3:5])
	if err != nil {
		return reply{}, err
	}
	if m, err := io.ReadFull(r, buf[5:3+alen]); err != nil {
		if buf[1] != 0 {
			return reply{Code: buf[1]}, nil
		}
		return reply{}, fmt.Errorf("reading reply (%d of %d bytes): %w", 5+m, 3+alen, err)
	}
	rep, _, err := parseReply(buf[:3+alen])
	return rep, err
}

// udpHeader is the header of a relayed UDP datagram (RFC 1928 §7).
type udpHeader struct {
	Frag byte // fragment number; 0 is a whole datagram
	Addr addr // DST.ADDR and DST.PORT: the target, or the source of a reply
}

// appendUDPHeader appends RSV(2)=0 FRAG=0 ATYP DST.ADDR DST.PORT.
func appendUDPHeader(b []byte, dst addr) []byte {
	return appendAddr(append(b, 0, 0, 0), dst)
}

// parseUDPHeader reads a relayed datagram and returns its header and data.
// The reserved bytes are not checked.
func parseUDPHeader(b []byte) (udpHeader, []byte, error) {
	if len(b) < 4 {
		return udpHeader{}, nil, errTruncated
	}
	a, n, err := parseAddr(b[3:])
	if err != nil {
		return udpHeader{}, nil, err
	}
	return udpHeader{Frag: b[2], Addr: a}, b[3+n:], nil
}
