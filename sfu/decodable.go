package sfu

import "time"

// A layer can be live (live.go: its packets keep coming) and still show nothing: with
// most of its packets lost between the publisher and the server, and not repaired by
// NACKs, no keyframe of it arrives whole, and a subscriber on it stays frozen, its
// keyframe requests answered by keyframes that never assemble, while a lower layer of
// the same camera arrives whole. Liveness alone keeps the subscriber there for as long
// as the loss lasts.
//
// So a simulcast layer is also judged on whether its keyframes assemble. A keyframe
// request sent for the layer (sendKeyframeRequest) starts a wait; a keyframe of the
// layer that arrives whole (its first packet, then every sequence number up to the one
// with the marker bit, all of the keyframe's timestamp, in the layer's cache, NACK
// repairs included) ends it. A layer whose wait has lasted keyframeWholeWait is
// undecodable, unless no keyframe of it began since the request: then the publisher
// may have let the request pass (libwebrtc answers at most one in 300 ms for all the
// layers of a track, so a request for f just after one for h brings nothing), and the
// server asks once more and waits again before it judges; and a keyframe still
// arriving when the wait is over (a packet of it came, or was repaired, within
// keyframeStall: a large keyframe paced at a low rate, 300 KB at 1 Mbit/s taking
// 2.4 s, or one whose lost packets are repaired late) is waited for, up to
// keyframeAssembleMax after the request, the cache keeping its start meanwhile
// (keyHold, past keyframeReplayAge), unless a packet of it has been missing for
// keyframeHoleAge while later ones came: the NACK generator has given it up by then,
// and nothing else asks for it. A keyframe that began after one that never assembled
// is not taken as arriving by its start alone (the publisher answering the requests of
// several frozen subscribers, one every keyframeInterval), only by packets of it that
// come later. The layer choice (choose.go) takes an undecodable layer as not live while another live layer is not undecodable,
// so a subscriber on it goes down to the best one that is, at once, as from a layer
// that stopped. The server then asks the undecodable layer for
// a keyframe every undecodableProbe itself (nobody else would: no subscriber is on it),
// and the first that arrives whole ends the judgement; the layer is then on the
// probation of a layer back from a loss (layerSettle, live.go), so a loss that comes
// and goes does not make subscribers climb and fall every few seconds.
//
// The readers' part is one atomic store per keyframe's first packet (noteKeyframeStart,
// in receive's branch for keyframes, which exists for the cache): nothing per packet.
// The rest is the liveness ticker's, four times a second: a look through the cache for
// the latest keyframe's packets until it is found whole, and the waits' ages, on the
// engine's clock. A layer that is not live is liveness's: its wait is dropped, so a
// request to a paused or quiet layer does not make it undecodable when it returns.
const (
	// keyframeWholeWait is how long a layer may take to deliver a whole keyframe after
	// one was asked of it: a publisher answers a PLI within a frame or two, and NACK
	// repair of a lost packet takes a few round trips.
	keyframeWholeWait = 2 * time.Second
	// undecodableProbe is how often an undecodable layer is asked for a keyframe, to
	// find when its loss is over: each costs the publisher a keyframe of the layer on
	// the link that loses it, so not much more often than the wait.
	undecodableProbe = 3 * time.Second
	// keyframeStall is how long a keyframe whose packets stopped coming (none new, no
	// repair) is still taken as arriving once the wait is over: two ticks, a NACK
	// repair's round trip or a pacer's gap between bursts.
	keyframeStall = 500 * time.Millisecond
	// keyframeAssembleMax bounds the wait for a keyframe that is still arriving, from
	// the request: 300 KB, about the largest keyframe the cache can judge
	// (keyframeProgress takes cacheSize/2 packets without a gap as whole), paced at
	// 400 kbit/s.
	keyframeAssembleMax = 3 * keyframeWholeWait
	// keyframeHoleAge is how long a packet missing from a keyframe, with packets after
	// it come, stays missing before the keyframe is taken as never to be whole: the
	// NACK generator stops asking for a lost packet after maxNackTries, at most
	// nackRetryInterval apart (240 ms), and nothing else asks the publisher for it.
	keyframeHoleAge = time.Second
)

// keyframeMark packs a keyframe's first packet for noteKeyframeStart: a mark bit, the
// sequence number and the timestamp; 0 is none.
func keyframeMark(seq uint16, ts uint32) uint64 {
	return 1<<48 | uint64(seq)<<32 | uint64(ts)
}

// noteKeyframeStart keeps where the latest keyframe of the layer starts, for the
// ticker to find it whole (judgeKeyframes). Under l.rx.
func (l *layer) noteKeyframeStart(p *packet) {
	if l.rid != "" {
		l.kfStart.Store(keyframeMark(p.header.SequenceNumber, p.header.Timestamp))
	}
}

// noteKeyframeAsked starts the layer's wait for a whole keyframe, unless one is running.
func (l *layer) noteKeyframeAsked() {
	if l.rid != "" {
		l.kfAsked.CompareAndSwap(0, l.up.now().UnixNano())
	}
}

