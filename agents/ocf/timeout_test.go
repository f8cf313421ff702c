package ocf

import (
	"errors"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/duration"
)

// TestOperationTimeoutRange checks that an overflowing or absurd
// OCF_RESKEY_CRM_meta_timeout is an argument error, never a wrapped or
// huge deadline, and that Pacemaker's values still pass.
func TestOperationTimeoutRange(t *testing.T) {
	meta := testMeta(t)
	for v, want := range map[string]time.Duration{"1": time.Millisecond, "20000": 20 * time.Second, "86400000": 24 * time.Hour, "90s": 90 * time.Second} {
		got, err := operationTimeout(meta, "start", envOf(map[string]string{"OCF_RESKEY_CRM_meta_timeout": v}))
		if err != nil || got != want {
			t.Errorf("%s: %v, %v; want %v", v, got, err, want)
		}
	}
	for _, bad := range []string{"9223372036854775807", "9223372036854775808", "86400001", "10000000000000", "-1", "1e9"} {
		_, err := operationTimeout(meta, "start", envOf(map[string]string{"OCF_RESKEY_CRM_meta_timeout": bad}))
		if CodeOf(err) != ErrArgs || (bad != "1e9" && !errors.Is(err, duration.ErrRange)) {
			t.Errorf("timeout %q: %v, want an ErrArgs range error", bad, err)
		}
	}
}
