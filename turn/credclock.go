package turn

import (
	"sync"
	"time"
)

// credClock is the clock credentials are issued, checked and forgotten by: the wall
// clock (Config.Now), shifted ahead by every step it ever made back, so that its
// readings never go back.
//
// A credential is valid until the expiry its username carries. Read on the wall clock
// itself, a step back (NTP setting a clock that was ahead, a virtual machine resumed)
// made valid again what had expired: credentials issued while the clock was ahead, their
// member gone and their revocation forgotten once the clock had passed their expiry,
// opened relays again once it was set back, for as long as it had been ahead plus their
// lifetime. What this clock has passed it never reads again, so an expired credential
// stays expired, and a revoked username past its expiry here can be forgotten for good.
// A step forward is taken as it comes (credentials issued before it expire early, as on
// the wall clock; allocations made in time keep working, authenticate). After a step
// back the usernames' expiries are so much ahead of the wall clock's Unix seconds:
// nobody but this server reads them.
type credClock struct {
	wall   func() time.Time
	mu     sync.Mutex
	offset time.Duration // the steps back the wall clock made, added to its readings
	last   time.Time     // the latest reading
}

func newCredClock(wall func() time.Time) *credClock {
	return &credClock{wall: wall}
}

// now reads the clock: the wall clock's reading and offset, never before the last.
func (c *credClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readLocked()
}

// Round(0) drops a real reading's monotonic part: compared with it, a reading after a
// step back is never before the last, and the step would go unseen.
func (c *credClock) readLocked() time.Time {
	t := c.wall().Round(0).Add(c.offset)
	if t.Before(c.last) {
		c.offset += c.last.Sub(t)
		t = c.last
	}
	c.last = t
	return t
}

// shift takes at, a reading of the wall clock a caller made (ICEServers' now), to this
// clock, with every step back seen so far.
func (c *credClock) shift(at time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readLocked()
	return at.Round(0).Add(c.offset)
}
