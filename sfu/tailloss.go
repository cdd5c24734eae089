package sfu

import (
	"errors"
	"net"
	"time"
)

// A lost packet is NACKed when the packet after it arrives (nackgen.go). The last
// packets of a frame have none after them until the next frame, a frame interval (33 ms
// at 30 fps) later, so their loss cost that much more than any other: at 3 % loss they
// were most of the latency's 99th percentile (bench/README.md, "Tail loss"). A video
// packet without the marker bit says more of its frame is coming; when nothing comes
// for a while after one, the reader asks the publisher for the next packet at once.
//
// The wait follows the publisher's pacing: browsers spread a frame's packets over
// milliseconds (a keyframe over tens), so the wait is a few times the gap between
// packets of one frame, within [tailWaitMin, tailWaitMax]. It is a read deadline on
// the track: the stream's Pion reader wakes when it passes, whichever goroutine received
// the packets (rtpin.go); it is armed by a packet without the marker and disarmed by the
// frame's last (tailWatch). The socket reader arms it only at the end of its read batch
// (rtpRoutes.batchDone), when the frame's last packet was not in the batch: a timer set
// and stopped again still woke the idle server, twice, when it would have passed (Go
// keeps a stopped timer in its heap until then, and rounds the wait down to a
// millisecond), and a frame that arrives in one burst is most frames of most loads.

const (
	tailWaitMin = 5 * time.Millisecond
	tailWaitMax = 40 * time.Millisecond
)

// tailWatch is a layer's watch for a frame whose end does not come. Guarded by the
// layer's receive lock.
//
// The reader's deadline is set once when the watch arms and cleared once when it
// disarms, not moved for every packet in between (a keyframe is dozens of them, and
// each move was a timer reset in Pion's buffer): due follows the newest packet, and a
// deadline that passes before due is put back to it instead of probing.
type tailWatch struct {
	armed  bool
	lastTS uint32
	lastAt time.Time
	gap    time.Duration // average gap between packets of one frame
	due    time.Time     // wall time when the frame's end counts as lost (armed only)
	set    bool          // the reader's deadline is set, at or before due
	queued bool          // in the socket reader's list for its batch's end (rtpRoutes.tails)
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

// expired reports whether err is the armed watch's deadline.
func (w *tailWatch) expired(err error) bool {
	var ne net.Error
	return w.armed && errors.As(err, &ne) && ne.Timeout()
}

// noteTail arms the layer's tail watch after a video packet whose frame goes on, and
// disarms it after a frame's last. With batched, the deadline is left to the end of
// the socket reader's batch (armTail).
func (l *layer) noteTail(p *packet, batched bool) {
	wait, change := l.tail.seen(p.header.Timestamp, p.header.Marker, l.up.now())
	if !change {
		return
	}
	if wait == 0 {
		if l.tail.set {
			l.tail.set = false
			l.setDeadline(time.Time{})
		}
		return
	}
	l.tail.due = time.Now().Add(wait) // a real-time I/O deadline, like a socket's
	if !batched {
		l.armTail()
	}
}

// tailWaitsForBatch reports, after a packet the socket reader received, whether the
// watch is armed with no deadline and not yet in the reader's list for the batch's end,
// and counts it in that list if so. Under l.rx.
func (l *layer) tailWaitsForBatch() bool {
	if !l.tail.armed || l.tail.set || l.tail.queued {
		return false
	}
	l.tail.queued = true
	return true
}

// tailBatchEnded sets the deadline of a watch that the socket reader's batch left
// armed (rtpRoutes.batchDone). Under l.rx.
func (l *layer) tailBatchEnded() {
	l.tail.queued = false
	l.armTail()
}

// armTail sets the reader's deadline for an armed watch that has none. Under l.rx.
func (l *layer) armTail() {
	if l.tail.armed && !l.tail.set {
		l.tail.set = true
		l.setDeadline(l.tail.due)
	}
}

// tailExpired handles the read error err if it is the tail watch's deadline: before
// the watch is due (packets came since it was set) the deadline is put back to due;
// when due, the publisher is asked for the packet after the newest. It reports whether
// err was the watch's. Under l.rx.
func (l *layer) tailExpired(err error) bool {
	if !l.tail.expired(err) {
		return false
	}
	if time.Now().Before(l.tail.due) {
		l.setDeadline(l.tail.due)
		return true
	}
	l.tail.armed, l.tail.set = false, false
	if l.setDeadline(time.Time{}) {
		return false
	}
	if seqs, gaveUp := l.loss.probeTail(l.up.now, l.nackBuf[:0]); len(seqs) > 0 || gaveUp > 0 {
		l.nackPublisher(seqs, gaveUp)
	}
	return true
}

// setDeadline puts the layer's reads under deadline t (zero: none), unless the
// participant is stopping: stopReaders has put them past a deadline (readers.go), which
// t may just have replaced, so that one is put back and it reports true.
func (l *layer) setDeadline(t time.Time) (stopping bool) {
	_ = l.deadline.SetReadDeadline(t)
	if !l.up.owner.stopping.Load() {
		return false
	}
	_ = l.deadline.SetReadDeadline(time.Unix(0, 1))
	return true
}
