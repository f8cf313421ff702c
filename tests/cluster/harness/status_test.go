package harness

import (
	"os"
	"testing"

	"github.com/ocfkit/ocfkit/agents/ocf"
)

func TestParseStatus(t *testing.T) {
	b, err := os.ReadFile("testdata/crm_mon.xml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	if !s.DC.Present || s.DC.Name != "node1" || !s.NodeOnline("node1") || s.NodeOnline("node2") {
		t.Errorf("DC/nodes: %+v %+v", s.DC, s.Nodes)
	}
	for _, tc := range []struct{ id, want string }{
		{"a", "Started on node1"}, // in group g
		{"b", "Started on node1"},
		{"cl", "Started on node1"}, // in clone cl-clone
		{"bad", "Stopped"},
		{"nosuch", "absent"},
	} {
		if got := s.Describe(tc.id); got != tc.want {
			t.Errorf("Describe(%s) = %q, want %q", tc.id, got, tc.want)
		}
	}
	if v, ok := s.Attribute("node1", "vipcheck"); !ok || v != "2" {
		t.Errorf("attribute vipcheck = %q %v, want 2", v, ok)
	}
	if fc := s.FailCount("bad", "node1"); fc != "1000000" {
		t.Errorf("FailCount(bad) = %q", fc)
	}
	if fc := s.FailCount("a", "node1"); fc != "" {
		t.Errorf("FailCount(a) = %q", fc)
	}
	f := s.FailuresOf("bad")
	if len(f) != 1 || f[0].Task != "start" || f[0].ExitCode != 1 || f[0].ExitStatus != "error" {
		t.Errorf("FailuresOf(bad) = %+v", f)
	}
	if len(s.FailuresOf("ba")) != 0 {
		t.Error("FailuresOf matches a prefix of the resource ID")
	}
	// "bad_x_start_0" belongs to bad_x, not to bad.
	if f := s.FailuresOf("bad_x"); len(f) != 1 || f[0].Task != "start" || f[0].ExitCode != ocf.ErrInstalled || f[0].ExitStatus != ocf.ErrInstalled.String() {
		t.Errorf("FailuresOf(bad_x) = %+v", f)
	}
}

func FuzzParseStatus(f *testing.F) {
	if b, err := os.ReadFile("testdata/crm_mon.xml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`<pacemaker-result><resources><clone id="c"><group id="g"><resource id="x" role="Started"/></group></clone></resources></pacemaker-result>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatus(b)
		if err != nil {
			return
		}
		s.Describe("x")
		s.FailuresOf("x")
		s.FailCount("x", "node1")
		s.Attribute("node1", "x")
	})
}
