package sockd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/ocfkit/ocfkit/agents/ocf"
)

// target is an address a check connects to; iface names the interface
// it was found on, "" for an address or host name.
type target struct {
	netip.AddrPort
	iface string
}

// resolveEndpoints turns internal: statements into addresses a check can
// connect to: a wildcard address becomes loopback of its family (the
// server listens there too), an interface name becomes each of its
// addresses (link-local IPv6 aside), and a host name its addresses.
func resolveEndpoints(ctx context.Context, eps []Endpoint) ([]target, error) {
	var out []target
	for _, ep := range eps {
		addrs, err := resolveHost(ctx, ep.Host)
		if err != nil {
			return nil, fmt.Errorf("internal: %s (line %d): %w", ep.Host, ep.Line, err)
		}
		iface := ""
		if _, err := netip.ParseAddr(ep.Host); err != nil {
			if _, err := net.InterfaceByName(ep.Host); err == nil {
				iface = ep.Host
			}
		}
		for _, a := range addrs {
			out = append(out, target{netip.AddrPortFrom(a, uint16(ep.Port)), iface})
		}
	}
	return out, nil
}

// resolveHost returns the usable addresses of an address, interface name or
// host name, as Dante would bind or relay from them. A name look-up ends
// with ctx.
func resolveHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		switch {
		case a.IsUnspecified() && a.Is4():
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		case a.IsUnspecified():
			return []netip.Addr{netip.IPv6Loopback()}, nil
		}
		return []netip.Addr{a.Unmap()}, nil
	}
	if ifi, err := net.InterfaceByName(host); err == nil {
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of interface %s: %w", host, err)
		}
		var out []netip.Addr
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && !p.Addr().IsLinkLocalUnicast() {
				out = append(out, p.Addr().Unmap())
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("interface %s has no usable address", host)
		}
		return out, nil
	}
	names, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("neither an address nor an interface, and not resolvable: %w", err)
	}
	var out []netip.Addr
	for _, n := range names {
		if a, err := netip.ParseAddr(n); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out, nil
}

// joinHostPort formats an address and port for dialling.
func joinHostPort(a netip.Addr, port int) string {
	return net.JoinHostPort(a.String(), strconv.Itoa(port))
}

// resolveError gives a failed resolution of the configuration's addresses
// its code: a configuration error when a name does not exist, else a
// generic error: a name server that does not answer, or the action running
// out of time, is no fault of the configuration, and must not make
// Pacemaker give up on the resource everywhere.
func resolveError(ctx context.Context, err error) error {
	var dnsErr *net.DNSError
	if ctx.Err() == nil && errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return ocf.WithCode(ocf.ErrConfigured, err)
	}
	if ctx.Err() == nil && !errors.As(err, &dnsErr) {
		return ocf.WithCode(ocf.ErrConfigured, err) // an interface without addresses
	}
	return ocf.Errorf(ocf.ErrGeneric, "resolving Dante's addresses failed: %w", err)
}
