package sfu

import "time"

// lossTracker finds the packets a publisher track lost on its way to the SFU and says
// when to ask for them (NACK): at once when a packet arrives after a gap, then again at
// most maxNackTries times in all, nackRetryInterval apart, until the packet arrives or is
// given up. It runs where the stream's packets are received, under the layer's receive
// lock (layer.receive), and is driven by arriving packets,
// not a timer: retries go out with the next packet after they are due (media packets
// arrive every few milliseconds), so a quiet track costs nothing and there is no loop to
// stop. It reads the clock only while something is missing.
type lossTracker struct {
	started bool
	highest uint16
	missing []missingPacket // oldest first, at most maxMissing
	// repair is how long the publisher has been taking to resend what was asked for
	// (its round trip, smoothed); timed once a packet asked for once has arrived.
	repair time.Duration
	timed  bool
}

type missingPacket struct {
	seq   uint16
	tries uint8
	asked time.Time // the first NACK
	due   time.Time // when to ask again
}

const (
	// maxNackTries is how often one missing packet is asked for, first time included.
	maxNackTries = 3
	// nackRetryInterval is the wait before asking again: longer than a typical round
	// trip to a publisher, short enough for the retransmission to make a receiver's
	// jitter buffer. Once the publisher's repairs are timed, the wait is a few of its
	// repair times instead, within [nackRetryMin, nackRetryInterval]: on a LAN a
	// retransmission lost again is asked for within tens of milliseconds, not eighty.
	nackRetryInterval = 80 * time.Millisecond
	nackRetryMin      = 20 * time.Millisecond
	// maxMissing bounds the packets tracked at once (older ones are given up first).
	maxMissing = 128
	// maxNackGap: a jump larger than this is a restart or a paused stream, not loss.
	maxNackGap = 256
)

// probeTail takes the packet after the newest for lost (the end of a frame that has
// not come, tailloss.go): it is tracked like any missing packet and appended to out to
// NACK now. If it arrives after all it is a late packet like any other.
func (l *lossTracker) probeTail(now func() time.Time, out []uint16) (nack []uint16, gaveUp int) {
	if !l.started {
		return out, 0
	}
	l.highest++
	return append(out, l.highest), l.ask(l.highest, now())
}

// ask tracks seq as missing, asked for at t; when tracking is full the oldest is given
// up (counted in the result).
func (l *lossTracker) ask(seq uint16, t time.Time) (gaveUp int) {
	if len(l.missing) == maxMissing {
		l.missing = append(l.missing[:0], l.missing[1:]...)
		gaveUp = 1
	}
	l.missing = append(l.missing, missingPacket{seq: seq, tries: 1, asked: t, due: t.Add(l.retryAfter())})
	return gaveUp
}

// onPacket notes that seq arrived and appends to out the sequence numbers to NACK now.
// gaveUp counts packets dropped from tracking without having arrived.
func (l *lossTracker) onPacket(seq uint16, now func() time.Time, out []uint16) (nack []uint16, gaveUp int) {
	if !l.started {
		l.started, l.highest = true, seq
		return out, 0
	}
	diff := int16(seq - l.highest)
	switch {
	case diff == 1:
		l.highest = seq
		if len(l.missing) == 0 {
			return out, 0 // the common case: in order, nothing missing
		}
	case diff > 1:
		l.highest = seq
		if int(diff) > maxNackGap {
			gaveUp = len(l.missing)
			l.missing = l.missing[:0]
			return out, gaveUp
		}
		// Every packet of the gap is asked for once; only the newest maxMissing of
		// what is missing then are tracked. Given up in one move, not one shift of
		// the list per packet of the gap: a publisher that skips maxNackGap numbers
		// with every packet would otherwise cost the socket reader tens of thousands
		// of steps a packet.
		t := now()
		n := int(diff) - 1
		for s := seq - uint16(n); s != seq; s++ {
			out = append(out, s)
		}
		keepOld := max(0, min(len(l.missing), maxMissing-n))
		gaveUp += len(l.missing) - keepOld
		l.missing = append(l.missing[:0], l.missing[len(l.missing)-keepOld:]...)
		first := max(0, n-maxMissing)
		gaveUp += first
		due := t.Add(l.retryAfter())
		for i := first; i < n; i++ {
			l.missing = append(l.missing, missingPacket{seq: seq - uint16(n-i), tries: 1, asked: t, due: due})
		}
		return out, gaveUp
	default: // late (a retransmission, or reordered) or a duplicate
		for i, m := range l.missing {
			if m.seq == seq {
				if m.tries == 1 { // a repair of the first request times the round trip
					l.noteRepair(now().Sub(m.asked))
				}
				l.missing = append(l.missing[:i], l.missing[i+1:]...)
				break
			}
		}
		if len(l.missing) == 0 {
			return out, 0
		}
	}
	// Something is still missing: ask again for what is due, drop what was asked for
	// often enough.
	t := now()
	kept := l.missing[:0]
	for _, m := range l.missing {
		if t.Before(m.due) {
			kept = append(kept, m)
			continue
		}
		if m.tries >= maxNackTries {
			gaveUp++
			continue
		}
		m.tries++
		m.due = t.Add(l.retryAfter())
		out = append(out, m.seq)
		kept = append(kept, m)
	}
	l.missing = kept
	return out, gaveUp
}

// noteRepair smooths the time a requested packet took to arrive.
func (l *lossTracker) noteRepair(d time.Duration) {
	if d < 0 || d > time.Second {
		return // a clock step, or a packet that came late on its own
	}
	if !l.timed {
		l.repair, l.timed = d, true
		return
	}
	l.repair += (d - l.repair) / 8
}

// retryAfter is the wait before asking for a packet again.
func (l *lossTracker) retryAfter() time.Duration {
	if !l.timed {
		return nackRetryInterval
	}
	return min(max(3*l.repair, nackRetryMin), nackRetryInterval)
}
