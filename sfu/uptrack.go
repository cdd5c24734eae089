package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// upTrack is one track a participant publishes: one media section of its publish
// connection. A simulcast camera sends that track in up to three layers (RIDs q, h, f),
// each its own RTP stream with its own reader, cache and keyframe requests; subscribers
// see one track and get one layer of it at a time (forwarder.go). A track without
// simulcast is a track with one layer. Subscriptions are a copy-on-write snapshot so the
// readers' hot loop takes no lock.
type upTrack struct {
	id     string
	owner  *Participant
	source Source
	kind   webrtc.RTPCodecType
	codec  webrtc.RTPCodecCapability

	// Resolved once when the track starts, so the per-packet loop does no lookups.
	blocked *atomic.Bool                            // the owner's block flag for this source
	tap     func(TapPacket)                         // the engine's test tap, usually nil
	stats   *counters                               // the engine's counters
	clock   func() time.Time                        // the engine's clock; nil means time.Now
	after   func(time.Duration, func()) func() bool // the engine's timers; nil: no liveness ticker, real timers for keyframe requests
	given   func(time.Duration, func()) func() bool // Engine.given: nil, a resetTimer is on the system's clock

	// layers by index (layerIndex: RID order); set once each, when its stream starts.
	layers [maxLayers]atomic.Pointer[layer]
	// packets counts the packets its layers received, each one's id (packet.id).
	packets atomic.Uint64

	subs    atomic.Pointer[[]*downTrack]
	mu      sync.Mutex // guards done, running and writes to subs
	done    bool
	running int // layers whose reader has not ended

	enc  encodingState // what the publisher is asked to send (encodings.go)
	live liveness      // which layers arrive (live.go)
}

// maxLayers is the most simulcast layers a track has.
const maxLayers = 3

// layerIndex orders a layer by its RID, lowest resolution first, as the protocol names
// them; the stream of a track without simulcast (no RID) is layer 0. ok is false for a
// RID the protocol does not know.
func layerIndex(rid string) (int, bool) {
	switch rid {
	case "", "q":
		return 0, true
	case "h":
		return 1, true
	case "f":
		return 2, true
	}
	return 0, false
}

// layerRIDs names the layers by index.
var layerRIDs = [maxLayers]string{"q", "h", "f"}

// layer is one RTP stream of a track. Its packets are received one at a time, under rx:
// by the media socket's reader once the stream is registered there (rtpin.go), by the
// layer's Pion reader (run) before and whenever Pion's path is used.
type layer struct {
	up    *upTrack
	index uint8
	rid   string // "" for a track without simulcast
	// mid is its transceiver's, and midID and ridID the ids of the header extensions
	// that carry mid and rid on the connection (0: not negotiated): a packet under a new
	// SSRC that names a layer read under another is dropped (Participant.rebindsLayer).
	mid          string
	midID, ridID uint8
	// types are the payload types its packets may carry (payloadtype.go).
	types  payloadTypes
	remote *webrtc.TrackRemote
	cache  packetCache
	// tailTimer is the tail watch's, on the engine's clock, made when it first arms
	// (tailloss.go).
	tailTimer resetTimer

	// rx serialises receiving (receive): the socket reader and the layer's Pion reader
	// may each have a packet. It guards pkt, loss, nackBuf, tail and slab.
	rx      sync.Mutex
	pkt     rtp.Packet // parsed into for every packet
	loss    lossTracker
	nackBuf []uint16
	tail    tailWatch  // a frame whose last packets do not come (tailloss.go)
	slab    packetSlab // what received packets are made of (packetslab.go)

	// feedback is the publish connection's feedback (pubfeedback.go) and rr this
	// stream's part of it; twccID is the id of the transport-cc header extension, 0
	// without one. feedback is nil for a layer made without a connection (tests).
	feedback *pubFeedback
	rr       *rrStream
	twccID   uint8
	// ssrc is the stream's, known from its first packet; takenAt is that packet's
	// sequence number, and taken whether the socket reader has decrypted one of the
	// stream's packets (both guarded by the rtpIn's mu once the layer is indexed).
	ssrc    uint32
	takenAt uint16
	taken   bool

	// sr is the publisher's latest sender report for this stream, if any;
	// srForwarded is when one was last forwarded (zero: never), its RTCP reader's own.
	sr          atomic.Pointer[senderReport]
	srForwarded time.Time
	// size is the frame size of the latest keyframe, width<<16 | height; 0: unknown.
	size atomic.Uint32
	// seen is the liveness ticker's reading when a packet last arrived (live.go).
	seen atomic.Int64
	// back is the ticker's reading when the layer came back after a loss, for its
	// probation (live.go); 0: never lost.
	back atomic.Int64
	// resumed: the SFU asked the publisher for the layer again after it paused it, so
	// its return ends no loss (live.go).
	resumed atomic.Bool
	// kfStart is where the latest keyframe starts (keyframeMark), kfAsked when the
	// wait for a whole keyframe started (engine clock, Unix nanoseconds; 0: none), and
	// undecodable whether it lasted keyframeWholeWait (decodable.go). kfWhole, the
	// latest keyframe found whole, kfProbed, when the server last asked an
	// undecodable layer for one, and kfReasked, whether the running wait is the second
	// after a request that no keyframe answered, are the liveness ticker's, as are
	// kfHeldOf, the keyframe whose packets kfHeld counts, and kfGrew, when that count
	// last grew (a keyframe still arriving).
	kfStart     atomic.Uint64
	kfAsked     atomic.Int64
	undecodable atomic.Bool
	kfWhole     uint64
	kfProbed    int64
	kfReasked   bool
	kfHeldOf    uint64
	kfHeld      int
	kfGrew      int64
	// bytes counts the RTP bytes received (the reader's one atomic add per packet);
	// the liveness ticker turns it into bitrate, bits per second over rateWindow, 0
	// until a window is measured (rate.go). rate is the ticker's own.
	bytes   atomic.Uint64
	bitrate atomic.Int64
	rated   atomic.Bool // bitrate has been measured over a window
	rate    rateMeter

	// pad is the run of padding not yet handed on (paddingrun.go); under rx.
	pad paddingRun

	kf keyframeThrottle
	// audio bounds what an audio stream has forwarded (audiocap.go); a video layer's
	// is unused.
	audio audioCap

	// level, for a microphone whose publisher sends audio levels: speaker detection
	// (audiolevel.go); nil otherwise.
	level *levelReader
}

