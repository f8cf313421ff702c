//go:build !linux

package action

import (
	"context"
	"errors"
	"net/netip"
)

var errOwnedLinux = errors.New("marked addresses and host routes need Linux")

// Up fails: only Linux marks addresses.
func (a *OwnedAddress) Up(context.Context) error { return errOwnedLinux }

// Down has nothing to remove.
func (a *OwnedAddress) Down(context.Context) error { return nil }

// Owned lists nothing.
func Owned(string, uint8) ([]netip.Prefix, error) { return nil, nil }

// RemoveOwned has nothing to remove.
func RemoveOwned(string, []netip.Prefix) error { return nil }

// Up fails: only Linux.
func (r *HostRoute) Up(context.Context) error { return errOwnedLinux }

// Down has nothing to remove.
func (r *HostRoute) Down(context.Context) error { return nil }
