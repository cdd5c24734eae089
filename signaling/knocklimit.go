package signaling

import (
	"sync"
	"time"
)

// knockLimits bounds how often the people behind one address group (addrGroup) knock:
// join a meeting's waiting room or, without one, the meeting. The connection caps
// bound how many knock at once, not how often: anyone with a link could knock and
// leave in a loop, and each knock made every moderator's page update and verify a
// knock, and in a meeting without a waiting room every member key the newcomer and
// rotate at its leave. Everyone the server lets connect from one address at once
// (MaxConnsPerAddr: a school's hall behind one address) may knock at once; a loop then
// gets one knock every two seconds, told when to try again.
type knockLimits struct {
	burst float64 // knocks at once from one address group: MaxConnsPerAddr

	mu      sync.Mutex
	buckets map[string]*tokenBucket
	lastGC  time.Time
}

const (
	knockRate = 0.5 // knocks per second from one address group, sustained
	// maxKnockGroups bounds the groups remembered; beyond it (after forgetting the
	// full buckets) a new group is not limited: the bound is a nuisance's, and a
	// flood of addresses must not lock everybody else out.
	maxKnockGroups = 1 << 16
)

// allow takes a knock from group at now, or says how long until one is allowed.
func (k *knockLimits) allow(group string, now time.Time) (ok bool, retry time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.buckets == nil {
		k.buckets = map[string]*tokenBucket{}
	}
	b := k.buckets[group]
	if b == nil {
		if len(k.buckets) >= maxKnockGroups || now.Sub(k.lastGC) >= time.Minute {
			k.gcLocked(now)
		}
		if len(k.buckets) >= maxKnockGroups {
			return true, 0
		}
		nb := newTokenBucket(knockRate, k.burst)
		b = &nb
		k.buckets[group] = b
	}
	if b.allow(now) {
		return true, 0
	}
	return false, max(b.until(now), time.Second)
}

// sweep forgets the groups whose bucket has filled up again; the server's janitor
// calls it, so that an address is kept no longer than its knocks count against it
// (KnockMemory), on a quiet server too.
func (k *knockLimits) sweep(now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gcLocked(now)
}

// KnockMemory is how long at most the server keeps the address group of a knock, to
// count it against the group's knocks (maxConnsPerAddr: Config.MaxConnsPerAddr): until
// the group's budget is whole again, and a janitor round (its interval, and at most as
// long again for the round's own work, whose store calls it bounds by that).
func KnockMemory(maxConnsPerAddr int) time.Duration {
	return time.Duration(float64(maxConnsPerAddr)/knockRate*float64(time.Second)) + 2*janitorInterval
}

// gcLocked forgets the groups whose bucket has filled up again: they are as new.
func (k *knockLimits) gcLocked(now time.Time) {
	k.lastGC = now
	for g, b := range k.buckets {
		if b.until(now) == 0 && b.tokens >= b.burst {
			delete(k.buckets, g)
		}
	}
}
