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
// welcome whose credentials leaked) cannot open relay sockets without end. It counts
// what pion/turn reports created and deleted; allocations being made at the same moment
// may pass the check together, so the caps can be exceeded by a few, never without bound.
type quota struct {
	maxTotal, maxPer int

	mu     sync.Mutex
	total  int
	byUser map[string]int
}

func newQuota(maxTotal, maxPer int) *quota {
	return &quota{maxTotal: maxTotal, maxPer: maxPer, byUser: make(map[string]int)}
}

// allows is pion/turn's QuotaHandler, asked before each allocation.
func (q *quota) allows(username, _ string, _ net.Addr) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.total < q.maxTotal && q.byUser[username] < q.maxPer
}

func (q *quota) created(_, _ net.Addr, _, username, _ string, _ net.Addr, _ int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.total++
	q.byUser[username]++
}

func (q *quota) deleted(_, _ net.Addr, _, username, _ string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.total--
	if q.byUser[username]--; q.byUser[username] <= 0 {
		delete(q.byUser, username)
	}
}
