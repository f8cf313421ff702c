package vip

import (
	"context"
	"testing"
	"time"
)

// TestRetry shows that a check tries again only while its context lasts
// (not even in the moment its deadline has passed but the context does
// not say so yet) and at most maxAttempts times.
func TestRetry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !retry(ctx, 1, maxAttempts) {
		t.Error("no retry with time left")
	}
	if retry(ctx, maxAttempts, maxAttempts) {
		t.Error("retried past the attempts")
	}
	if retry(ctx, 1, 1) {
		t.Error("a Direct check (one attempt) retried")
	}
	past, cancelPast := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelPast()
	if retry(past, 1, maxAttempts) {
		t.Error("retried after the deadline")
	}
}
