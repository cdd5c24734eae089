package secret

// What Attempts forgets, and when: a group with nothing left to remember as its turn
// ends, the groups whose last wrong guess is old (Sweep, and gcLocked at most once a
// minute from the guesses), and an eighth of the table when it is full (makeRoomLocked).

import (
	"slices"
	"time"
)

// forgettable: nothing uses r, and it has no wrong guess or wait to remember.
func (r *record) forgettable(now time.Time) bool {
	return r.idle() && r.failures <= 0 && !now.Before(r.nextAllowed)
}

// forgetClean drops group's record r once no guess holds or waits for it and it has
// no wrong guess to remember: the address of someone who only ever gave the right
// secret is not kept.
func (a *Attempts) forgetClean(group string, r *record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.records[group] == r && r.forgettable(a.now()) {
		delete(a.records, group)
	}
}

// Sweep forgets the groups whose last wrong guess is ForgetAfter old (sweepLocked):
// the server calls it every few seconds, so that a quiet server forgets as well.
func (a *Attempts) Sweep() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sweepLocked(a.now())
}

// gcLocked sweeps at most once a minute (every guess calls it).
func (a *Attempts) gcLocked(now time.Time) {
	if now.Sub(a.lastGC) < time.Minute {
		return
	}
	a.sweepLocked(now)
}

// sweepSlack is how much earlier than ForgetAfter a group may be forgotten, so that
// sweeps a few seconds apart keep within the ForgetAfter the privacy notice states.
const sweepSlack = time.Minute

// sweepLocked forgets the idle groups whose wait is over and whose last wrong guess
// is ForgetAfter old (less sweepSlack), or that have none left.
func (a *Attempts) sweepLocked(now time.Time) {
	a.lastGC = now
	for g, r := range a.records {
		if r.idle() && !now.Before(r.nextAllowed) && (r.failures <= 0 || now.Sub(r.lastFailure) >= ForgetAfter-sweepSlack) {
			delete(a.records, g)
			// A /64 forgotten for its age is forgotten by its /48 too (giveBackLocked).
			// (A /64 pushed out by makeRoomLocked is not: a flood of addresses must not
			// clear a /48.)
			if key, ok := siteOfGroup(g); ok && r.failures > 0 {
				if st := a.records[key]; st != nil {
					st.giveBackLocked(r.failures, now)
				}
			}
		}
	}
}

// makeRoomLocked drops an eighth of the records when they are at MaxRecords (so that
// the cost of finding them is shared by many new groups): the idle ones with the fewest
// failures, the oldest among equals.
func (a *Attempts) makeRoomLocked() {
	if len(a.records) < MaxRecords {
		return
	}
	type candidate struct {
		group    string
		failures int
		site     bool
		seen     time.Time
	}
	idle := make([]candidate, 0, len(a.records))
	for g, r := range a.records {
		if r.idle() {
			idle = append(idle, candidate{g, r.failures, r.site, r.lastSeen})
		}
	}
	// every group not here is mid-guess; those are bounded by the server's connections
	slices.SortFunc(idle, func(x, y candidate) int {
		if x.failures != y.failures {
			return x.failures - y.failures
		}
		if x.site != y.site { // a /64 before its /48, which holds its failures too
			if x.site {
				return 1
			}
			return -1
		}
		return x.seen.Compare(y.seen)
	})
	for _, c := range idle[:min(len(idle), MaxRecords/8)] {
		delete(a.records, c.group)
	}
}

// Len is the number of groups remembered (tests, metrics).
func (a *Attempts) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.records)
}
