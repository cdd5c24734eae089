package secret

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Attempts throttles guesses at secrets (meeting passwords, moderator secrets, host
// keys) per source address group (AddrGroup: an IPv4 address, an IPv6 /64), with one
// budget per group across every meeting and every kind of secret, and an IPv6 group's
// also in its site, the /48 around it (sites.go). There is no shared rate: nothing one
// group does can delay or refuse another group's guess (but through their site's
// budget), so the right secret from an address in good standing is checked at once.
//
// One group checks one guess at a time: concurrent guesses queue behind each other in
// arrival order (Begin) and each re-reads the group's wait once the previous verdict is
// in, so opening many connections does not skip the waits. After FreeFailures wrong
// guesses each further one doubles the wait before the next (BaseDelay up to MaxDelay),
// and LockoutAfter wrong guesses lock the group out for LockoutFor, again after every
// further wrong guess. A right secret forgives the failures that group made against
// that same secret (scope) only, so knowing one meeting's password does not buy fresh
// guesses at others.
//
// What that allows: the first 20 wrong guesses take 331.5 s of waits (3 free, then
// 0.5+1+2+4+8+16 s and ten times 30 s), then one guess per 15 minutes: at most 23 in
// the first hour and 4 an hour after that (about 100 a day) per address group. An
// attacker with N groups gets N times that and nothing more.
//
// Groups are held in memory only, and only for their wrong guesses: a group whose
// guess was right (or could not be checked) and that has no wrong guesses left is
// forgotten at once, one with wrong guesses within ForgetAfter after its last wrong
// guess (Sweep runs on a timer, so a quiet server forgets too), and never more than MaxRecords of
// them (a few hundred bytes each), so that a flood of addresses cannot grow memory
// without bound. When the table is full, the idle groups with the fewest
// wrong guesses go first, the oldest among equals: a flood of fresh groups (one wrong
// guess each costs an attacker nothing but an address) pushes out only groups with as
// few failures, never a group locked out or waiting with more, which would otherwise
// have come back with a fresh budget.
type Attempts struct {
	now func() time.Time

	mu      sync.Mutex
	records map[string]*record
	lastGC  time.Time
}

// Throttling parameters.
const (
	FreeFailures = 3
	BaseDelay    = 500 * time.Millisecond
	MaxDelay     = 30 * time.Second
	LockoutAfter = 20
	LockoutFor   = 15 * time.Minute
	// MaxQueued guesses from one group may wait for their turn; more are refused with a
	// short RetryAfter. It is large enough for a school class behind one NAT joining at
	// once; connections per address are capped by the server anyway.
	MaxQueued = 64
	// ForgetAfter after its last wrong guess a group's record is dropped (at the
	// latest). It is long, so that waiting out a lockout does not buy a fresh budget.
	ForgetAfter = 24 * time.Hour
	// MaxRecords bounds the groups remembered at once.
	MaxRecords = 1 << 16
	// maxScopes bounds the per-secret failure counts kept for forgiveness (failures at
	// further secrets count, but a right guess does not forgive them).
	maxScopes      = 4
	queueFullRetry = time.Second
)

type record struct {
	// site: the record of an IPv6 /48 (sites.go), whose failures count SiteFactor
	// times less and which checks SiteFactor guesses at once, against a /64's one.
	site        bool
	users       int           // a site's: turns that hold or wait for one of its slots
	slots       chan struct{} // a site's: one a guess being checked
	given       int           // a site's: failures given back over its free budget since givenSince
	givenSince  time.Time
	failures    int
	byScope     []scopeFailures // failures per secret, forgiven by a right guess at it
	nextAllowed time.Time
	lastSeen    time.Time
	lastFailure time.Time       // ForgetAfter counts from it: right guesses do not keep a record
	busy        bool            // a guess holds the turn
	queue       []chan struct{} // waiting guesses, oldest first; closed to pass the turn
}

type scopeFailures struct {
	scope string
	n     int
}

func (r *record) idle() bool { return !r.busy && len(r.queue) == 0 && r.users == 0 }

// scale is how many failures count as one in the wait's schedule: SiteFactor for a site.
func (r *record) scale() int {
	if r.site {
		return SiteFactor
	}
	return 1
}

// lockedOut: LockoutAfter failures in a row (scaled).
func (r *record) lockedOut() bool { return r.failures >= LockoutAfter*r.scale() }

// NewAttempts makes a throttle reading time from now.
func NewAttempts(now func() time.Time) *Attempts {
	return &Attempts{now: now, records: map[string]*record{}}
}

// Refused is Begin's answer when a guess may not be checked now.
type Refused struct {
	RetryAfter time.Duration // how long to wait before the next guess
	LockedOut  bool          // LockoutAfter failures in a row
}

func (r *Refused) Error() string {
	return fmt.Sprintf("secret: too many wrong guesses; retry after %v", r.RetryAfter)
}

// Turn is one group's right to check one guess at scope. Exactly one of Failed,
// Succeeded or Release must follow; the next guess from the group waits until then.
type Turn struct {
	a       *Attempts
	r       *record // never dropped while a turn is held: it is not idle
	group   string
	scope   string
	done    bool
	site    *record // an IPv6 group's site, one of whose slots the turn holds (sites.go)
	siteKey string
}

// Begin waits for addr's group to finish the guesses before this one (first come, first
// served), then checks the group's wait. It returns a *Refused error when the guess may
// not be checked now, and ctx's error when ctx ended while waiting.
func (a *Attempts) Begin(ctx context.Context, addr, scope string) (*Turn, error) {
	group := AddrGroup(addr)
	a.mu.Lock()
	now := a.now()
	a.gcLocked(now)
	r := a.records[group]
	if r == nil {
		a.makeRoomLocked()
		r = &record{}
		a.records[group] = r
	}
	r.lastSeen = now
	if r.busy {
		if len(r.queue) >= MaxQueued {
			a.mu.Unlock()
			return nil, &Refused{RetryAfter: max(queueFullRetry, r.nextAllowed.Sub(now))}
		}
		ch := make(chan struct{})
		r.queue = append(r.queue, ch)
		a.mu.Unlock()
		select {
		case <-ch:
			if ctx.Err() != nil {
				// The turn came as ctx ended (select picks either when both are
				// ready): a guess whose asker went is not checked; pass it on.
				a.release(r)
				a.forgetClean(group, r)
				return nil, ctx.Err()
			}
		case <-ctx.Done():
			a.mu.Lock()
			if i := slices.Index(r.queue, ch); i >= 0 {
				r.queue = slices.Delete(r.queue, i, i+1)
				a.mu.Unlock()
				return nil, ctx.Err()
			}
			a.mu.Unlock()
			// The turn was passed to us as ctx ended: pass it on.
			a.release(r)
			a.forgetClean(group, r)
			return nil, ctx.Err()
		}
		a.mu.Lock()
		now = a.now()
	} else {
		r.busy = true
	}
	// We hold the turn: the verdicts before ours are in.
	if wait := r.nextAllowed.Sub(now); wait > 0 {
		locked := r.lockedOut()
		a.mu.Unlock()
		a.release(r)
		return nil, &Refused{RetryAfter: wait, LockedOut: locked}
	}
	t := &Turn{a: a, r: r, group: group, scope: scope}
	key, ok := SiteOf(addr)
	if !ok {
		a.mu.Unlock()
		return t, nil
	}
	// An IPv6 group's guess also needs its site's budget and one of its slots.
	if err := a.takeSiteSlot(ctx, t, key); err != nil {
		a.release(r)
		a.forgetClean(group, r)
		return nil, err
	}
	return t, nil
}

// release passes r's turn to the oldest waiting guess, or frees it.
func (a *Attempts) release(r *record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(r.queue) > 0 {
		ch := r.queue[0]
		r.queue = slices.Delete(r.queue, 0, 1)
		close(ch) // r stays busy: the turn moves on
		return
	}
	r.busy = false
}

// Failed records a wrong guess and ends the turn.
func (t *Turn) Failed() {
	if t.finish() {
		return
	}
	a, r := t.a, t.r
	a.mu.Lock()
	now := a.now()
	r.failures++
	r.lastSeen, r.lastFailure = now, now
	// The table of secrets is kept in the order they were last guessed at; full, the
	// one guessed at longest ago gives up its place (its failures stay counted, now
	// beyond forgiving), so that a typo, which the right secret mostly follows at once,
	// stays forgivable.
	n := 1
	if i := r.scopeIndex(t.scope); i >= 0 {
		n += r.byScope[i].n
		r.byScope = slices.Delete(r.byScope, i, i+1)
	} else if len(r.byScope) == maxScopes {
		r.byScope = slices.Delete(r.byScope, 0, 1)
	}
	r.byScope = append(r.byScope, scopeFailures{scope: t.scope, n: n})
	r.nextAllowed = now.Add(delayAfter(r.failures))
	if st := t.site; st != nil {
		st.failedLocked(now)
	}
	a.mu.Unlock()
	t.leaveSite()
	a.release(r)
}

// failedLocked counts a wrong guess in r, a site; under a.mu. A site keeps no failures
// per secret: it is forgiven what its groups are (forgiveCountLocked), never more.
func (r *record) failedLocked(now time.Time) {
	r.failures++
	r.lastSeen, r.lastFailure = now, now
	r.nextAllowed = now.Add(delayAfter(r.failures / r.scale()))
}

// Succeeded records a right guess: the group's failures at this scope are forgiven.
func (t *Turn) Succeeded() {
	if t.finish() {
		return
	}
	a, r := t.a, t.r
	a.mu.Lock()
	n := r.forgiveLocked(t.scope, a.now())
	if st := t.site; st != nil {
		st.forgiveCountLocked(n, a.now())
	}
	a.mu.Unlock()
	t.leaveSite()
	a.release(r)
	a.forgetClean(t.group, r)
}

// Forgive forgives addr's group its wrong guesses at scope, as a right guess there does
// (Succeeded), for a right secret checked without a turn: a random secret, which cannot
// be guessed, is let through however its group stands, so that a neighbour's wrong
// guesses cannot lock its holder out.
func (a *Attempts) Forgive(addr, scope string) {
	group := AddrGroup(addr)
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	r := a.records[group]
	if r == nil {
		return
	}
	n := r.forgiveLocked(scope, now)
	if r.forgettable(now) {
		delete(a.records, group)
	}
	if key, ok := SiteOf(addr); ok {
		if st := a.records[key]; st != nil {
			st.forgiveCountLocked(n, now)
			if st.forgettable(now) {
				delete(a.records, key)
			}
		}
	}
}

// dropLocked takes n failures off r, and its wait once the schedule has none for what
// is left; under a.mu.
func (r *record) dropLocked(n int) {
	r.failures = max(0, r.failures-n)
	if delayAfter(r.failures/r.scale()) == 0 {
		r.nextAllowed = time.Time{}
	}
}

// forgiveLocked drops r's failures at scope; under a.mu.
func (r *record) forgiveLocked(scope string, now time.Time) (n int) {
	r.lastSeen = now
	if i := r.scopeIndex(scope); i >= 0 {
		n = r.byScope[i].n
		r.byScope = slices.Delete(r.byScope, i, i+1)
	}
	r.dropLocked(n)
	return n
}

// forgiveCountLocked drops from r, a site, the n failures one of its groups was just
// forgiven (that group's own, at the secret it got right: a right guess from one /64
// forgives nothing of another's, and what a group forgives the site forgives, so that
// typos each followed by the right password never pile up in it); under a.mu.
func (r *record) forgiveCountLocked(n int, now time.Time) {
	r.lastSeen = now
	r.dropLocked(n)
}

// Release ends the turn without a verdict (the check itself failed).
func (t *Turn) Release() {
	if t.finish() {
		return
	}
	t.leaveSite()
	t.a.release(t.r)
	t.a.forgetClean(t.group, t.r)
}

func (t *Turn) finish() (already bool) {
	already, t.done = t.done, true
	return already
}

func (r *record) scopeIndex(scope string) int {
	return slices.IndexFunc(r.byScope, func(f scopeFailures) bool { return f.scope == scope })
}

// DelayAfter is the wait an address group must sit out after its n-th wrong guess in a
// row; it lets others (the privacy report) state the budget without repeating the rule.
func DelayAfter(n int) time.Duration { return delayAfter(n) }

// delayAfter is the wait after the n-th wrong guess in a row.
func delayAfter(n int) time.Duration {
	switch {
	case n >= LockoutAfter:
		return LockoutFor
	case n <= FreeFailures:
		return 0
	}
	d := BaseDelay << (n - FreeFailures - 1)
	if d > MaxDelay || d <= 0 {
		d = MaxDelay
	}
	return d
}
