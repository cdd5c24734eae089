package turn

import (
	"net"
	"sync"
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
type quota struct {
	maxTotal, maxPer int

	mu     sync.Mutex
	total  int
	byUser map[string]int
}

func newQuota(maxTotal, maxPer int) *quota {
	return &quota{maxTotal: maxTotal, maxPer: maxPer, byUser: make(map[string]int)}
}

// allows is pion/turn's QuotaHandler, asked before each allocation: it spares a
// request that take would refuse the work before it (take decides).
func (q *quota) allows(username, _ string, _ net.Addr) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.roomLocked(username)
}

// roomLocked: the caps leave room for one more of username's; under q.mu.
func (q *quota) roomLocked(username string) bool {
	return q.total < q.maxTotal && q.byUser[username] < q.maxPer
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

func (q *quota) give(username string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.total--
	if q.byUser[username]--; q.byUser[username] <= 0 {
		delete(q.byUser, username)
	}
}
