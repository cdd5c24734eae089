package signaling

import (
	"sync"
	"time"

	"conclave/secret"
)

// knockLimits bounds how often the people behind one address group (addrGroup) knock:
// join a meeting's waiting room or, without one, the meeting. The connection caps
// bound how many knock at once, not how often: anyone with a link could knock and
// leave in a loop, and each knock made every moderator's page update and verify a
// knock, and in a meeting without a waiting room every member key the newcomer and
// rotate at its leave. Everyone the server lets connect from one address at once
// (MaxConnsPerAddr: a school's hall behind one address) may knock at once; a loop then
// gets one knock every two seconds, told when to try again. The groups of one IPv6 /48
// share a budget besides (allow).
type knockLimits struct {
	burst float64 // knocks at once from one address group: MaxConnsPerAddr

	mu      sync.Mutex
	buckets map[string]*tokenBucket
	lastGC  time.Time
}

const (
	knockRate = 0.5 // knocks per second from one address group, sustained
	// maxKnockGroups bounds the groups and sites remembered; beyond it (after
	// forgetting the full buckets) a new one is not limited: the bound is a
	// nuisance's, and a flood of addresses must not lock everybody else out.
	maxKnockGroups = 1 << 16
)

// allow takes a knock from group at now, or says how long until one is allowed. An
// IPv6 address's knocks count in its site too, the /48 around its /64 (site, as
// secret.SiteOf names it; "" for an IPv4 address), whose budget is secret.SiteFactor
// times a group's: a /48 holds 65,536 /64s (a tunnel broker hands them out for free),
// and with budgets per /64 alone one customer knocked and left in a loop 65,536 times
// as often as one address may, into a meeting without a waiting room (every member's
// browser keys each newcomer and rotates at its leave) or at a moderator's. A knock
// takes from both or from neither.
func (k *knockLimits) allow(group, site string, now time.Time) (ok bool, retry time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.buckets == nil {
		k.buckets = map[string]*tokenBucket{}
	}
	if len(k.buckets) >= maxKnockGroups-1 || now.Sub(k.lastGC) >= time.Minute {
		k.gcLocked(now) // here only, so that neither bucket below is swept once found
	}
	b := k.bucketLocked(group, 1)
	if b == nil {
		return true, 0
	}
	wait := b.until(now)
	if site != "" {
		sb := k.bucketLocked(site, secret.SiteFactor)
		if sb != nil {
			wait = max(wait, sb.until(now))
			if wait == 0 {
				sb.allow(now)
			}
		}
	}
	if wait == 0 && b.allow(now) {
		return true, 0
	}
	return false, max(wait, time.Second)
}

// bucketLocked is the bucket of key, a group's or a site's (factor times a group's),
// made if it is new; nil when the map is full of keys whose knocks still count.
func (k *knockLimits) bucketLocked(key string, factor float64) *tokenBucket {
	if b := k.buckets[key]; b != nil {
		return b
	}
	if len(k.buckets) >= maxKnockGroups {
		return nil
	}
	nb := newTokenBucket(factor*knockRate, factor*k.burst)
	k.buckets[key] = &nb
	return &nb
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
// long again for the round's own work, whose store calls it bounds by that). An IPv6
// knock's /48 is kept as long: its budget is 16 times a group's and fills 16 times as
// fast.
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
