package action

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/ocfkit/ocfkit/action/announce"
)

// Announce sends gratuitous ARP and unsolicited neighbour advertisements on
// MASTER. Down does nothing. Where carp(4) announces by itself (BSD), Up does
// nothing either.
type Announce struct {
	Interface string
	IPs       []netip.Addr
	Count     int
	Interval  time.Duration
}

// Name describes the action.
func (a *Announce) Name() string {
	return fmt.Sprintf("announce %v on %s (%d×, %v apart)", a.IPs, a.Interface, a.Count, a.Interval)
}

// Up sends the announcements.
func (a *Announce) Up(ctx context.Context) error {
	return a.UpEach(ctx, nil)
}

// UpEach sends the announcements, each round through step (nil: directly),
// which refuses a round once a newer event was recorded: this node must
// not tell the link it holds an address after losing it. The engine also
// ends ctx then, so the wait for the next round ends at once.
func (a *Announce) UpEach(ctx context.Context, step func(func() error) error) error {
	an, closeFn, err := announce.Dial(a.Interface, a.IPs)
	if err != nil {
		if errors.Is(err, errUnsupportedAnnounce) {
			return nil
		}
		return err
	}
	defer closeFn()
	an.Guard = step
	return an.Announce(ctx, a.IPs, a.Count, a.Interval)
}

// Down does nothing: there is nothing to take back.
func (a *Announce) Down(ctx context.Context) error { return nil }

// CheckHost checks that the interface exists.
func (a *Announce) CheckHost() error { return interfaceExists(a.Interface) }
