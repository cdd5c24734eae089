package sfu

import (
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// A new subscriber can show nothing before a keyframe. Its subscription asks the
// publisher for one at once (Bind), but the publisher track's throttle
// (keyframeThrottle) defers a request made within keyframeInterval of the last one, and
// the keyframe then takes the publisher's encoding time and a round trip. So when the
// track's cache holds a recent keyframe and every packet since, the new subscription is
// also sent that run at once, as soon as its connection carries SRTP. Only headers are
// rewritten (the payloads may be end-to-end encrypted); the run goes through the
// subscription's forwarder like any packet, so sequence numbers, timestamps and VP8
// picture IDs continue from it into the live packets without a gap. A simulcast
// subscription replays from the layer it is switching to.
//
// In an end-to-end encrypted meeting a newcomer gets the senders' keys ratcheted on
// its join and cannot decrypt frames from before: only a keyframe that came at least
// encryptedReplayAfter after the subscriber joined is replayed, which serves members
// subscribing to a track that starts later (someone who joins, a camera or a screen
// turned on) and never a newcomer, whom the keyframe its browser asks for serves
// (downTrack.askJoinKeyframe). Everything here runs on the subscriber's writer
// goroutine, except the queuing of markers.

// keyframeReplayAge is the oldest keyframe replayed to a new subscriber. An older one
// would be followed by too long a burst of frames the subscriber shows in fast motion;
// the packet cache bounds the run too (keyframeRun).
const keyframeReplayAge = 2 * time.Second

// encryptedReplayAfter is how long after a subscriber joined an end-to-end encrypted
// meeting a keyframe must have come to be replayed to it: the senders' pages ratchet
// their keys when they learn of the join, within milliseconds unless a page stalls, and
// a keyframe from before that is of no use to the subscriber (its page drops it).
const encryptedReplayAfter = time.Second

// replayAttempts is how often a replay whose first packet Pion did not send (SRTP not
// yet ready although the connection says connected) is tried again before the
// subscription gives up on it and waits for the keyframe asked for.
const replayAttempts = 8

// replayMarker, queued as a sendItem's packet, makes the writer try the subscription's
// replay now rather than at its next live packet.
var replayMarker = &packet{}

// replayState is a video subscription's replay, owned by the writer.
type replayState struct {
	pending  bool // nothing replayed yet, and the subscription may still need it
	attempts int
	// After a replay the live packets queued meanwhile that it already carried (layer
	// layer, sequence numbers up to to) are dropped.
	dedupe bool
	layer  uint8
	to     uint16
	buf    []*packet
}

// startsKeyframe reports whether a VP8 payload is the first packet of a keyframe.
func startsKeyframe(payload []byte) bool {
	d, ok := parseVP8(payload)
	return ok && d.keyframe
}

// queueReplay asks the writer to replay now, if the subscription still waits for one.
func (d *downTrack) queueReplay() {
	if d.fw != nil {
		d.sub.out.enqueue(sendItem{d: d, p: replayMarker}, true)
	}
}

// replayBefore runs before the writer sends p while a replay is pending or just done:
// it replays first (if it can), then reports whether p is a packet the replay already
// carried.
func (d *downTrack) replayBefore(p *packet, h *rtp.Header, b *binding) (dup bool) {
	rp := &d.fw.rp
	if rp.pending {
		d.replay(h, b, p)
	}
	if rp.dedupe && p.layer == rp.layer {
		if int16(p.header.SequenceNumber-rp.to) <= 0 {
			return true
		}
		rp.dedupe = false
	}
	return false
}

// replayNow serves a replay marker.
func (d *downTrack) replayNow(h *rtp.Header) {
	b := d.binding.Load()
	if b == nil || !d.fw.rp.pending {
		return
	}
	d.replay(h, b, nil)
}

// replay sends the latest keyframe run of the layer the subscription starts with: up to
// the packet before next when next is of that layer (next is then sent by the caller),
// else up to the newest packet cached.
func (d *downTrack) replay(h *rtp.Header, b *binding, next *packet) {
	f := d.fw
	rp := &f.rp
	if !d.sub.subscribeConnected() {
		return // Pion drops what is written before SRTP runs: keep the run for later
	}
	if c := d.ctl.Load(); c != f.ctl {
		d.applyCtl(c)
	}
	layer := 0
	if !f.passthrough {
		layer = f.target
	}
	l := d.up.layer(layer)
	if f.target < 0 || l == nil {
		rp.pending = false // hidden, or a layer not there yet: the forwarder asks when it needs to
		return
	}
	if d.up.blocked.Load() {
		// A moderator stopped the source: what the cache holds from before goes to
		// nobody new, as nothing live does (layer.receive).
		rp.pending = false
		return
	}
	to, toNewest := uint16(0), true
	if next != nil && int(next.layer) == layer {
		if startsKeyframe(next.payload) {
			rp.pending = false // the live packet starts a keyframe itself
			return
		}
		to, toNewest = next.header.SequenceNumber-1, false
	}
	now, maxAge := d.up.now(), keyframeReplayAge
	if d.encrypted {
		maxAge = min(maxAge, now.Sub(d.sub.joined)-encryptedReplayAfter)
		if maxAge < 0 {
			rp.pending = false // a newcomer: nothing cached is from after its keys
			return
		}
	}
	run, ok := l.cache.keyframeRun(now, maxAge, to, toNewest, rp.buf[:0])
	defer func() {
		clear(run) // the packets are not kept past their time in the cache
		rp.buf = run[:0]
	}()
	if !ok {
		rp.pending = false
		return
	}
	q := d.sub.out
	if wb := q.batch; wb != nil && wb.arrival != 0 {
		// A replay a live packet set off (replayBefore) goes out before it: its
		// packets are old, not forwarded as they came, and their delay is not the
		// live packet's (forwarddelay.go).
		arrival := wb.arrival
		wb.arrival = 0
		defer func() { wb.arrival = arrival }()
	}
	for i, p := range run {
		n, wire, ok := d.send(p, h, b, false)
		if i == 0 && (!ok || wire == 0) {
			if rp.attempts++; rp.attempts >= replayAttempts {
				rp.pending = false
			}
			return
		}
		if ok {
			q.forwarded.Add(1)
			q.bytes.Add(uint64(n))
		}
	}
	rp.pending = false
	rp.dedupe, rp.layer, rp.to = true, uint8(layer), run[len(run)-1].header.SequenceNumber
	d.up.stats.keyframesReplayed.Add(1)
}

// subscribeConnected reports whether the subscribe connection is up (Pion starts SRTP
// before it says so). A participant without one (tests of the forwarding alone) is.
func (p *Participant) subscribeConnected() bool {
	if p.own != nil {
		return p.own.connected.Load()
	}
	return p.sub == nil || p.sub.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// onSubscribeState makes every subscription replay as soon as the subscribe connection
// is up, instead of at its next live packet.
func (p *Participant) onSubscribeState(s webrtc.PeerConnectionState) {
	if s != webrtc.PeerConnectionStateConnected {
		return
	}
	downs := p.subscriptions()
	for _, d := range downs {
		if d.binding.Load() != nil {
			d.queueReplay()
		}
	}
}
