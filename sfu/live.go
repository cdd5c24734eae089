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
// simulcast track reads the engine's clock every liveTick and publishes that reading;
// a packet stores it in its layer when it differs from what the layer holds (a load
// and a compare per packet, a store four times a second, no clock read, no lock, no
// allocation). The ticker finds layers that went quiet and makes the subscriptions
// choose again; a packet that finds its layer quiet for liveWindow makes them choose
// again at once, so a layer coming back is taken without waiting for a tick. Both
// judge on the ticker's reading of the engine's clock, so tests decide with the fake
// clock what "quiet for a second" means.
const (
	liveWindow = time.Second
	liveTick   = 250 * time.Millisecond
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
	lv.tick.Store(u.now().UnixNano())
	lv.stop = u.after(liveTick, u.onLiveTick)
}

// onLiveTick publishes the clock's reading for the readers, and makes the subscriptions
// choose again when a layer went quiet (or came back between two packets' checks).
func (u *upTrack) onLiveTick() {
	lv := &u.live
	now := u.now().UnixNano()
	lv.tick.Store(now)
	mask := u.liveMask(now)
	lv.mu.Lock()
	if lv.stopped {
		lv.mu.Unlock()
		return
	}
	changed := mask != lv.mask
	lv.mask = mask
	lv.stop = u.after(liveTick, u.onLiveTick)
	lv.mu.Unlock()
	if changed {
		u.layersChanged()
	}
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
// A track without a ticker (no simulcast) has every layer there is live.
func (u *upTrack) liveMask(now int64) uint32 {
	paused := u.enc.paused.Load()
	var mask uint32
	for i := range u.layers {
		l := u.layers[i].Load()
		if l == nil {
			continue
		}
		if now == 0 || paused&(1<<i) == 0 && now-l.seen.Load() < int64(liveWindow) {
			mask |= 1 << i
		}
	}
	return mask
}

// noteSeen is the reader's part: called with the ticker's reading when the layer holds
// another, it stores it, and makes the subscriptions choose again when the layer had
// been quiet for liveWindow.
func (l *layer) noteSeen(t int64) {
	if old := l.seen.Swap(t); t-old >= int64(liveWindow) {
		l.up.layersChanged()
	}
}
