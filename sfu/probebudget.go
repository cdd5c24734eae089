package sfu

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// The server probes the addresses a participant names in its candidates
// (liteprobe.go), and a participant may name anyone's. Unbounded, the probes made the
// server a reflector: up to 16 addresses a connection, 144 probes of up to 352 bytes
// each at every answer, the rounds starting again at each ICE restart the signaling
// allows (ten a second), 480 probes a second from one participant, and as many from
// every other naming the same victim. So an address that never answered gets the
// rounds of one answer for the connection's life (liteprobe.go), and the probes to
// such addresses draw on one budget per destination (addrgroup.Of: an IPv4 address,
// an IPv6 /64: one host, one customer's network) shared by every connection of the engine:
// however many participants name a victim, it gets at most probeBurst probes at once
// and probeRate a second after that. An address that answered (the server's request
// proving it, liteproof.go) is the peer's and draws on nothing: a peer behind an
// address others aim at still gets its probes once it answers, and a crowd behind one
// NAT address spends the budget only until each has answered, within a round trip.
// A peer that never checks the server before a probe reached it (Firefox pairs none
// of its addresses with a server's loopback candidate) cannot answer first: each
// connection's first probe to a destination goes whatever its budget holds, so that
// others spending the budget of the address it names slow its join at most.

const (
	// probeBurst is how many probes one destination may get at once: the first rounds
	// of a crowd joining behind one address, a few candidates each (a peer that checks
	// the server itself answers within a round trip, and is then not counted).
	probeBurst = 64
	// probeRate is how many a second it gets after that: 16 probes of 100 bytes (a
	// browser's ufrag) to 352 (the longest ufrag an answer may carry), 13 to 45 kbit/s.
	probeRate = 16
)

// probeBudget is the budget of probes to addresses that never answered, by
// destination, on the engine's clock. Buckets that are full again are forgotten at
// the consent sweep (forget), so it holds only destinations probed lately.
type probeBudget struct {
	mu   sync.Mutex
	dsts map[netip.Prefix]*tokenBucket

	// sent are the probes sent, held those not sent because their destination's
	// budget was spent.
	sent, held atomic.Uint64
}

// take spends a probe to the destination dst at now, if its budget holds one. A
// connection's first probe to a destination (first) goes whatever the budget holds,
// and takes what it holds: a peer that cannot pair its candidates with the server's
// checks it only once a probe reached it, so a budget spent by others would have kept
// it out for good. One probe a connection for each of its destinations is what a
// participant's join costs itself in signaling many times over.
func (b *probeBudget) take(dst netip.Prefix, now time.Time, first bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	bucket := b.dsts[dst]
	if bucket == nil {
		if b.dsts == nil {
			b.dsts = make(map[netip.Prefix]*tokenBucket)
		}
		bucket = new(tokenBucket)
		b.dsts[dst] = bucket
	}
	ok := bucket.take(now, 1, probeRate, probeBurst) || first
	if !ok {
		b.held.Add(1)
	}
	return ok
}

// forget drops the destinations whose budget is whole again at now.
func (b *probeBudget) forget(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for dst, bucket := range b.dsts {
		if bucket.full(now, probeRate, probeBurst) {
			delete(b.dsts, dst)
		}
	}
}
