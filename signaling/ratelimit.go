package signaling

import "time"

// tokenBucket limits how often a session may send messages that fan out to the whole
// meeting (chat, media state), so one member cannot flood everyone else. It is owned by
// the session goroutine; time is passed in.
type tokenBucket struct {
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate, burst float64) tokenBucket {
	return tokenBucket{rate: rate, burst: burst, tokens: burst}
}

func (b *tokenBucket) allow(now time.Time) bool {
	b.refill(now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// until is how long from now until the bucket holds a token again (0 if it does).
func (b *tokenBucket) until(now time.Time) time.Duration {
	b.refill(now)
	if b.tokens >= 1 || b.rate <= 0 {
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

// refill credits what the rate earned since the last reading, up to the burst.
func (b *tokenBucket) refill(now time.Time) {
	if !b.last.IsZero() {
		if el := now.Sub(b.last).Seconds(); el > 0 {
			b.tokens += el * b.rate
			if b.tokens > b.burst {
				b.tokens = b.burst
			}
		}
	}
	if now.After(b.last) {
		b.last = now
	}
}

// resize changes the limits of a budget that scales with something (the key relay's
// scales with the meeting, e2ee.RelayLimits). What the old rate earned is credited
// first. A bigger burst adds its growth to the tokens, as if the bucket had always been
// that big: a newcomer's costs (its identity and key from everyone) arrive with it. A
// smaller burst caps the tokens.
func (b *tokenBucket) resize(now time.Time, rate, burst float64) {
	b.refill(now)
	if burst > b.burst {
		b.tokens += burst - b.burst
	}
	b.rate, b.burst = rate, burst
	if b.tokens > burst {
		b.tokens = burst
	}
}

// giveBack returns a token taken for something that was then not done (a password's
// hash given up in the hasher's line), up to the burst.
func (b *tokenBucket) giveBack(now time.Time) {
	b.refill(now)
	b.tokens = min(b.tokens+1, b.burst)
}
