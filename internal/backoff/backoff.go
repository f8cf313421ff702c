// Package backoff is the retransmission schedule the probers share: wait
// First before the first repeat, then twice the last wait each time, up to
// Max (as TCP's SYN and ARP retries do).
package backoff

import "time"

// Doubling is one retransmission schedule. Its zero value waits nothing;
// make one with New.
type Doubling struct {
	wait, max time.Duration
}

// New returns a schedule whose first wait is first and whose waits double
// up to max. A max below first caps every wait after the first at max.
func New(first, max time.Duration) Doubling {
	return Doubling{wait: first, max: max}
}

// Next returns the wait before the next retransmission and doubles the one
// after it, up to the schedule's ceiling.
func (d *Doubling) Next() time.Duration {
	w := d.wait
	if d.wait > d.max/2 { // doubling would pass the ceiling (or overflow)
		d.wait = d.max
	} else {
		d.wait *= 2
	}
	return w
}
