// Package duration is the one syntax every ocfkit program accepts for a
// duration: a plain whole number in the unit of the tool or parameter it
// stands in for (milliseconds for check_tcp_raw's -t, seconds for an OCF
// check_timeout), or a Go duration with its unit ("500ms", "3s", "1m30s").
// Pacemaker's "min" suffix is accepted too. Every value is checked against
// a range, and errors name the unit and the range, so that an overflowing
// or negative value can never pass as zero or as a huge wait.
package duration

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// wellFormed matches what time.ParseDuration accepts apart from range.
// It is compiled on first use: most runs never need it.
var wellFormed = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))*$`)
})

// ErrSyntax is wrapped by errors for values that are not durations at all.
var ErrSyntax = errors.New("not a duration")

// ErrRange is wrapped by errors for durations outside the accepted range.
var ErrRange = errors.New("out of range")

// Range is the accepted span of a duration, both ends included, and the
// unit of a plain number.
type Range struct {
	Unit     time.Duration
	Min, Max time.Duration
}

// Parse reads s in r's syntax and checks it against r.
func (r Range) Parse(s string) (time.Duration, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return 0, fmt.Errorf("empty value: %w (want %s)", ErrSyntax, r)
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || (r.Unit > 0 && n > int64(r.Max/r.Unit)+1) {
			return 0, fmt.Errorf("%q: %w (want %s)", s, ErrRange, r)
		}
		d = time.Duration(n) * r.Unit
	} else if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return 0, fmt.Errorf("%q: %w (want %s)", s, ErrRange, r)
	} else {
		g := v
		if strings.HasSuffix(g, "min") {
			g = strings.TrimSuffix(g, "in")
		}
		pd, perr := time.ParseDuration(g)
		if perr != nil {
			// time.ParseDuration says "invalid" for an overflow too: a
			// value that has the form of a duration is out of range.
			if wellFormed().MatchString(g) {
				return 0, fmt.Errorf("%q: %w (want %s)", s, ErrRange, r)
			}
			return 0, fmt.Errorf("%q: %w (want %s)", s, ErrSyntax, r)
		}
		d = pd
	}
	if d < r.Min || d > r.Max {
		return 0, fmt.Errorf("%q: %w (want %s)", s, ErrRange, r)
	}
	return d, nil
}

// String describes the syntax and the range, as used in error messages and
// help texts: "a number of milliseconds or a duration such as 500ms, from
// 1ms to 1h".
func (r Range) String() string {
	return fmt.Sprintf("a number of %s or a duration such as 500ms or 3s, from %s to %s",
		unitName(r.Unit), Format(r.Min), Format(r.Max))
}

// Format prints a duration the one way ocfkit prints durations in output:
// Go's notation, rounded to what a person reads (µs below 1 ms, 10 µs below
// 1 s, ms above).
func Format(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func unitName(u time.Duration) string {
	switch u {
	case time.Millisecond:
		return "milliseconds"
	case time.Second:
		return "seconds"
	case time.Minute:
		return "minutes"
	}
	return "units of " + u.String()
}
