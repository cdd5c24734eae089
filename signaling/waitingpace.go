package signaling

import (
	"math"
	"sync"
	"time"
)

// A moderator's waiting lists are paced (PROTOCOL.md, "Limits"). Each list is the whole
// waiting room, sent at every knock, every leave of it and every knock proof: up to a
// hundred entries with names of up to 400 characters, some 170 KB (more in a webinar's
// larger room). The knocks of one address are limited (knocklimit.go), but anyone with
// the link knocks and leaves in a loop from as many addresses as they have, and every
// moderator was sent two whole lists a cycle as fast as its link took them: 100 cycles
// from one address, within that address's burst, sent a moderator 27 MB in three
// seconds, beside its media. The outgoing queue keeps one list at most
// (snapshotWaitingList), which spares a slow moderator's queue but not a fast
// moderator's link. Now each moderator connection's lists take a budget of bytes,
// waitingListBurst at once and waitingListRate a second: a list the budget has no room
// for is held, a later one takes its place, and the latest goes out once the budget
// allows (on the server's clock). A budget kept in bytes holds back only large lists
// that come fast: an everyday waiting room's lists of a few KB never wait, a flood of
// whole rooms goes out at the rate, whatever the number of knocking addresses.
const (
	waitingListRate  = 128 << 10 // bytes a second, sustained
	waitingListBurst = 1 << 20   // bytes at once; a list larger than that goes once the budget is whole
)

// waitingPacer holds a moderator connection's budget of waiting lists and the list that
// waits for it. Its lock is taken under the meeting's (the lists are made there) or
// alone (its timer), and it holds none while it is held but the queue's.
type waitingPacer struct {
	mu     sync.Mutex
	budget tokenBucket // bytes
	held   []byte      // the latest list not sent yet; nil: none
	stop   func() bool // cancels the timer that sends held; nil: none armed
	due    time.Time   // when that timer fires
	timer  uint64      // that timer's number: one stopped too late finds another here
}

func newWaitingPacer() waitingPacer {
	return waitingPacer{budget: newTokenBucket(waitingListRate, waitingListBurst)}
}

// take spends the bytes of a list of n bytes if the budget holds them, or the whole
// budget for one larger than it (the budget then goes below zero).
func (p *waitingPacer) take(now time.Time, n int) bool {
	p.budget.refill(now)
	if p.budget.tokens < min(float64(n), p.budget.burst) {
		return false
	}
	p.budget.tokens -= float64(n)
	return true
}

// wait is how long from now until the budget holds a list of n bytes (at least a
// millisecond: the clock's timers take a duration), rounded up, so that the budget
// holds it when the timer fires.
func (p *waitingPacer) wait(now time.Time, n int) time.Duration {
	p.budget.refill(now)
	lack := min(float64(n), p.budget.burst) - p.budget.tokens
	return max(time.Duration(math.Ceil(lack/p.budget.rate*float64(time.Second))), time.Millisecond)
}

// sendWaitingList queues msg, a waiting list, for a moderator: now if its budget allows,
// in place of any list held (msg is newer), else in place of the list held, for when
// the budget allows. A list smaller than the one held waits only as long as it needs:
// when the room shrinks back (the loop stopped, the people let in), its list is not held
// behind the time a larger one needed. A nil session is a parked member: nothing
// reaches it.
func (s *Session) sendWaitingList(msg []byte) {
	if s == nil {
		return
	}
	p := &s.waitingPace
	p.mu.Lock()
	defer p.mu.Unlock()
	now := s.srv.clock.Now()
	if p.take(now, len(msg)) {
		// Queued under the pacer's lock, so that a held list released meanwhile
		// cannot come after this newer one; the one held is older and goes unsent.
		p.held = nil
		p.disarm()
		s.sendSnapshot(msg, snapshotWaitingList)
		return
	}
	p.held = msg
	if wait := p.wait(now, len(msg)); p.stop == nil || now.Add(wait).Before(p.due) {
		p.disarm()
		if !s.isClosing() {
			p.arm(s, now, wait)
		}
	}
}

// arm sets the timer that sends the list held in d. Under p.mu, with none armed.
func (p *waitingPacer) arm(s *Session, now time.Time, d time.Duration) {
	p.timer++
	n := p.timer
	p.due = now.Add(d)
	p.stop = s.srv.clock.AfterFunc(d, func() { s.releaseWaitingList(n) })
}

// disarm stops the timer armed, if any. One that fired already and waits for p.mu
// finds that it is no longer the one armed. Under p.mu.
func (p *waitingPacer) disarm() {
	if p.stop != nil {
		p.stop()
	}
	p.stop = nil
}

// releaseWaitingList, timer n's, sends the list held, its budget allowing, or waits
// again for it.
func (s *Session) releaseWaitingList(n uint64) {
	p := &s.waitingPace
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop == nil || p.timer != n {
		return // stopped, or another armed in its place
	}
	p.stop = nil
	if p.held == nil {
		return
	}
	now := s.srv.clock.Now()
	if !p.take(now, len(p.held)) {
		// A larger list took the place of the one the timer was set for.
		p.arm(s, now, p.wait(now, len(p.held)))
		return
	}
	s.sendSnapshot(p.held, snapshotWaitingList)
	p.held = nil
}

// forgetWaitingList drops the list held and stops its timer: the member is a
// moderator no more, removed or sent back to the waiting room (the list was made for a
// moderator's eyes: under the meeting's lock, before the member is told, so that the
// timer cannot send it in the moment between), or its connection is gone (serve). A nil
// session is a parked member: nothing is held for it.
func (s *Session) forgetWaitingList() {
	if s == nil {
		return
	}
	p := &s.waitingPace
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = nil
	p.disarm()
}
