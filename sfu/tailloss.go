package sfu

import "time"

// A lost packet is NACKed when the packet after it arrives (nackgen.go). The last
// packets of a frame have none after them until the next frame, a frame interval (33 ms
// at 30 fps) later, so their loss cost that much more than any other: at 3 % loss they
// were most of the latency's 99th percentile (bench/README.md, "Tail loss"). A video
// packet without the marker bit says more of its frame is coming; when nothing comes
// for a while after one, the publisher is asked for the next packet at once.
//
// The wait follows the publisher's pacing: browsers spread a frame's packets over
// milliseconds (a keyframe over tens), so the wait is a few times the gap between
// packets of one frame, within [tailWaitMin, tailWaitMax]. It is a timer, one per
// layer, made once and reset (tailTimer), whose function probes under the layer's
// receive lock (tailFired): on the engine's timers and clock when the engine was given
// them (Config.AfterFunc), so that a test moves it with its fake clock and judges what
// must and must not come by that clock, not by how fast the machine is; otherwise one
// time.Timer on the system's clock. It was a read deadline on the stream's Pion
// reader, on the system's clock whatever the engine's, which cost as much (Pion's
// deadline is such a timer too) and one wake-up more when it passed (the timer's, then
// the reader's). The watch is armed by a packet without the marker and disarmed by the
// frame's last (tailWatch). The socket reader arms it only at the end of its read
// batch (rtpRoutes.batchDone), when the frame's last packet was not in the batch: a
// timer set and stopped again still woke the idle server, twice, when it would have
// passed (Go keeps a stopped timer in its heap until then, and rounds the wait down to
// a millisecond), and a frame that arrives in one burst is most frames of most loads.

const (
	tailWaitMin = 5 * time.Millisecond
	tailWaitMax = 40 * time.Millisecond
)

// tailWatch is a layer's watch for a frame whose end does not come. Guarded by the
// layer's receive lock.
//
// The timer is set once when the watch arms and stopped once when it disarms, not
// reset for every packet in between (a keyframe is dozens of them): due follows the
// newest packet, and a timer that fires before due is set again for the rest instead
// of probing.
type tailWatch struct {
	armed  bool
	lastTS uint32
	lastAt time.Time
	gap    time.Duration // average gap between packets of one frame
	due    time.Time     // when the frame's end counts as lost, on the timer's clock (armed only)
	set    bool          // the timer is set, to fire at or before due
	queued bool          // in the socket reader's list for its batch's end (rtpRoutes.tails)
	ended  bool          // the layer's reader has stopped: the watch never arms again
}

// seen notes a media packet (not padding) that arrived at now and returns the wait
// after which its frame's end counts as lost: a wait after a packet whose frame goes
// on, none (zero) after a frame's last, and change false when nothing changed (a
// frame's last packet after another one).
func (w *tailWatch) seen(ts uint32, marker bool, now time.Time) (wait time.Duration, change bool) {
	if ts == w.lastTS && !w.lastAt.IsZero() {
		if g := now.Sub(w.lastAt); g >= 0 && g < time.Second {
			w.gap += (g - w.gap) / 8
		}
	}
	w.lastTS, w.lastAt = ts, now
	if marker {
		change, w.armed = w.armed, false
		return 0, change
	}
	w.armed = true
	return min(max(3*w.gap+2*time.Millisecond, tailWaitMin), tailWaitMax), true
}

// noteTail arms the layer's tail watch after a video packet whose frame goes on, and
// disarms it after a frame's last. With batched, the timer is left to the end of the
// socket reader's batch (armTail).
func (l *layer) noteTail(p *packet, batched bool) {
	wait, change := l.tail.seen(p.header.Timestamp, p.header.Marker, l.up.now())
	if !change {
		return
	}
	if wait == 0 {
		if l.tail.set {
			l.tail.set = false
			l.tailTimer.Stop()
		}
		return
	}
	if l.tailTimer == nil {
		l.tailTimer = l.up.newTimer(l.tailFired) // at its first arming: most layers are audio
	}
	l.tail.due = l.tailTimer.Now().Add(wait)
	if !batched {
		l.armTail()
	}
}

