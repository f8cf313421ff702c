// Package metrics writes the Prometheus text exposition format (version
// 0.0.4): gauges, counters and histograms with labels, escaped as the
// format asks. It is a few hundred lines instead of
// github.com/prometheus/client_golang, which adds about 2.9 MB to a
// stripped static binary (measured: a net/http server with one handler,
// 5.77 MB by hand, 8.64 MB with client_golang v1.25.0 and promhttp).
//
// It keeps no registry: the program gathers its own state into Families
// when scraped and writes them with Write. Histogram is the one piece of
// state it offers, since bucket counting is easy to get wrong.
package metrics

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ContentType is the Content-Type of the text format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Kind is a metric family's type.
type Kind string

// The kinds written.
const (
	Gauge     Kind = "gauge"
	Counter   Kind = "counter"
	Histogram Kind = "histogram"
)

// Label is one label of a sample.
type Label struct{ Name, Value string }

// Sample is one value of a gauge or counter family, or one histogram of a
// histogram family (Hist set, Value unused).
type Sample struct {
	Labels []Label
	Value  float64
	Hist   *HistogramSnapshot
}

// Family is a metric name with its help, kind and samples.
type Family struct {
	Name, Help string
	Kind       Kind
	Samples    []Sample
}

// Write writes the families in the text format, in the order given,
// after checking every name. Nothing is written when a name is invalid.
func Write(w io.Writer, families []Family) error {
	seen := map[string]bool{}
	for _, f := range families {
		if err := f.validate(); err != nil {
			return err
		}
		if seen[f.Name] {
			return fmt.Errorf("metric %s: two families of that name", f.Name)
		}
		seen[f.Name] = true
	}
	bw := bufio.NewWriter(w)
	for _, f := range families {
		f.write(bw)
	}
	return bw.Flush()
}

func (f *Family) validate() error {
	if !validName(f.Name, true) {
		return fmt.Errorf("metric name %q: want [a-zA-Z_:][a-zA-Z0-9_:]*", f.Name)
	}
	switch f.Kind {
	case Gauge, Counter, Histogram:
	default:
		return fmt.Errorf("metric %s: kind %q: want gauge, counter or histogram", f.Name, f.Kind)
	}
	for _, s := range f.Samples {
		if (f.Kind == Histogram) != (s.Hist != nil) {
			return fmt.Errorf("metric %s: a histogram family needs histograms, others values", f.Name)
		}
		for _, l := range s.Labels {
			if !validName(l.Name, false) || strings.HasPrefix(l.Name, "__") || (f.Kind == Histogram && l.Name == "le") {
				return fmt.Errorf("metric %s: label name %q: want [a-zA-Z_][a-zA-Z0-9_]*, not reserved", f.Name, l.Name)
			}
		}
	}
	return nil
}

func (f *Family) write(w *bufio.Writer) {
	if f.Help != "" {
		fmt.Fprintf(w, "# HELP %s %s\n", f.Name, escapeHelp(f.Help))
	}
	fmt.Fprintf(w, "# TYPE %s %s\n", f.Name, f.Kind)
	for _, s := range f.Samples {
		if s.Hist == nil {
			writeSample(w, f.Name, s.Labels, nil, s.Value)
			continue
		}
		h := s.Hist
		var cum uint64
		for i, b := range h.Bounds {
			cum += h.Counts[i]
			writeSample(w, f.Name+"_bucket", s.Labels, &Label{"le", formatFloat(b)}, float64(cum))
		}
		writeSample(w, f.Name+"_bucket", s.Labels, &Label{"le", "+Inf"}, float64(h.Count))
		writeSample(w, f.Name+"_sum", s.Labels, nil, h.Sum)
		writeSample(w, f.Name+"_count", s.Labels, nil, float64(h.Count))
	}
}

func writeSample(w *bufio.Writer, name string, labels []Label, extra *Label, v float64) {
	w.WriteString(name)
	if len(labels) > 0 || extra != nil {
		w.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				w.WriteByte(',')
			}
			fmt.Fprintf(w, "%s=\"%s\"", l.Name, escapeValue(l.Value))
		}
		if extra != nil {
			if len(labels) > 0 {
				w.WriteByte(',')
			}
			fmt.Fprintf(w, "%s=\"%s\"", extra.Name, extra.Value)
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

// validName checks a metric name (colons allowed) or a label name.
func validName(s string, metric bool) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') || (metric && c == ':')
		if !ok {
			return false
		}
	}
	return true
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeValue(s string) string { return valueEscaper.Replace(s) }

// formatFloat writes a value as the format wants: +Inf, -Inf, NaN, or the
// shortest decimal.
func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Hist counts observations into buckets with fixed upper bounds. Its
// methods may be called concurrently.
type Hist struct {
	mu     sync.Mutex
	bounds []float64
	counts []uint64
	sum    float64
	count  uint64
}

// HistogramSnapshot is a Hist's state at one moment: per-bucket (not
// cumulative) counts for each bound, and the count and sum of all
// observations.
type HistogramSnapshot struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// DefaultBounds suit probe durations in seconds, 1 ms to 10 s.
var DefaultBounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// NewHist returns a histogram with the given upper bounds (sorted, finite,
// distinct), or DefaultBounds when none are given.
func NewHist(bounds ...float64) (*Hist, error) {
	if len(bounds) == 0 {
		bounds = DefaultBounds
	}
	b := append([]float64(nil), bounds...)
	if !sort.Float64sAreSorted(b) {
		return nil, errors.New("histogram bounds not in increasing order")
	}
	for i, v := range b {
		if math.IsInf(v, 0) || math.IsNaN(v) || (i > 0 && v == b[i-1]) {
			return nil, fmt.Errorf("histogram bound %v: want finite and distinct", v)
		}
	}
	return &Hist{bounds: b, counts: make([]uint64, len(b))}, nil
}

// Observe counts v (NaN is ignored).
func (h *Hist) Observe(v float64) {
	if math.IsNaN(v) {
		return
	}
	i := sort.SearchFloat64s(h.bounds, v) // first bound >= v
	h.mu.Lock()
	defer h.mu.Unlock()
	if i < len(h.counts) {
		h.counts[i]++
	}
	h.count++
	h.sum += v
}

// Snapshot returns the current state.
func (h *Hist) Snapshot() *HistogramSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return &HistogramSnapshot{Bounds: h.bounds, Counts: append([]uint64(nil), h.counts...), Count: h.count, Sum: h.sum}
}
