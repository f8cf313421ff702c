package leak

import (
	"net"
	"testing"

	"github.com/ocfkit/ocfkit/probe/neigh"
)

// TestLeaking shows that foreign answers beyond the expected ones leak.
func TestLeaking(t *testing.T) {
	a := func(m byte) neigh.Answer { return neigh.Answer{MAC: net.HardwareAddr{2, 0, 0, 0, 0, m}} }
	for _, c := range []struct {
		r    Result
		want bool
	}{
		{Result{}, false},
		{Result{Answers: []neigh.Answer{a(1)}, Foreign: []neigh.Answer{a(1)}}, true},
		{Result{Expected: 1, Answers: []neigh.Answer{a(1)}, Foreign: []neigh.Answer{a(1)}}, false},
		{Result{Expected: 1, Answers: []neigh.Answer{a(1), a(2)}, Foreign: []neigh.Answer{a(1), a(2)}}, true},
	} {
		if got := c.r.Leaking(); got != c.want {
			t.Errorf("%+v: Leaking = %v", c.r, got)
		}
	}
}
