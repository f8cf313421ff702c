package action

import (
	"fmt"
	"net/netip"
	"strings"
)

// Address adds addresses to an interface on MASTER and removes them
// otherwise (Linux; on the BSDs carp(4) owns the address and this is a
// no-op). It is critical: removed before the front-end returns.
type Address struct {
	Interface string
	Prefixes  []netip.Prefix
}

// Name describes the action.
func (a *Address) Name() string {
	s := make([]string, len(a.Prefixes))
	for i, p := range a.Prefixes {
		s[i] = p.String()
	}
	return fmt.Sprintf("address %s on %s", strings.Join(s, ","), a.Interface)
}

// Critical marks addresses as safety-relevant.
func (a *Address) Critical() bool { return true }
