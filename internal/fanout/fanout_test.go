package fanout

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestEachCallsEveryIndexOnce shows that every index gets exactly one call
// and that Each returns only after all of them.
func TestEachCallsEveryIndexOnce(t *testing.T) {
	for _, limit := range []int{0, 1, 3, 100} {
		got := make([]int32, 50)
		Each(len(got), limit, func(i int) { atomic.AddInt32(&got[i], 1) })
		for i, n := range got {
			if n != 1 {
				t.Fatalf("limit %d: index %d called %d times", limit, i, n)
			}
		}
	}
	Each(0, 0, func(int) { t.Fatal("called for n = 0") })
}

// TestEachLimit shows that no more than limit calls run at once, and that
// without a limit they all run together (each waits for all the others).
func TestEachLimit(t *testing.T) {
	var running, most int32
	Each(20, 3, func(int) {
		n := atomic.AddInt32(&running, 1)
		for {
			m := atomic.LoadInt32(&most)
			if n <= m || atomic.CompareAndSwapInt32(&most, m, n) {
				break
			}
		}
		runtime.Gosched() // give the others a chance to overlap
		atomic.AddInt32(&running, -1)
	})
	if most > 3 {
		t.Errorf("%d calls at once, limit 3", most)
	}

	var all sync.WaitGroup
	all.Add(10)
	done := make(chan struct{})
	go func() {
		Each(10, 0, func(int) { all.Done(); all.Wait() })
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a hang guard, not a speed assertion
		t.Fatal("unlimited calls did not all run at once")
	}
}
