package signaling

import "time"

// Clock is the time source of every limiter, timer and timeout the server applies, so
// that tests drive them with fake time and a verdict never depends on how fast the
// machine is. Function types only (no named timer type), so any fake with these two
// methods fits, whichever package defines it.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed; stop cancels it and
	// reports whether it did so before f was called.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// realClock is the wall clock.
type realClock struct{ now func() time.Time }

func (c realClock) Now() time.Time { return c.now() }

func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
