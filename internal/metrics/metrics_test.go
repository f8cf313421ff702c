package metrics

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// TestWrite checks the exact text of gauges, counters and a histogram.
func TestWrite(t *testing.T) {
	h, err := NewHist(0.01, 0.1, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{0.005, 0.01, 0.05, 2, math.NaN()} {
		h.Observe(v)
	}
	var b bytes.Buffer
	err = Write(&b, []Family{
		{Name: "anycast_service_up", Help: "1 while the service's addresses are held.\nSecond line \\ backslash.", Kind: Gauge, Samples: []Sample{
			{Labels: []Label{{"service", "dns"}}, Value: 1},
			{Labels: []Label{{"service", `we"ird\` + "\n"}}, Value: 0},
		}},
		{Name: "anycast_transitions_total", Kind: Counter, Samples: []Sample{{Value: 3}}},
		{Name: "anycast_probe_duration_seconds", Help: "Probe time.", Kind: Histogram, Samples: []Sample{
			{Labels: []Label{{"service", "dns"}}, Hist: h.Snapshot()},
		}},
		{Name: "odd", Kind: Gauge, Samples: []Sample{{Value: math.Inf(1)}, {Value: math.Inf(-1)}, {Value: math.NaN()}, {Value: 1e-7}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `# HELP anycast_service_up 1 while the service's addresses are held.\nSecond line \\ backslash.
# TYPE anycast_service_up gauge
anycast_service_up{service="dns"} 1
anycast_service_up{service="we\"ird\\\n"} 0
# TYPE anycast_transitions_total counter
anycast_transitions_total 3
# HELP anycast_probe_duration_seconds Probe time.
# TYPE anycast_probe_duration_seconds histogram
anycast_probe_duration_seconds_bucket{service="dns",le="0.01"} 2
anycast_probe_duration_seconds_bucket{service="dns",le="0.1"} 3
anycast_probe_duration_seconds_bucket{service="dns",le="1"} 3
anycast_probe_duration_seconds_bucket{service="dns",le="+Inf"} 4
anycast_probe_duration_seconds_sum{service="dns"} 2.065
anycast_probe_duration_seconds_count{service="dns"} 4
# TYPE odd gauge
odd +Inf
odd -Inf
odd NaN
odd 1e-07
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestWriteRefuses checks that bad names write nothing.
func TestWriteRefuses(t *testing.T) {
	for _, f := range []Family{
		{Name: "", Kind: Gauge},
		{Name: "1x", Kind: Gauge},
		{Name: "a-b", Kind: Gauge},
		{Name: "x", Kind: "summary"},
		{Name: "x", Kind: Gauge, Samples: []Sample{{Labels: []Label{{"a:b", "v"}}}}},
		{Name: "x", Kind: Gauge, Samples: []Sample{{Labels: []Label{{"__name__", "v"}}}}},
		{Name: "x", Kind: Histogram, Samples: []Sample{{Value: 1}}},
		{Name: "x", Kind: Gauge, Samples: []Sample{{Hist: &HistogramSnapshot{}}}},
		{Name: "x", Kind: Histogram, Samples: []Sample{{Labels: []Label{{"le", "1"}}, Hist: &HistogramSnapshot{}}}},
	} {
		var b bytes.Buffer
		if err := Write(&b, []Family{f}); err == nil || b.Len() > 0 {
			t.Errorf("%+v: err = %v, wrote %q", f, err, b.String())
		}
	}
	var b bytes.Buffer
	if err := Write(&b, []Family{{Name: "x", Kind: Gauge}, {Name: "x", Kind: Gauge}}); err == nil {
		t.Error("two families of one name were accepted")
	}
	for _, bounds := range [][]float64{{1, 0.5}, {1, 1}, {math.Inf(1)}} {
		if _, err := NewHist(bounds...); err == nil {
			t.Errorf("bounds %v accepted", bounds)
		}
	}
}

// FuzzLabelValue checks that any label value and help text stay on their
// line and come back unescaped.
func FuzzLabelValue(f *testing.F) {
	f.Add("dns", "help")
	f.Add("a\"b\\c\nd", "x\\ny\n")
	f.Fuzz(func(t *testing.T, value, help string) {
		var b bytes.Buffer
		if err := Write(&b, []Family{{Name: "m", Help: help, Kind: Gauge, Samples: []Sample{{Labels: []Label{{"l", value}}, Value: 1}}}}); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		want := 3
		if help == "" {
			want = 2
		}
		if len(lines) != want {
			t.Fatalf("%d lines: %q", len(lines), b.String())
		}
		s := strings.TrimPrefix(lines[want-1], `m{l="`)
		s = strings.TrimSuffix(s, `"} 1`)
		if got := unescape(s); got != value {
			t.Fatalf("label value %q came back as %q", value, got)
		}
	})
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TestHistConcurrent observes from many goroutines.
func TestHistConcurrent(t *testing.T) {
	h, _ := NewHist()
	done := make(chan bool)
	for i := 0; i < 8; i++ {
		go func() {
			for j := 0; j < 1000; j++ {
				h.Observe(0.003)
			}
			done <- true
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
	s := h.Snapshot()
	if s.Count != 8000 || s.Counts[2] != 8000 {
		t.Fatalf("snapshot %+v", s)
	}
}
