package duration

import (
	"errors"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	ms := Range{Unit: time.Millisecond, Min: time.Millisecond, Max: time.Hour}
	sec := Range{Unit: time.Second, Min: 0, Max: 24 * time.Hour}
	cases := []struct {
		r    Range
		in   string
		want time.Duration
		err  error
	}{
		{ms, "500", 500 * time.Millisecond, nil},
		{ms, " 500 ", 500 * time.Millisecond, nil},
		{ms, "500ms", 500 * time.Millisecond, nil},
		{ms, "3s", 3 * time.Second, nil},
		{ms, "1m30s", 90 * time.Second, nil},
		{ms, "1min", time.Minute, nil},
		{ms, "0", 0, ErrRange},
		{ms, "-5", 0, ErrRange},
		{ms, "-5ms", 0, ErrRange},
		{ms, "18446744073710", 0, ErrRange},
		{ms, "9223372036854775807", 0, ErrRange},
		{ms, "99999999999999999999", 0, ErrRange},
		{ms, "9999999999999h", 0, ErrRange},
		{ms, "2h", 0, ErrRange},
		{ms, "", 0, ErrSyntax},
		{ms, "3 s", 0, ErrSyntax},
		{ms, "fast", 0, ErrSyntax},
		{ms, "0x10", 0, ErrSyntax},
		{sec, "10000000000", 0, ErrRange},
		{sec, "0", 0, nil},
		{sec, "30", 30 * time.Second, nil},
	}
	for _, c := range cases {
		got, err := c.r.Parse(c.in)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestErrorNamesUnitAndRange(t *testing.T) {
	_, err := Range{Unit: time.Millisecond, Min: time.Millisecond, Max: time.Hour}.Parse("-1")
	want := `"-1": out of range (want a number of milliseconds or a duration such as 500ms or 3s, from 1ms to 1h0m0s)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"500", "3s", "1min", "-1", "18446744073710", "9999h", ""} {
		f.Add(s)
	}
	r := Range{Unit: time.Millisecond, Min: time.Millisecond, Max: time.Hour}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := r.Parse(s)
		if err == nil && (d < r.Min || d > r.Max) {
			t.Fatalf("Parse(%q) = %v outside the range", s, d)
		}
	})
}
