package turn

import (
	"net"
	"sync"
	"time"
)

// Defaults of the allocation caps. A browser opens one allocation per TURN URL and
// peer connection (Firefox two: RTP and RTCP), so a welcome's credentials need about
// eight; sixteen leave room for an ICE restart. Each allocation is one socket.
const (
	DefaultMaxAllocations              = 2000
	DefaultMaxAllocationsPerCredential = 16
)

// quota bounds allocations, in all and per credential, so that one credential (say, a
// welcome whose credentials leaked) cannot open relay sockets without end. A relay
// socket is counted when it is opened (take, in relayGenerator.AllocatePacketConn: the
// check and the count are one step) and let go when it is closed: pion/turn's
// QuotaHandler and its OnAllocationCreated event are two steps with the socket's
// opening between them, and over TCP and TLS, where every connection has a reader of
// its own, many Allocate requests at once passed the check before any was counted.
//
// It also keeps each credential's relay sockets, so that a revoked credential (its
// member left, was removed or sent back, or the meeting ended: Server.Revoke) loses
// them at once, and opens none and keeps none afterwards.
type quota struct {
	maxTotal, maxPer int

	mu     sync.Mutex
	total  int
	byUser map[string]int
	relays map[string]map[*restrictedConn]struct{}
	// revoked are the revoked usernames, each kept until its expiry has passed on the
	// credentials' clock (then no Allocate accepts it, and it holds no allocation a request
	// could use) and its lifetime since the revocation on the timers' (revokedUser).
	revoked map[string]*revokedUser
	// revokedHold is how long a revoked username is kept at least, on afterFunc's
	// clock: its lifetime (Config.TTL) and revokedMargin.
	revokedHold time.Duration
	afterFunc   func(time.Duration, func()) (stop func() bool)
	// sweepAt is the length of revoked at which revoke next forgets the usernames past
	// their expiry: twice what the last sweep kept, at least minRevokedSweep. A sweep
	// visits them all; run at each revoke, n members leaving within a credential's
	// lifetime cost n²/2 visits under the lock every TURN request takes. visited counts
	// the visits (tests).
	sweepAt, visited int
}

// revokedUser is a revoked username's record. Its expiry is read on the credentials'
// clock (credclock.go), which never goes back: once past it, the credentials are
// expired for good, whatever the wall clock does later. It is also held for the
// credentials' lifetime since the revocation on the timers' clock, which does not step
// either (the guard against a step back before credClock took steps back out).
type revokedUser struct {
	expiry time.Time
	held   bool // its hold since the revocation has not passed yet
}

// newQuota makes the caps, holding revoked usernames for DefaultTTL on the system's
// clock until New sets the server's (revokedHold, afterFunc).
func newQuota(maxTotal, maxPer int) *quota {
	return &quota{maxTotal: maxTotal, maxPer: maxPer, byUser: make(map[string]int),
		relays: make(map[string]map[*restrictedConn]struct{}), revoked: make(map[string]*revokedUser),
		revokedHold: DefaultTTL + revokedMargin,
		afterFunc:   func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }}
}

// allows is pion/turn's QuotaHandler, asked before each allocation: it spares a
// request that take would refuse the work before it (take decides).
func (q *quota) allows(username, _ string, _ net.Addr) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.roomLocked(username)
}

// roomLocked: the caps leave room for one more of username's, which is not revoked;
// under q.mu.
func (q *quota) roomLocked(username string) bool {
	_, revoked := q.revoked[username]
	return !revoked && q.total < q.maxTotal && q.byUser[username] < q.maxPer
}

// take counts a relay socket of username's if the caps leave room for it; give
// returns it.
func (q *quota) take(username string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.roomLocked(username) {
		return false
	}
	q.total++
	q.byUser[username]++
	return true
}

// hold keeps c as a relay socket of username's (counted by take), unless username was
// revoked since: then c is to be closed.
func (q *quota) hold(username string, c *restrictedConn) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, revoked := q.revoked[username]; revoked {
		return false
	}
	if q.relays[username] == nil {
		q.relays[username] = make(map[*restrictedConn]struct{})
	}
	q.relays[username][c] = struct{}{}
	return true
}

// give returns a relay socket of username's, c when it was held.
func (q *quota) give(username string, c *restrictedConn) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.total--
	if q.byUser[username]--; q.byUser[username] <= 0 {
		delete(q.byUser, username)
	}
	if held := q.relays[username]; held != nil {
		delete(held, c)
		if len(held) == 0 {
			delete(q.relays, username)
		}
	}
}

// relayAt is username's relay socket at port, nil if it holds none there (any more).
func (q *quota) relayAt(username string, port int) *restrictedConn {
	q.mu.Lock()
	defer q.mu.Unlock()
	for c := range q.relays[username] {
		if int(c.port) == port {
			return c
		}
	}
	return nil
}

// isRevoked reports whether username was revoked.
func (q *quota) isRevoked(username string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, revoked := q.revoked[username]
	return revoked
}

// revoke refuses username from now on, until both its expiry (expiry) has passed on
// the credentials' clock, whose reading now is, and revokedHold on the timers', and
// returns its relay sockets for the caller to close. Usernames past both are forgotten
// (nothing accepts them any more) once the list has doubled since it was last swept
// (sweepAt): a few visits per revocation, and at most about twice the usernames still
// to refuse are kept.
func (q *quota) revoke(username string, expiry, now time.Time) []*restrictedConn {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.revoked) >= q.sweepAt {
		q.visited += len(q.revoked)
		for u, r := range q.revoked {
			if !r.held && now.After(r.expiry.Add(revokedMargin)) {
				delete(q.revoked, u)
			}
		}
		q.sweepAt = max(2*len(q.revoked), minRevokedSweep)
	}
	if _, ok := q.revoked[username]; !ok {
		r := &revokedUser{expiry: expiry, held: true}
		q.revoked[username] = r
		q.afterFunc(q.revokedHold, func() {
			q.mu.Lock()
			r.held = false
			q.mu.Unlock()
		})
	}
	var out []*restrictedConn
	for c := range q.relays[username] {
		out = append(out, c)
	}
	return out
}

// revokedMargin keeps a revoked username a while past its expiry: an Allocate checked
// just before the expiry may reach take a moment after.
const revokedMargin = time.Minute

// minRevokedSweep is the shortest list of revoked usernames that is swept.
const minRevokedSweep = 1024
