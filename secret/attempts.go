package secret

import (
	"sync"
	"time"
)

// Attempts throttles guesses at a secret (a meeting password, a moderator secret, a host
// key). Failures are counted per (scope, source address): after a few free tries each
// further failure doubles the wait before the next attempt, and a run of LockoutAfter
// failures locks that address out of that scope for LockoutFor. Each scope (a meeting)
// also has an overall attempt rate, so that many addresses together cannot guess fast;
// the right secret from an address in good standing is never delayed by another
// address's failures. Addresses are held in memory only, and forgotten when idle.
type Attempts struct {
	now func() time.Time

	mu      sync.Mutex
	sources map[sourceKey]*record
	scopes  map[string]*scopeBucket
	lastGC  time.Time
}

type sourceKey struct{ scope, addr string }

type record struct {
	failures    int
	nextAllowed time.Time
	lastSeen    time.Time
}

type scopeBucket struct {
	tokens float64
	last   time.Time
}

// Throttling parameters.
const (
	FreeFailures  = 3
	BaseDelay     = 500 * time.Millisecond
	MaxDelay      = 30 * time.Second
	LockoutAfter  = 20
	LockoutFor    = 15 * time.Minute
	scopeRate     = 5.0  // attempts per second per scope, sustained
	scopeBurst    = 20.0 // and in a burst
	forgetIdleFor = time.Hour
)

// NewAttempts makes a throttle reading time from now.
func NewAttempts(now func() time.Time) *Attempts {
	return &Attempts{now: now, sources: map[sourceKey]*record{}, scopes: map[string]*scopeBucket{}}
}

// Verdict is the answer to Allow.
type Verdict struct {
	OK         bool
	LockedOut  bool          // LockoutAfter failures in a row
	RetryAfter time.Duration // when not OK: how long to wait
}

// Allow asks whether addr may make an attempt in scope now. An allowed attempt must be
// followed by Failed or Succeeded.
func (a *Attempts) Allow(scope, addr string) Verdict {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	a.gcLocked(now)
	if r := a.sources[sourceKey{scope, addr}]; r != nil {
		r.lastSeen = now
		if wait := r.nextAllowed.Sub(now); wait > 0 {
			return Verdict{LockedOut: r.failures >= LockoutAfter, RetryAfter: wait}
		}
	}
	s := a.scopes[scope]
	if s == nil {
		s = &scopeBucket{tokens: scopeBurst, last: now}
		a.scopes[scope] = s
	}
	if el := now.Sub(s.last).Seconds(); el > 0 {
		s.tokens = min(scopeBurst, s.tokens+el*scopeRate)
	}
	s.last = now
	if s.tokens < 1 {
		return Verdict{RetryAfter: time.Second}
	}
	s.tokens--
	return Verdict{OK: true}
}

// Failed records a wrong secret from addr in scope.
func (a *Attempts) Failed(scope, addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	k := sourceKey{scope, addr}
	r := a.sources[k]
	if r == nil {
		r = &record{}
		a.sources[k] = r
	}
	r.failures++
	r.lastSeen = now
	switch {
	case r.failures >= LockoutAfter:
		r.nextAllowed = now.Add(LockoutFor)
	case r.failures > FreeFailures:
		d := BaseDelay << (r.failures - FreeFailures - 1)
		if d > MaxDelay || d <= 0 {
			d = MaxDelay
		}
		r.nextAllowed = now.Add(d)
	}
}

// Succeeded forgets addr's failures in scope.
func (a *Attempts) Succeeded(scope, addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sources, sourceKey{scope, addr})
}

// Forget drops everything about scope (the meeting ended).
func (a *Attempts) Forget(scope string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.scopes, scope)
	for k := range a.sources {
		if k.scope == scope {
			delete(a.sources, k)
		}
	}
}

func (a *Attempts) gcLocked(now time.Time) {
	if now.Sub(a.lastGC) < time.Minute {
		return
	}
	a.lastGC = now
	for k, r := range a.sources {
		if now.Sub(r.lastSeen) > forgetIdleFor && now.After(r.nextAllowed) {
			delete(a.sources, k)
		}
	}
	for k, s := range a.scopes {
		if now.Sub(s.last) > forgetIdleFor {
			delete(a.scopes, k)
		}
	}
}
