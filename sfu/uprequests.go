package sfu

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// What a published track asks its publisher for: the packets lost on the way to the
// server (NACKs, which the loss tracker decides, nackgen.go) and keyframes, coalesced
// per layer (keyframeThrottle).

// nackPublisher asks the publisher again for the packets in seqs (lossTracker decides
// which and how often). Under l.rx.
func (l *layer) nackPublisher(seqs []uint16, gaveUp int) {
	u := l.up
	l.nackBuf = seqs[:0]
	if gaveUp > 0 {
		u.stats.nackGaveUp.Add(uint64(gaveUp))
	}
	if len(seqs) == 0 || u.blocked.Load() || l.remote == nil {
		return
	}
	u.stats.nacksSent.Add(1)
	u.stats.nackedPackets.Add(uint64(len(seqs)))
	_ = u.owner.writePublishRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{
		MediaSSRC: uint32(l.remote.SSRC()),
		Nacks:     rtcp.NackPairsFromSequenceNumbers(seqs),
	}})
}

// requestKeyframe asks the publisher for a keyframe of layer i (of the lowest layer
// there is when i has none), at most once per keyframeInterval per layer; a request
// inside the interval is deferred to its end rather than lost, so a subscriber that joins
// just after another still gets a keyframe quickly. Requests merged into one already
// pending are counted as coalesced.
func (u *upTrack) requestKeyframe(i int) {
	if u.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	l := u.layer(i)
	for j := 0; l == nil && j < maxLayers; j++ {
		l = u.layer(j)
	}
	if l == nil {
		return
	}
	if !l.kf.request(u.now, u.afterFunc(), l.sendKeyframeRequest) {
		u.stats.keyframesCoalesced.Add(1)
	}
}

func (l *layer) sendKeyframeRequest() {
	l.up.stats.keyframesOut.Add(1)
	l.noteKeyframeAsked()
	if l.remote == nil {
		return
	}
	ssrc := uint32(l.remote.SSRC())
	_ = l.up.owner.writePublishRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
}

// keyframeThrottle coalesces keyframe requests. Its deferred send runs on the engine's
// timers (Config.AfterFunc), so tests move it with the fake clock.
type keyframeThrottle struct {
	mu        sync.Mutex
	last      time.Time
	pending   bool
	stopTimer func() bool
	stopped   bool
}

// request sends at once or schedules the send at the end of the interval on after; it
// reports false when the request was merged into one already scheduled (or the track
// ended).
func (k *keyframeThrottle) request(now func() time.Time, after func(time.Duration, func()) func() bool, send func()) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped || k.pending {
		return false
	}
	t := now()
	if wait := k.last.Add(keyframeInterval).Sub(t); wait > 0 {
		k.pending = true
		k.stopTimer = after(wait, func() {
			k.mu.Lock()
			defer k.mu.Unlock()
			k.pending = false
			if k.stopped {
				return
			}
			k.last = now()
			send()
		})
		return true
	}
	k.last = t
	send()
	return true
}

func (k *keyframeThrottle) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stopped = true
	if k.stopTimer != nil {
		k.stopTimer()
	}
}
