//go:build !linux

package ifaddr

import (
	"errors"
	"net/netip"
)

// Add fails: only Linux marks addresses.
func Add(int, netip.Prefix, uint8, uint32) error {
	return errors.New("marked addresses need Linux")
}

// Owned lists nothing.
func Owned(string, uint8) ([]netip.Prefix, error) { return nil, nil }

// Remove has nothing to remove.
func Remove(string, []netip.Prefix) error { return nil }
