//go:build !linux

package announce

import (
	"errors"
	"net/netip"
)

// ErrUnsupported is returned by Dial where carp(4) announces addresses
// itself.
var ErrUnsupported = errors.New("announce is done by carp(4) on this system")

// Dial is not needed outside Linux.
func Dial(ifname string, ips []netip.Addr) (*Announcer, func() error, error) {
	return nil, nil, ErrUnsupported
}
