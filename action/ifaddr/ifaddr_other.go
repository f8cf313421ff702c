//go:build !linux

package ifaddr

import (
	"errors"
	"net/netip"
)

var errLinux = errors.New("marked addresses need Linux")

// Conn is a netlink socket; there is none but on Linux.
type Conn struct{}

// Dial fails: only Linux marks addresses.
func Dial() (*Conn, error) { return nil, errLinux }

// Close does nothing.
func (c *Conn) Close() {}

// Add fails: only Linux marks addresses.
func Add(int, netip.Prefix, uint8, uint32) error { return errLinux }

// Add fails: only Linux marks addresses.
func (c *Conn) Add(int, netip.Prefix, uint8, uint32) error { return errLinux }

// Addr is an address of an interface and the protocol that marks it.
type Addr struct {
	Prefix netip.Prefix
	Proto  uint8
}

// List lists nothing.
func List(int) ([]Addr, error) { return nil, nil }

// Owned lists nothing.
func Owned(string, uint8) ([]netip.Prefix, error) { return nil, nil }

// Remove has nothing to remove.
func Remove(string, []netip.Prefix) error { return nil }