// judgeKeyframes judges the track's live layers (live) at now, the ticker's reading:
// it reports whether a layer became undecodable or whole again, and the layers to ask
// for a keyframe (undecodable, and not asked for undecodableProbe). On the ticker,
// under u.live.mu, which kfWhole and kfProbed are guarded by.
func (u *upTrack) judgeKeyframes(now int64, live uint32) (changed bool, probe uint32) {
	for i := range u.layers {
		l := u.layers[i].Load()
		if l == nil || l.rid == "" {
			continue
		}
		if live&(1<<i) == 0 {
			l.kfAsked.Store(0)
			l.kfReasked = false
			if l.undecodable.Swap(false) {
				u.stats.layersDecodable.Add(1)
				changed = true // its return is judged by liveness's probation
			}
			continue
		}
		k := l.kfStart.Load()
		asked := l.kfAsked.Load()
		arriving := false // a keyframe of it is still arriving and may yet be whole
		if k != 0 && k != l.kfWhole {
			// The cache holds the keyframe's start while a wait runs and while the
			// layer is undecodable: a probe's keyframe as long as the wait is for must
			// be found whole too, or the layer is never taken again.
			whole, held, holed := l.cache.keyframeProgress(uint16(k>>32), uint32(k), asked != 0 || l.undecodable.Load())
			if whole {
				l.kfWhole, l.kfHeldOf, l.kfHeld = k, k, held
				l.kfAsked.Store(0)
				l.kfReasked = false
				if l.undecodable.Swap(false) {
					u.stats.layersDecodable.Add(1)
					l.back.Store(now) // on probation from now (live.go)
					changed = true
				}
				continue
			}
			switch {
			case k != l.kfHeldOf:
				// A new keyframe is one arriving by being new only after one found
				// whole (or none): one after another that never assembled is the
				// publisher answering more requests (several frozen subscribers', one
				// every keyframeInterval), and only its own packets coming after count.
				if l.kfHeldOf == l.kfWhole {
					l.kfGrew = now
				}
				l.kfHeldOf, l.kfHeld = k, held
			case held > l.kfHeld:
				l.kfHeld, l.kfGrew = held, now
			}
			arriving = !holed && now-l.kfGrew < int64(keyframeStall)
		}
		if asked == 0 || now-asked < int64(keyframeWholeWait) {
			continue
		}
		if arriving && !l.undecodable.Load() && now-asked < int64(keyframeAssembleMax) {
			// The keyframe is still arriving (a large one paced at a low rate, or
			// repairs of its lost packets coming late) with no packet missing for
			// keyframeHoleAge: waited for, within the bound.
			continue
		}
		if !l.kfReasked && !l.undecodable.Load() && (k == 0 || k == l.kfWhole) {
			// No keyframe of the layer began since the request: the publisher may
			// have let it pass (libwebrtc answers one in 300 ms for all the layers of
			// a track), which says nothing of the layer. Asked again before it is
			// judged; a second request with nothing begun is judged.
			l.kfReasked = true
			l.kfAsked.Store(now)
			probe |= 1 << i
			continue
		}
		if !l.undecodable.Swap(true) {
			u.stats.layersUndecodable.Add(1)
			changed = true
			l.kfProbed = asked
		}
		if now-l.kfProbed >= int64(undecodableProbe) {
			l.kfProbed = now
			probe |= 1 << i
		}
	}
	return changed, probe
}

// undecodableMask is the set of live layers (live) that are undecodable, none when
// every live layer is: a subscriber is not taken off a layer with nothing better.
func (u *upTrack) undecodableMask(live uint32) uint32 {
	var mask uint32
	for i := range u.layers {
		if l := u.layers[i].Load(); l != nil && l.undecodable.Load() {
			mask |= 1 << i
		}
	}
	mask &= live
	if live&^mask == 0 {
		return 0
	}
	return mask
}

// belowUndecodable is, for each layer in need whose keyframes do not arrive whole, the
// highest present layer below it (and below that one, if it is undecodable too): the
// layer its subscribers are to get instead (undecodableMask) must be asked for, where
// a subscriber that had been on f for encodingOffDelay found h paused and got q for as
// long as f's loss lasted.
func (u *upTrack) belowUndecodable(need, present uint32) uint32 {
	var more uint32
	for i := maxLayers - 1; i > 0; i-- {
		l := u.layers[i].Load()
		if (need|more)&(1<<i) == 0 || l == nil || !l.undecodable.Load() {
			continue
		}
		for j := i - 1; j >= 0; j-- {
			if present&(1<<j) != 0 {
				more |= 1 << j
				break
			}
		}
	}
	return more
}

// keyframeProgress reports whether the keyframe whose first packet is seq, of
// timestamp ts, is held whole: every packet from seq to the one with the marker bit,
// all of ts. A keyframe longer than the cache's half (keyframeRun's bound) is taken as
// whole once that many of its packets are held without a gap: a layer that loses its
// packets shows a gap long before. held counts the packets of the keyframe held, gaps
// or not, so that the ticker sees one still arriving; holed, whether a packet of it
// has been missing while a later one arrived keyframeHoleAge before the newest, so
// that it will not be whole. With hold, the cache keeps the keyframe from seq on, while
// it is the latest, for as long as it may still be judged (keepsKey), where an
// unfinished one would otherwise go keyframeReplayAge after its first packet came.
func (c *packetCache) keyframeProgress(seq uint16, ts uint32, hold bool) (whole bool, held int, holed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.hasNewest {
		return false, 0, false
	}
	gap, ended := false, false
	var gapSeen int64 // the arrival of the first packet held after the first gap
	for i := range uint16(cacheSize / 2) {
		s := seq + i
		if int16(s-c.newest) > 0 {
			break // not come yet
		}
		p := c.slots[s%cacheSize]
		if p == nil || p.header.SequenceNumber != s {
			gap = true
			continue
		}
		if gap && gapSeen == 0 {
			gapSeen = p.arrival
		}
		if p.header.Timestamp != ts {
			break // a later frame: the keyframe ended before it, its marker lost
		}
		held++
		if p.header.Marker {
			ended = true
			break
		}
	}
	whole = !gap && (ended || held == cacheSize/2)
	c.keyHold = hold && !whole && c.hasKey && c.keySeq == seq
	return whole, held, gapSeen != 0 && c.newestAt-gapSeen > int64(keyframeHoleAge)
}
