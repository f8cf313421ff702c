// Package fanout runs one function for many indices on their own
// goroutines and waits for all of them: the probers' "check every target
// at once" and the agents' bounded look-ups.
package fanout

import "sync"

// Each calls f(i) for every i below n, each on its own goroutine, at most
// limit at a time (limit 0 or less: all at once), and returns when every
// call has. A call waiting for its turn is not cancelled: f checks its
// own context.
func Each(n, limit int, f func(i int)) {
	var sem chan struct{}
	if limit > 0 {
		sem = make(chan struct{}, limit)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if sem != nil {
				sem <- struct{}{}
				defer func() { <-sem }()
			}
			f(i)
		}()
	}
	wg.Wait()
}
