package backoff

import (
	"testing"
	"time"
)

func TestDoubling(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name       string
		first, max time.Duration
		want       []time.Duration
	}{
		{"doubles to the ceiling", 50 * ms, 250 * ms, []time.Duration{50 * ms, 100 * ms, 200 * ms, 250 * ms, 250 * ms}},
		{"socks5 schedule", 200 * ms, 1600 * ms, []time.Duration{200 * ms, 400 * ms, 800 * ms, 1600 * ms, 1600 * ms}},
		{"ceiling below first", 100 * ms, 30 * ms, []time.Duration{100 * ms, 30 * ms, 30 * ms}},
		{"equal", 10 * ms, 10 * ms, []time.Duration{10 * ms, 10 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := New(tc.first, tc.max)
			for i, w := range tc.want {
				if got := b.Next(); got != w {
					t.Fatalf("wait %d = %v, want %v", i, got, w)
				}
			}
		})
	}
}

// TestDoublingNoOverflow checks that a huge ceiling does not make the
// doubling wrap around into negative waits.
func TestDoublingNoOverflow(t *testing.T) {
	b := New(time.Hour, 1<<62)
	for i := 0; i < 100; i++ {
		if w := b.Next(); w <= 0 {
			t.Fatalf("wait %d = %v", i, w)
		}
	}
}
