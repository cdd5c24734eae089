package sfu

import (
	"sync"
	"time"
)

// Keyframe requests from one subscriber. A keyframe costs every subscriber of the track
// several times the bandwidth of a delta frame, so one subscriber on a lossy link must not
// be able to make the publisher send them back to back for everyone:
//
//   - A PLI or FIR that follows a NACK the SFU answered in full is absorbed once: the
//     retransmissions already on their way repair the picture (receivers often send a
//     PLI as soon as a frame is late, before the retransmission arrives).
//   - Otherwise a subscriber's requests reach the publisher track at most once per
//     subscriberKeyframeInterval; the ones in between are dropped and counted. Receivers
//     repeat a request while they still cannot decode, so none waits longer than that.
//   - The forwarder's own requests (a layer switch, a tile shown again after a hide)
//     draw on a budget of their own: a few at once, then one per
//     subscriberKeyframeInterval, so that a subscriber toggling its view asks no more
//     often than its PLIs may.
//   - The publisher track's own throttle (keyframeThrottle) then merges the requests of
//     all subscribers.
//
// A new subscription asks through upTrack.requestKeyframe directly, so joining is never
// held back by these limits; in an end-to-end encrypted meeting it leaves the asking to
// its subscriber (downTrack.askJoinKeyframe), whose first request passes at once.
const (
	// subscriberKeyframeInterval is the least time between two keyframe requests one
	// subscription passes on to the publisher.
	subscriberKeyframeInterval = 2 * time.Second
	// rtxRepairWindow is how long after a fully answered NACK a keyframe request is
	// taken to be about the packets being resent.
	rtxRepairWindow = 300 * time.Millisecond
)

// keyframeVerdict says what became of one keyframe request from a subscriber.
type keyframeVerdict int

const (
	keyframeForward  keyframeVerdict = iota // passed on to the publisher track
	keyframeRepaired                        // absorbed: retransmissions repair the loss
	keyframeLimited                         // dropped: this subscriber asked too recently
)

// subscriberKeyframes is one subscription's keyframe request state. Its clock is the
// engine's, passed in.
type subscriberKeyframes struct {
	mu            sync.Mutex
	lastForwarded time.Time // zero: never
	lastRepair    time.Time // a NACK answered in full; zero: none pending
	lastAbsorbed  time.Time // the last request absorbed by a repair
	// The forwarder's own requests (a layer switch, a restart after a hide): a bucket
	// of switchKeyframeBurst, one back per subscriberKeyframeInterval.
	switchTokens float64
	switchAt     time.Time // zero: the bucket is full
}

// switchKeyframeBurst is how many keyframe requests a subscription's switches may make
// at once; beyond it they come back one per subscriberKeyframeInterval, as PLIs do.
const switchKeyframeBurst = 8

// answeredNack notes that every packet of a subscriber's NACK was queued again.
func (s *subscriberKeyframes) answeredNack(now time.Time) {
	s.mu.Lock()
	s.lastRepair = now
	s.mu.Unlock()
}

// repairFailed notes that a retransmission queued for a NACK could not be sent after
// all: the next keyframe request is not absorbed as repaired by it.
func (s *subscriberKeyframes) repairFailed() {
	s.mu.Lock()
	s.lastRepair = time.Time{}
	s.mu.Unlock()
}

// request decides what to do with a keyframe request arriving at now.
func (s *subscriberKeyframes) request(now time.Time) keyframeVerdict {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lastRepair.IsZero() && now.Sub(s.lastRepair) < rtxRepairWindow &&
		(s.lastAbsorbed.IsZero() || now.Sub(s.lastAbsorbed) >= subscriberKeyframeInterval) {
		// Each answered NACK absorbs at most one request, and absorbing happens at most
		// once per interval: requests that keep coming mean retransmissions do not help.
		s.lastRepair = time.Time{}
		s.lastAbsorbed = now
		return keyframeRepaired
	}
	if !s.lastForwarded.IsZero() && now.Sub(s.lastForwarded) < subscriberKeyframeInterval {
		return keyframeLimited
	}
	s.lastForwarded = now
	return keyframeForward
}

// forSwitch decides whether a keyframe request that a layer switch or a restart after a
// hide makes (forwarder.askKeyframe) passes: a few at once (a tile shown, a climb), then
// at most one per subscriberKeyframeInterval, so that a subscriber toggling its view
// asks no more often than its PLIs could.
func (s *subscriberKeyframes) forSwitch(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.switchAt.IsZero() {
		s.switchTokens = switchKeyframeBurst
	} else if dt := now.Sub(s.switchAt); dt > 0 {
		s.switchTokens = min(s.switchTokens+float64(dt)/float64(subscriberKeyframeInterval), switchKeyframeBurst)
	}
	s.switchAt = now
	if s.switchTokens < 1 {
		return false
	}
	s.switchTokens--
	return true
}
