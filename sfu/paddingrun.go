package sfu

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// A video packet without payload (padding: a browser probing its uplink) is sent to
// no subscriber, but each subscription must learn its number, so that the packets
// after it go out one number earlier and the subscriber sees no gap (dropPadding).
// Handed to every subscription one by one, padding cost the server a queue item and
// a writer's turn per packet per subscriber while no byte left: a modified client
// sending tens of thousands a second had the fan-out work for nothing at every
// subscriber. So a layer hands on a run of padding, numbers that follow one another
// with no media between, as one packet that names them all (packet.padRun), when the
// run ends: at the layer's next media packet (before it, so each subscription closes
// the numbers up before the packet that follows them), or when it is as long as
// maxPaddingRun. Browsers pad in bursts between media packets, so an honest run ends
// at a media packet. A run that ends at padding of another number (lost or reordered
// packets, or a client numbering its padding with gaps to defeat the runs) is handed
// on within a budget, paddingRunRate a second on the engine's clock; beyond it the run
// goes to nobody and its numbers stay gaps at the subscribers (a NACK each, answered
// with nothing), which a client spends on its own stream only. What a layer's padding
// costs the fan-out so is at most one item per media packet, per maxPaddingRun
// padding packets, and paddingRunRate a second.
const (
	// maxPaddingRun is the longest run handed on as one: far within half a segment's
	// slide (forwarder.go), so its numbers compare as numbers do.
	maxPaddingRun = 4096
	// paddingRunRate is how many runs a second a layer hands on that padding of
	// another number ended, with a second of them to spare: above what loss within
	// a browser's probing bursts breaks them into.
	paddingRunRate  = 250
	paddingRunBurst = paddingRunRate
)

// paddingRun is a layer's run of padding not yet handed on. Under the layer's rx.
type paddingRun struct {
	last   *packet // the run's newest packet; nil: no run
	n      uint16  // how many numbers it has, up to last's
	budget tokens  // runs handed on that padding ended (paddingRunRate)
}

// fanOut hands p, a packet the layer received, to every subscription of its track: a
// video packet without payload by its run's packet. Under l.rx.
func (l *layer) fanOut(p *packet, now time.Time) {
	if l.up.kind == webrtc.RTPCodecTypeVideo {
		if len(p.payload) == 0 {
			l.notePadding(p, now)
			return
		}
		l.endPaddingRun()
	}
	l.up.forwardAll(p)
}

// notePadding adds p, a padding packet, to the run, or ends the run and starts one
// with p. Under l.rx.
func (l *layer) notePadding(p *packet, now time.Time) {
	r := &l.pad
	if r.last != nil {
		follows := p.header.SequenceNumber == r.last.header.SequenceNumber+1
		if follows && r.n < maxPaddingRun {
			r.last, r.n = p, r.n+1
			return
		}
		if follows || r.budget.take(now, 1, paddingRunRate, paddingRunBurst) {
			l.endPaddingRun()
		} else {
			l.up.stats.paddingUnforwarded.Add(uint64(r.n))
		}
	}
	r.last, r.n = p, 1
}

// endPaddingRun hands the run on, if there is one, as a packet of its own: the cache
// keeps each padding packet as it came (a replay closes their numbers up one by one),
// and the packet it holds is not written to once queued. Under l.rx.
func (l *layer) endPaddingRun() {
	r := &l.pad
	if r.last == nil {
		return
	}
	run := l.slab.newPacket()
	*run = packet{header: r.last.header, layer: r.last.layer, id: r.last.id, arrival: r.last.arrival, padRun: r.n}
	r.last, r.n = nil, 0
	l.up.forwardAll(run)
}

// forwardAll queues p for every subscription.
func (u *upTrack) forwardAll(p *packet) {
	if subs := u.subs.Load(); subs != nil {
		for _, d := range *subs {
			d.forward(p)
		}
	}
}