// tailWaitsForBatch reports, after a packet the socket reader received, whether the
// watch is armed with no timer and not yet in the reader's list for the batch's end,
// and counts it in that list if so. Under l.rx.
func (l *layer) tailWaitsForBatch() bool {
	if !l.tail.armed || l.tail.set || l.tail.queued {
		return false
	}
	l.tail.queued = true
	return true
}

// tailBatchEnded sets the timer of a watch that the socket reader's batch left armed
// (rtpRoutes.batchDone). Under l.rx.
func (l *layer) tailBatchEnded() {
	l.tail.queued = false
	l.armTail()
}

// armTail sets the timer of an armed watch that has none, for what is left until due.
// Under l.rx.
func (l *layer) armTail() {
	if l.tail.armed && !l.tail.set && !l.tail.ended {
		l.tail.set = true
		l.tailTimer.Reset(l.tail.due.Sub(l.tailTimer.Now()))
	}
}

// tailFired is the tail timer's function, on a goroutine of its own: before the watch
// is due (packets came since it was set) the timer is set again for the rest; when due,
// the publisher is asked for the packet after the newest. A timer that a disarm (or the
// reader's end) came too late to stop finds the watch unset and does nothing.
func (l *layer) tailFired() {
	l.rx.Lock()
	defer l.rx.Unlock()
	if !l.tail.set {
		return
	}
	if l.tail.ended || l.up.owner.stopping.Load() {
		l.tail.set = false
		return
	}
	if rest := l.tail.due.Sub(l.tailTimer.Now()); rest > 0 {
		l.tailTimer.Reset(rest)
		return
	}
	l.tail.armed, l.tail.set = false, false
	if seqs, gaveUp := l.loss.probeTail(l.up.now, l.nackBuf[:0]); len(seqs) > 0 || gaveUp > 0 {
		l.nackPublisher(seqs, gaveUp)
	}
}

// endTail stops the watch for good when the layer's reader stops. Under l.rx.
func (l *layer) endTail() {
	l.tail.ended, l.tail.armed = true, false
	if l.tail.set {
		l.tail.set = false
		l.tailTimer.Stop()
	}
}

// resetTimer is a timer made once and set again and again: the tail watch's.
type resetTimer interface {
	// Now reads the timer's clock.
	Now() time.Time
	// Reset sets the timer to fire d from now (at once for d <= 0), in place of any
	// time it was set to.
	Reset(d time.Duration)
	// Stop stops it; its function may still run if it fired already.
	Stop()
}

// sysTimer is a resetTimer on the system's clock: one time.Timer for its life, made
// at its first Reset, so that setting it again allocates nothing.
type sysTimer struct {
	f func()
	t *time.Timer
}

func (s *sysTimer) Now() time.Time { return time.Now() }

func (s *sysTimer) Reset(d time.Duration) {
	if s.t == nil {
		s.t = time.AfterFunc(d, s.f)
		return
	}
	s.t.Reset(d)
}

func (s *sysTimer) Stop() {
	if s.t != nil {
		s.t.Stop()
	}
}

// clockTimer is a resetTimer on the engine's clock and timers as Config gave them (a
// test's fake clock): each Reset is a timer of its own, the one before stopped.
type clockTimer struct {
	now   func() time.Time
	after func(time.Duration, func()) func() bool
	f     func()
	stop  func() bool
}

func (c *clockTimer) Now() time.Time { return c.now() }

func (c *clockTimer) Reset(d time.Duration) {
	if c.stop != nil {
		c.stop()
	}
	c.stop = c.after(max(d, 0), c.f)
}

func (c *clockTimer) Stop() {
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
}
