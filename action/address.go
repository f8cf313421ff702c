package action

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// interfaceExists checks that this host has the interface.
func interfaceExists(name string) error {
	if _, err := net.InterfaceByName(name); err != nil {
		return fmt.Errorf("interface %s: %w", name, err)
	}
	return nil
}

// Address adds addresses to an interface on MASTER and removes them
// otherwise (Linux; on the BSDs carp(4) owns the address and this is a
// no-op). It is critical: removed before the front-end returns.
type Address struct {
	Interface string
	Prefixes  []netip.Prefix
	// Log receives what Down had to repair; nil drops it.
	Log func(format string, a ...any)
}

// logf logs through Log, if set.
func (a *Address) logf(format string, args ...any) {
	if a.Log != nil {
		a.Log(format, args...)
	}
}

// Name describes the action.
func (a *Address) Name() string {
	s := make([]string, len(a.Prefixes))
	for i, p := range a.Prefixes {
		s[i] = p.String()
	}
	return fmt.Sprintf("address %s on %s", strings.Join(s, ","), a.Interface)
}

// CheckHost checks that the interface exists.
func (a *Address) CheckHost() error { return interfaceExists(a.Interface) }

// Critical marks addresses as safety-relevant.
func (a *Address) Critical() bool { return true }
