package vipcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/checkstyle"
	"github.com/ocfkit/ocfkit/probe/vip"
)

func TestParseTargets(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rs")
	if err := os.WriteFile(file, []byte("# pool\n10.0.0.1, 10.0.0.2 # two\n\n10.0.0.3=02:00:00:00:00:03\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	crlf := filepath.Join(t.TempDir(), "crlf")
	if err := os.WriteFile(crlf, []byte("10.0.0.1\r\n#10.0.0.9\r\n10.0.0.2 #x\r\n10.0.0.3"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("# padding\n", MaxTargetFile/10)+"10.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   string
		want string // addresses and MACs, or "error"
	}{
		{"@" + crlf, "10.0.0.1 10.0.0.2 10.0.0.3"},
		{"@" + big, "error"},  // above MaxTargetFile
		{"@" + fifo, "error"}, // not a regular file: no wait for a writer
		{"@/dev/zero", "error"},
		{"10.0.0.1", "10.0.0.1"},
		{"10.0.0.1,10.0.0.2", "10.0.0.1 10.0.0.2"},
		{" 10.0.0.1 10.0.0.2,", "10.0.0.1 10.0.0.2"},
		{"10.0.0.1=02:00:00:00:00:01", "10.0.0.1=02:00:00:00:00:01"},
		{"@" + file, "10.0.0.1 10.0.0.2 10.0.0.3=02:00:00:00:00:03"},
		{"", "error"},
		{",", "error"},
		{"rs1.example", "192.0.2.1"},
		{"nowhere.example", "error"},
		{"2001:db8::1", "2001:db8::1"},
		{"fd00::21=02:00:00:00:00:21", "fd00::21=02:00:00:00:00:21"},
		{"fe80::1%eth0", "error"},
		{"0.0.0.0", "error"},
		{"::", "error"},
		{"224.0.0.1", "error"},
		{"ff02::1", "error"},
		{"255.255.255.255", "error"},
		{"80", "error"}, // a port, not a name to look up
		{"10.0.0.1=zz", "error"},
		{"10.0.0.1=00:00:00:00:00:00:00:01", "error"},
		{"@/nonexistent/file", "error"},
	} {
		ts, err := parseTargets(context.Background(), c.in, fakeLookup)
		got := "error"
		if err == nil {
			var parts []string
			for _, tg := range ts {
				p := tg.Addr.String()
				if tg.MAC != nil {
					p += "=" + tg.MAC.String()
				}
				parts = append(parts, p)
			}
			got = strings.Join(parts, " ")
		}
		if got != c.want {
			t.Errorf("ParseTargets(%q) = %q (%v), want %q", c.in, got, err, c.want)
		}
	}
}

func fakeLookup(_ context.Context, host string) (netip.Addr, error) {
	if host == "rs1.example" {
		return netip.MustParseAddr("192.0.2.1"), nil
	}
	return netip.Addr{}, errors.New("no such host")
}

func FuzzParseTargets(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "10.0.0.1,10.0.0.2 10.0.0.3=02:00:00:00:00:03", "# x\n1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.HasPrefix(s, "@") {
			return // a path: not what this fuzzes
		}
		ts, err := parseTargets(context.Background(), s, nil)
		if err == nil && len(ts) == 0 {
			t.Fatal("no error and no target")
		}
		for _, tg := range ts {
			if !tg.Addr.IsValid() || tg.Addr.Zone() != "" || (tg.MAC != nil && len(tg.MAC) != 6) {
				t.Fatalf("bad target %+v", tg)
			}
		}
	})
}

func TestReport(t *testing.T) {
	rs1, rs2 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	spec := Check{VIP: netip.MustParseAddr("10.0.0.80"), Port: 80}
	o := Report{Role: Master, Results: []vip.Result{
		{Target: rs1, Status: vip.Up, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, RTT: 100 * time.Microsecond, SYNs: 1, Resolve: 50 * time.Microsecond},
		{Target: rs2, Status: vip.NoAnswer, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, RTT: time.Second, SYNs: 5},
	}}
	r := report(checkstyle.Keepalived, spec, o)
	if r.Status != checkstyle.Down || r.Summary != "10.0.0.1 up mac=02:00:00:00:00:01 arp=0.050ms rtt=0.100ms syns=1\n"+
		"10.0.0.2 no-answer mac=02:00:00:00:00:02 rtt=1000.000ms syns=5" {
		t.Errorf("keepalived report: %+v", r)
	}
	r = report(checkstyle.Nagios, spec, o)
	if r.Summary != "1 of 2 real servers up through VIP 10.0.0.80:80; down: 10.0.0.2 no-answer" || len(r.Timings) != 1 {
		t.Errorf("nagios report: %+v", r)
	}
	// Thousands down: the Nagios line names the first 20.
	many := Report{Role: Master}
	for i := range 5000 {
		many.Results = append(many.Results, vip.Result{Target: netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 1)}), Status: vip.NoARP})
	}
	r = report(checkstyle.Nagios, spec, many)
	if !strings.HasSuffix(r.Summary, "10.1.0.20 no-arp, and 4980 more") || len(r.Summary) > 1000 {
		t.Errorf("nagios report of 5000 down: %.200s... (%d bytes)", r.Summary, len(r.Summary))
	}
	o.Results = o.Results[:1]
	if r := report(checkstyle.Relayd, spec, o); r.Status != checkstyle.Up {
		t.Errorf("all up: %+v", r)
	}
}

// TestLookupsShareTheDeadline shows that the names in a list are looked up
// at once, under the caller's context: each look-up here answers only once
// all three are under way, and sees the caller's deadline (one after
// another, each with its own 5 s, the first would wait in vain).
func TestLookupsShareTheDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	want, _ := ctx.Deadline()
	var started sync.WaitGroup
	started.Add(3)
	lookup := func(lctx context.Context, host string) (netip.Addr, error) {
		if d, ok := lctx.Deadline(); !ok || d.After(want) {
			return netip.Addr{}, fmt.Errorf("look-up of %s not bounded by the caller's deadline", host)
		}
		if lctx.Err() != nil {
			return netip.Addr{}, lctx.Err()
		}
		started.Done()
		all := make(chan struct{})
		go func() { started.Wait(); close(all) }()
		select {
		case <-all:
			return netip.MustParseAddr("192.0.2." + host[2:3]), nil
		case <-lctx.Done():
			return netip.Addr{}, lctx.Err()
		}
	}
	ts, err := parseTargets(ctx, "rs1.example,rs2.example,rs3.example", lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 || ts[2].Addr.String() != "192.0.2.3" {
		t.Errorf("targets %v", ts)
	}
	cancel()
	if _, err := parseTargets(ctx, "rs4.example", lookup); err == nil {
		t.Error("a look-up after the caller's context ended succeeded")
	}
}
