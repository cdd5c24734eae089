package sfu

import (
	"sync"
	"time"
)

// tokenBucket is a token bucket on a caller's clock, safe for concurrent use; its zero
// value starts full at the first take. The rate and the bound are the caller's, given at
// each take (rtxPacer, feedbackBudget), so that a zero value in a struct is ready to use.
type tokenBucket struct {
	mu sync.Mutex
	b  tokens
}

// take spends n tokens if the bucket, refilled at rate a second up to burst, holds them
// at now.
func (b *tokenBucket) take(now time.Time, n int, rate, burst float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.take(now, n, rate, burst)
}

// full reports whether the bucket, refilled at rate a second up to burst, is full at
// now (or was never taken from): forgetting it changes nothing.
func (b *tokenBucket) full(now time.Time, rate, burst float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.b.primed || b.b.tokens+now.Sub(b.b.last).Seconds()*rate >= burst
}

// tokens is tokenBucket without its lock, for a caller that takes from it under a lock
// of its own (audioCap, under a layer's receive lock: no second lock per packet). Its
// zero value starts full at the first take.
type tokens struct {
	last   time.Time
	tokens float64
	primed bool
}

// take spends n tokens if the bucket, refilled at rate a second up to burst, holds them
// at now.
func (b *tokens) take(now time.Time, n int, rate, burst float64) bool {
	if !b.primed {
		b.primed, b.tokens, b.last = true, burst, now
	}
	if dt := now.Sub(b.last); dt > 0 {
		b.tokens += dt.Seconds() * rate
		b.last = now
	}
	b.tokens = min(b.tokens, burst) // a bound lowered since (rtxPacer) holds at once
	if b.tokens < float64(n) {
		return false
	}
	b.tokens -= float64(n)
	return true
}
