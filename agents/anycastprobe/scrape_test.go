package anycastprobe

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/metrics"
)

// sample is one parsed line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// key is name{a="x",b="y"} with the labels sorted.
func (s sample) key() string {
	names := make([]string, 0, len(s.labels))
	for n := range s.labels {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(s.name)
	if len(names) > 0 {
		b.WriteByte('{')
		for i, n := range names {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=%q", n, s.labels[n])
		}
		b.WriteByte('}')
	}
	return b.String()
}

// parseMetrics reads the text format as scraped: comments skipped, one
// sample a line, label values unescaped (\\ \" \n). It refuses what it
// cannot read instead of guessing.
func parseMetrics(text string) ([]sample, error) {
	var out []sample
	for i, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %w", i+1, line, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseSample(line string) (sample, error) {
	s := sample{labels: map[string]string{}}
	end := strings.IndexAny(line, "{ ")
	if end <= 0 {
		return s, fmt.Errorf("no metric name")
	}
	s.name, line = line[:end], line[end:]
	if line[0] == '{' {
		line = line[1:]
		for {
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			eq := strings.Index(line, "=\"")
			if eq <= 0 {
				return s, fmt.Errorf("bad label")
			}
			name := line[:eq]
			line = line[eq+2:]
			var v strings.Builder
			closed := false
			for len(line) > 0 && !closed {
				c := line[0]
				line = line[1:]
				switch {
				case c == '"':
					closed = true
				case c == '\\' && len(line) > 0:
					switch line[0] {
					case 'n':
						v.WriteByte('\n')
					case '\\', '"':
						v.WriteByte(line[0])
					default:
						return s, fmt.Errorf("bad escape")
					}
					line = line[1:]
				default:
					v.WriteByte(c)
				}
			}
			if !closed {
				return s, fmt.Errorf("unterminated label value")
			}
			if _, dup := s.labels[name]; dup {
				return s, fmt.Errorf("label %s twice", name)
			}
			s.labels[name] = v.String()
			line = strings.TrimPrefix(line, ",")
		}
	}
	f := strings.Fields(line)
	if len(f) < 1 || len(f) > 2 {
		return s, fmt.Errorf("want a value (and a timestamp)")
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return s, err
	}
	s.value = v
	return s, nil
}

// scrapeValues maps sample keys to values.
func scrapeValues(text string) (map[string]float64, error) {
	ss, err := parseMetrics(text)
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for _, s := range ss {
		m[s.key()] = s.value
	}
	return m, nil
}

// TestFamiliesParse: what the daemon writes for a service with a failure
// parses back to its values (labels with quotes, backslashes, newlines).
func TestFamiliesParse(t *testing.T) {
	h, _ := metrics.NewHist()
	h.Observe(0.02)
	fam := []metrics.Family{
		{Name: metricFailStage, Kind: metrics.Gauge, Samples: []metrics.Sample{{Labels: []metrics.Label{
			{Name: "service", Value: "a"}, {Name: "check", Value: "exec \"/x\\y\"\nz"}, {Name: "stage", Value: "reply"}}, Value: 1}}},
		{Name: metricDuration, Kind: metrics.Histogram, Samples: []metrics.Sample{{Labels: []metrics.Label{{Name: "service", Value: "a"}}, Hist: h.Snapshot()}}},
	}
	var b bytes.Buffer
	if err := metrics.Write(&b, fam); err != nil {
		t.Fatal(err)
	}
	m, err := scrapeValues(b.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	want := sample{name: metricFailStage, labels: map[string]string{"service": "a", "check": "exec \"/x\\y\"\nz", "stage": "reply"}}.key()
	if m[want] != 1 || m[metricDuration+`_count{service="a"}`] != 1 || m[metricDuration+`_bucket{le="0.025",service="a"}`] != 1 {
		t.Errorf("parsed %v\nfrom\n%s", m, b.String())
	}
}

// FuzzParseMetrics: no input panics the scrape parser, and what it
// accepts has names and finite-or-special values only.
func FuzzParseMetrics(f *testing.F) {
	f.Add("# HELP a b\n# TYPE a gauge\na{service=\"x\\\"y\"} 1\n")
	f.Add("a 1 123\nb{c=\"\\n\"} +Inf\n")
	f.Add("a{b=\"c\",} NaN\n")
	f.Add("a{b=\"\\")
	f.Fuzz(func(t *testing.T, text string) {
		ss, err := parseMetrics(text)
		if err != nil {
			return
		}
		for _, s := range ss {
			if s.name == "" || strings.ContainsAny(s.name, "{ \n") {
				t.Fatalf("accepted name %q", s.name)
			}
			_ = math.IsNaN(s.value)
		}
	})
}
