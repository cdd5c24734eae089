package sfu

import (
	"sync"
	"sync/atomic"
	"time"
)

// Browsers stop sending simulcast layers on their own: Chromium never sends the top
// one for a small camera and drops layers when short of CPU or bandwidth, Firefox
// halves all of them under CPU pressure, and a publisher told by "encodings" pauses
// the ones nobody needs. A subscription waiting for a keyframe of a layer that does
// not come would show a frozen picture, so the layer choice (choose.go) takes only
// live layers: those a packet arrived on within liveWindow, and that the publisher was
// not told to pause.
//
// The reader path only stores a timestamp, and not even a fresh one: a ticker per
// simulcast track reads the engine's clock every liveTick (at its multiples, as all the
// engine's tickers: untilNext) and publishes that reading;
// a packet stores it in its layer when it differs from what the layer holds (a load
// and a compare per packet, a store four times a second, no clock read, no lock, no
// allocation). The ticker finds layers that went quiet and makes the subscriptions
// choose again; a packet that finds its layer quiet for liveWindow makes them choose
// again at once, so a layer coming back is taken without waiting for a tick. Both
// judge on the ticker's reading of the engine's clock, so tests decide with the fake
// clock what "quiet for a second" means.
//
// A layer that comes back after it was lost is not climbed to at once: Chromium under
// changing bandwidth or CPU drops and restores its top layer every few seconds, and
// each climb costs the subscriber a keyframe request, a wait for it and, when the layer
// goes again, a second of still picture. So a layer back from a loss is on probation
// until its packets have kept coming for layerSettle (no gap of liveWindow, which would
// be another loss); meanwhile a subscriber on a live layer does not climb to it, while
// one on a layer that is not live takes any live layer at once (it must not wait with
// a frozen picture), and going down stays as immediate as before. The probation costs
// the readers nothing per packet: the packet that brings the layer back stores the
// ticker's reading in the layer's back, and the one that first carries a reading
// layerSettle later makes the subscriptions choose again, both in noteSeen, which runs
// only when the ticker's reading changed (no clock read, no lock, no allocation).
// Layers never lost (a fresh publisher's) are not on probation, nor a layer the SFU
// paused and asked for again (encodings.go): that return is no sign of a publisher
// that cannot keep the layer.
const (
	liveWindow  = time.Second
	liveTick    = 250 * time.Millisecond
	layerSettle = 2 * time.Second
)

// liveness is one simulcast track's ticker.
type liveness struct {
	tick atomic.Int64 // the clock at the latest tick, in Unix nanoseconds; 0: no ticker

	mu      sync.Mutex
	stop    func() bool // the pending tick
	stopped bool
	mask    uint32 // the layers live at the latest tick
}

// startLiveness starts the track's ticker, once; the track's first layer with a RID
// calls it before the layer is added.
func (u *upTrack) startLiveness() {
	lv := &u.live
	if u.after == nil {
		return
	}
	lv.mu.Lock()
	defer lv.mu.Unlock()
	if lv.stopped || lv.tick.Load() != 0 {
		return
	}
	now := u.now()
	lv.tick.Store(now.UnixNano())
	lv.stop = u.after(untilNext(now, liveTick), u.onLiveTick)
}

// onLiveTick publishes the clock's reading for the readers, and makes the subscriptions
// choose again when a layer went quiet (or came back between two packets' checks).
func (u *upTrack) onLiveTick() {
	lv := &u.live
	now := u.now().UnixNano()
	mask := u.liveMask(now)
	lv.mu.Lock()
	if lv.stopped {
		lv.mu.Unlock()
		return
	}
	judged, probe := u.judgeKeyframes(now, mask)
	changed := mask != lv.mask || judged
	// A layer live at two ticks in a row is back, if it was away: a resumption the SFU
	// asked for that did not end a silence must not spare the layer's next return after
	// a loss its probation.
	for i := range u.layers {
		if l := u.layers[i].Load(); l != nil && mask&lv.mask&(1<<i) != 0 {
			l.resumed.Store(false)
		}
	}
	lv.mask = mask
	u.measureRates(now)
	lv.stop = u.after(untilNext(time.Unix(0, now), liveTick), u.onLiveTick)
	// Published once the next tick is on the clock, so a test that sees this reading
	// may move the fake clock on and count on the next tick; before the subscriptions
	// choose, which read it.
	lv.tick.Store(now)
	lv.mu.Unlock()
	if changed {
		u.layersChanged()
	}
	for i := range maxLayers {
		if probe&(1<<i) != 0 {
			u.requestKeyframe(i) // an undecodable layer's loss may be over (decodable.go)
		}
	}
}

// unsee takes layers out of the set the latest tick found live, so the next tick that
// finds them live makes the subscriptions choose again.
func (lv *liveness) unsee(layers uint32) {
	lv.mu.Lock()
	lv.mask &^= layers
	lv.mu.Unlock()
}

// stopLiveness ends the ticker.
func (u *upTrack) stopLiveness() {
	lv := &u.live
	lv.mu.Lock()
	defer lv.mu.Unlock()
	lv.stopped = true
	if lv.stop != nil {
		lv.stop()
		lv.stop = nil
	}
}

// liveMask is the set of layers live at now (Unix nanoseconds of the ticker's clock).
// A track without a ticker, and a layer without a RID, is live while it is there.
func (u *upTrack) liveMask(now int64) uint32 {
	paused := u.enc.paused.Load()
	var mask uint32
	for i := range u.layers {
		l := u.layers[i].Load()
		if l == nil {
			continue
		}
		if now == 0 || l.rid == "" || paused&(1<<i) == 0 && now-l.seen.Load() < int64(liveWindow) {
			mask |= 1 << i
		}
	}
	return mask
}

// settledMask is the set of layers not on probation: never lost, or arriving for
// layerSettle since they came back.
func (u *upTrack) settledMask() uint32 {
	var mask uint32
	for i := range u.layers {
		if l := u.layers[i].Load(); l != nil && l.settled(l.seen.Load()) {
			mask |= 1 << i
		}
	}
	return mask
}

// settled says whether the layer is off probation when its latest packet came at seen.
func (l *layer) settled(seen int64) bool {
	back := l.back.Load()
	return back == 0 || seen-back >= int64(layerSettle)
}

// noteSeen is the reader's part: called with the ticker's reading when the layer holds
// another, it stores it, and makes the subscriptions choose again when the layer had
// been quiet for liveWindow, or its probation ends. A return starts the probation
// unless the SFU had paused the layer and asked for it again.
func (l *layer) noteSeen(t int64) {
	old := l.seen.Swap(t)
	switch {
	case t-old >= int64(liveWindow):
		if !l.resumed.Swap(false) {
			l.back.Store(t)
		}
		l.up.layersChanged()
	case !l.settled(old) && l.settled(t):
		l.up.layersChanged()
	}
}