// layer returns layer i, or nil.
func (u *upTrack) layer(i int) *layer {
	if i < 0 || i >= maxLayers {
		return nil
	}
	return u.layers[i].Load()
}

// simulcast reports whether the track's streams carry RIDs.
func (u *upTrack) simulcast() bool {
	for i := range u.layers {
		if l := u.layers[i].Load(); l != nil {
			return l.rid != ""
		}
	}
	return false
}

// addLayer adds a stream to the track; false when the track has ended or already has
// that layer. The caller then runs the layer's reader (run).
func (u *upTrack) addLayer(l *layer) bool {
	u.mu.Lock()
	if u.done || u.layers[l.index].Load() != nil {
		u.mu.Unlock()
		return false
	}
	l.up = u
	// Every track has the ticker: it measures the layers' bitrates (rate.go), which
	// the bandwidth allocation shares out (alloc.go); liveness is judged for simulcast
	// layers only.
	u.startLiveness()
	l.seen.Store(u.live.tick.Load())
	u.layers[l.index].Store(l)
	u.running++
	u.mu.Unlock()
	u.layersChanged()
	return true
}

// layerEnded notes that a layer's reader stopped; the track ends with its last layer.
func (u *upTrack) layerEnded() {
	u.mu.Lock()
	u.running--
	last := u.running <= 0
	u.mu.Unlock()
	if last {
		u.owner.room.unpublish(u)
	}
}

// layersChanged makes every subscription choose its layer again: a layer came, or its
// size is now known.
func (u *upTrack) layersChanged() {
	if subs := u.subs.Load(); subs != nil {
		for _, d := range *subs {
			d.choose()
		}
	}
	u.updateEncodings()
}

// addSub registers d, unless the track has already ended.
func (u *upTrack) addSub(d *downTrack) bool {
	u.mu.Lock()
	if u.done {
		u.mu.Unlock()
		return false
	}
	var next []*downTrack
	if cur := u.subs.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, d)
	u.subs.Store(&next)
	u.mu.Unlock()
	u.updateEncodings()
	return true
}

func (u *upTrack) removeSub(d *downTrack) {
	u.mu.Lock()
	cur := u.subs.Load()
	if cur == nil {
		u.mu.Unlock()
		return
	}
	next := make([]*downTrack, 0, len(*cur))
	for _, x := range *cur {
		if x != d {
			next = append(next, x)
		}
	}
	u.subs.Store(&next)
	u.mu.Unlock()
	d.detach()
	u.updateEncodings()
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

// stop cancels the track's pending keyframe requests and encoding changes.
func (u *upTrack) stop() {
	for i := range u.layers {
		if l := u.layers[i].Load(); l != nil {
			l.kf.stop()
		}
	}
	u.enc.stop()
	u.stopLiveness()
}

func (u *upTrack) now() time.Time {
	if u.clock == nil {
		return time.Now()
	}
	return u.clock()
}

// newTimer is a resetTimer that runs f on the engine's timers: the system's, with one
// time.Timer for its life, unless the engine was given timers (a test's fake clock),
// which then run on the engine's clock. An engine given a clock but not timers (most
// tests) times it on the system's clock, as its other timers.
func (u *upTrack) newTimer(f func()) resetTimer {
	if u.given == nil {
		return &sysTimer{f: f}
	}
	return &clockTimer{now: u.now, after: u.given, f: f}
}

// afterFunc is the engine's timers, or the real ones for a track made without an engine.
func (u *upTrack) afterFunc() func(time.Duration, func()) func() bool {
	if u.after == nil {
		return func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	return u.after
}

// ended reports whether the track has been unpublished.
func (u *upTrack) ended() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.done
}
