package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// upTrack is one track a participant publishes. Its reader goroutine is the only one that
// reads the track; subscriptions are a copy-on-write snapshot so the hot loop takes no lock.
type upTrack struct {
	id     string
	owner  *Participant
	source Source
	kind   webrtc.RTPCodecType
	codec  webrtc.RTPCodecCapability
	remote *webrtc.TrackRemote
	cache  packetCache

	// Resolved once when the track starts, so the per-packet loop does no lookups.
	blocked *atomic.Bool     // the owner's block flag for this source
	tap     func(TapPacket)  // the engine's test tap, usually nil
	stats   *counters        // the engine's counters
	clock   func() time.Time // the engine's clock; nil means time.Now

	// Touched only by the reader goroutine: the publisher's lost packets, and a buffer
	// for the NACK naming them.
	loss    lossTracker
	nackBuf []uint16

	// sr is the publisher's latest sender report for this track, if any.
	sr atomic.Pointer[senderReport]

	subs atomic.Pointer[[]*downTrack]
	mu   sync.Mutex // guards closed and writes to subs
	done bool

	kf keyframeThrottle
}

// run reads packets until the track ends, then unpublishes it.
func (u *upTrack) run() {
	defer u.owner.room.unpublish(u)
	buf := make([]byte, 1500)
	for {
		n, _, err := u.remote.Read(buf)
		if err != nil {
			return
		}
		p := &packet{}
		raw := make([]byte, n)
		copy(raw, buf[:n])
		var pkt rtp.Packet
		if err := pkt.Unmarshal(raw); err != nil {
			continue
		}
		p.header = pkt.Header
		p.header.Extension = false
		p.header.Extensions = nil
		p.header.ExtensionProfile = 0
		p.payload = pkt.Payload
		if pkt.PaddingSize != 0 && p.header.PaddingSize == 0 {
			p.header.PaddingSize = pkt.PaddingSize
		}
		if seqs, gaveUp := u.loss.onPacket(p.header.SequenceNumber, u.now, u.nackBuf[:0]); len(seqs) > 0 || gaveUp > 0 {
			u.nackPublisher(seqs, gaveUp)
		}
		if u.blocked.Load() {
			continue
		}
		if tap := u.tap; tap != nil {
			tap(TapPacket{ParticipantID: u.owner.id, Source: u.source, SequenceNumber: p.header.SequenceNumber,
				Timestamp: p.header.Timestamp, Marker: p.header.Marker, Payload: p.payload})
		}
		u.cache.put(p)
		if subs := u.subs.Load(); subs != nil {
			for _, d := range *subs {
				d.forward(p)
			}
		}
	}
}

// addSub registers d, unless the track has already ended.
func (u *upTrack) addSub(d *downTrack) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return false
	}
	var next []*downTrack
	if cur := u.subs.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, d)
	u.subs.Store(&next)
	return true
}

func (u *upTrack) removeSub(d *downTrack) {
	u.mu.Lock()
	defer u.mu.Unlock()
	cur := u.subs.Load()
	if cur == nil {
		return
	}
	next := make([]*downTrack, 0, len(*cur))
	for _, x := range *cur {
		if x != d {
			next = append(next, x)
		}
	}
	u.subs.Store(&next)
}

// end marks the track finished and returns its subscriptions, which the caller detaches.
func (u *upTrack) end() []*downTrack {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.done = true
	cur := u.subs.Swap(&[]*downTrack{})
	if cur == nil {
		return nil
	}
	return *cur
}

func (u *upTrack) now() time.Time {
	if u.clock == nil {
		return time.Now()
	}
	return u.clock()
}

// nackPublisher asks the publisher again for the packets in seqs (lossTracker decides
// which and how often). Called only by the reader goroutine.
func (u *upTrack) nackPublisher(seqs []uint16, gaveUp int) {
	u.nackBuf = seqs[:0]
	if gaveUp > 0 {
		u.stats.nackGaveUp.Add(uint64(gaveUp))
	}
	if len(seqs) == 0 || u.blocked.Load() || u.remote == nil {
		return
	}
	u.stats.nacksSent.Add(1)
	u.stats.nackedPackets.Add(uint64(len(seqs)))
	_ = u.owner.writePublishRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{
		MediaSSRC: uint32(u.remote.SSRC()),
		Nacks:     rtcp.NackPairsFromSequenceNumbers(seqs),
	}})
}

// requestKeyframe asks the publisher for a keyframe, at most once per keyframeInterval;
// a request inside the interval is deferred to its end rather than lost, so a subscriber
// that joins just after another still gets a keyframe quickly. Requests merged into one
// already pending are counted as coalesced.
func (u *upTrack) requestKeyframe() {
	if u.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	if !u.kf.request(u.now, u.sendKeyframeRequest) {
		u.stats.keyframesCoalesced.Add(1)
	}
}

func (u *upTrack) sendKeyframeRequest() {
	u.stats.keyframesOut.Add(1)
	if u.remote == nil {
		return
	}
	ssrc := uint32(u.remote.SSRC())
	_ = u.owner.writePublishRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
}

// keyframeThrottle coalesces keyframe requests.
type keyframeThrottle struct {
	mu      sync.Mutex
	last    time.Time
	pending bool
	timer   *time.Timer
	stopped bool
}

// request sends at once or schedules the send at the end of the interval; it reports
// false when the request was merged into one already scheduled (or the track ended).
func (k *keyframeThrottle) request(now func() time.Time, send func()) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped || k.pending {
		return false
	}
	t := now()
	if wait := k.last.Add(keyframeInterval).Sub(t); wait > 0 {
		k.pending = true
		k.timer = time.AfterFunc(wait, func() {
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
	if k.timer != nil {
		k.timer.Stop()
	}
}
