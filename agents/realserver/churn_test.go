package realserver_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestAddressChurn (adv4 F1: with thousands of addresses on the node, an
// address added or removed anywhere while the agent listed them made the
// kernel mark the dump interrupted, and the listing failed: the stop of an
// instance never started here exited 1, which fences the node, and its
// probe said 1 instead of 7): while another program keeps changing an
// address, every stop of an instance not registered exits 0, its probe
// says 7, and an instance starts, is monitored and stops.
func TestAddressChurn(t *testing.T) {
	n := newNode(t, nil)
	var batch strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&batch, "addr add 10.77.%d.%d/32 dev lo\n", i/250, i%250+1)
	}
	file := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(file, []byte(batch.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	n.ns.MustRun(t, "ip", "-batch", file)
	// Another instance, so that the state directory exists.
	code, out := n.agent("y", "start", "addresses=10.55.0.1")
	testenv.ExpectExit(t, "start y", code, 0, out)
	n.ns.Start(t, "sh", "-c", "while :; do ip addr add 10.99.0.1/32 dev lo; ip addr del 10.99.0.1/32 dev lo; done")
	x := []string{"addresses=10.66.0.1"}
	for i := range 20 {
		code, out := n.agent("x", "stop", x...)
		testenv.ExpectExit(t, fmt.Sprintf("stop %d of x, never started", i), code, 0, out)
		code, out = n.agent("x", "monitor", append(x, "OCF_RESKEY_CRM_meta_interval=0")...)
		testenv.ExpectExit(t, fmt.Sprintf("probe %d of x", i), code, 7, out)
	}
	z := []string{"addresses=10.56.0.0/28"}
	code, out = n.agent("z", "start", z...)
	testenv.ExpectExit(t, "start z", code, 0, out, "added 16 of 16")
	for i := range 10 {
		code, out = n.agent("z", "monitor", z...)
		testenv.ExpectExit(t, fmt.Sprintf("monitor %d of z", i), code, 0, out)
	}
	code, out = n.agent("z", "stop", z...)
	testenv.ExpectExit(t, "stop z", code, 0, out)
}
