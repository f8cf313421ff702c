package realserver

import (
	"context"
	"net/netip"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestRemoveAddrsInterfaceGone (adversarial R9: the sweep of a lost
// record's addresses opened the interface a second time, and an interface
// deleted in between made stop exit 1): an interface that no longer exists
// took its addresses with it, so removing them forgets them and is no
// error, on the stop path and the sweep alike.
func TestRemoveAddrsInterfaceGone(t *testing.T) {
	testenv.RequireRoot(t)
	state := &State{Owned: map[string]bool{
		ownKey("ocfkit-gone0", "192.0.2.7"): true,
		ownKey("lo", "192.0.2.8"):           true,
	}}
	removed, err := removeAddrs(context.Background(), state, "ocfkit-gone0", []netip.Addr{netip.MustParseAddr("192.0.2.7")})
	if err != nil || removed != 0 {
		t.Fatalf("removeAddrs on a missing interface: %d, %v; want 0, nil", removed, err)
	}
	if state.Owned[ownKey("ocfkit-gone0", "192.0.2.7")] || !state.Owned[ownKey("lo", "192.0.2.8")] {
		t.Fatalf("want only the gone interface's address forgotten: %v", state.Owned)
	}
}
