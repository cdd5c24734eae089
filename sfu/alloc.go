package sfu

import (
	"cmp"
	"slices"
	"time"

	"github.com/pion/webrtc/v4"
)

// The allocation shares a subscriber's estimated bandwidth (bwe.go) out over what it
// is sent: audio first, what each audio track measures plus its packets' overhead
// (audioReserve until measured; audio is never cut, and a silent track costs nothing), then
// the video it shows, largest tiles first (equal ones by tilePriority), each at the
// best live layer that fits what is left and never above what its size calls for
// (chooseLayer). A tile for which not even the lowest layer fits gets no video at all
// (paused), except the first, the most important, which keeps at least its lowest
// layer while what is left after audio covers half of it. A link too slow even for
// that (the estimate held at its floor) would lose audio to that layer, packet for
// packet, behind a queue that delayed it by a second (measured on a 80–160 kbit/s
// link): after starveGrace so starved (a hiccup's estimate grows back within it) the
// first tile is paused too, and its lowest layer is tried again whenever the climb
// gate opens (a probe, held for starveGrace; one that fails doubles the wait, as a
// failed climb does). A track without simulcast is one layer: it fits or is paused.
//
// Going down is immediate; going up needs the higher layer to fit with climbHeadroom
// to spare, so an estimate that hovers at a layer's rate does not flap, and is held
// back after a climb that had to be undone (climbGate): by a fall of the estimate, or
// within climbFailedIn of it because the layer needs more than its rate read then.
//
// The estimator cannot learn that a link carries more than it is sent: while the subscriber gets
// less than the estimate, the estimate grows no further than half again what arrives.
// So while climbs are allowed and a shown tile is below its size's layer, the
// allocation has a train of padding sent now and then, which measures what the link
// carries (train.go); the estimate it raises lets the tile climb.
//
// Retransmissions are sent with the transport-wide numbers of the packets they repair,
// so the estimator does not see them as sent: each allocation also bounds them
// (rtxPacer) by what it leaves after audio and video, at least an eighth of the
// estimate, with a burst of 200 ms of the estimate (rtxLimitFor).
const (
	audioReserve   = 50_000 // Opus with FEC and packet overhead, bits per second, until measured
	audioOverhead  = 16_000 // IP, UDP and SRTP of 50 packets a second
	climbHeadroom  = 12     // per cent
	climbFailedIn  = 10 * time.Second
	climbBackoff   = 10 * time.Second
	climbBackoffUp = 80 * time.Second
	climbForgotten = 2 * time.Minute
	// starveGrace is how long the first tile keeps a lowest layer that what is left
	// after audio covers less than half of, before it is paused, and how long a probe
	// of it lasts.
	starveGrace = 4 * time.Second
)

// guessedRate is what a layer is taken to need before its rate is measured: about what
// browsers send of a 720p camera (TESTING.md).
var guessedRate = [maxLayers]int64{150_000, 400_000, 900_000}

// allocation is the layer each shown video track may take, -1: paused.
type allocation map[*upTrack]int

// allocTile is what the allocation knows of one shown video.
type allocTile struct {
	up     *upTrack
	order  string // participant id and source: equal tiles in a stable order
	area   int
	prio   int
	layers [maxLayers]layerInfo
	top    int // the best live layer for the tile's size
	cur    int // the layer it has now; -1: none
}

func (t *allocTile) rate(i int) int64 {
	if r := t.layers[i].bitrate; r > 0 {
		return r
	}
	return guessedRate[i]
}

// allocate gives each tile a layer, -1 for paused, in the order of tiles, from what
// is left of budget after audio; order is the tiles by importance. starved: what is
// left covers less than half of the first tile's lowest layer, which it then keeps
// only with keepFirst.
func allocate(budget, audio int64, tiles []allocTile, mayClimb, keepFirst bool) (out []int, order []int, starved bool) {
	order = make([]int, len(tiles))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ta, tb := &tiles[a], &tiles[b]
		if c := cmp.Compare(tb.area, ta.area); c != 0 {
			return c
		}
		if c := cmp.Compare(tb.prio, ta.prio); c != 0 {
			return c
		}
		return cmp.Compare(ta.order, tb.order)
	})
	left := budget - audio
	out = make([]int, len(tiles))
	for n, i := range order {
		t := &tiles[i]
		out[i] = -1
		lowest := -1
		for l := t.top; l >= 0; l-- {
			if !t.layers[l].present || !t.layers[l].live {
				continue
			}
			lowest = l
			need := t.rate(l)
			if t.cur >= 0 && l > t.cur {
				if !mayClimb {
					continue
				}
				need += need * climbHeadroom / 100
			}
			if need <= left {
				out[i] = l
				break
			}
		}
		if out[i] < 0 && n == 0 && lowest >= 0 {
			starved = 2*left < t.rate(lowest)
			if keepFirst || !starved {
				out[i] = lowest
			}
		}
		if out[i] >= 0 {
			left -= t.rate(out[i])
		}
	}
	return out, order, starved
}

// audioRate is what an audio track is taken to need.
func (u *upTrack) audioRate() int64 {
	l := u.layer(0)
	if l == nil {
		return 0
	}
	if !l.rated.Load() {
		return audioReserve // not measured yet
	}
	r := l.bitrate.Load()
	if r == 0 {
		return 0 // silent (or blocked)
	}
	return r + audioOverhead
}

// nextLayer is the lowest usable layer above l up to the tile's top; -1: none.
func (t *allocTile) nextLayer(l int) int {
	for n := l + 1; n <= t.top; n++ {
		if t.layers[n].present && t.layers[n].live {
			return n
		}
	}
	return -1
}

// trainCandidate is the most important tile below its size's layer, given an
// allocation (allocate's results), for which a train may show room; -1: none.
func trainCandidate(tiles []allocTile, layers []int, order []int) int {
	for _, i := range order {
		if layers[i] < tiles[i].top && tiles[i].nextLayer(layers[i]) >= 0 {
			return i
		}
	}
	return -1
}

// trainSchedule spaces the trains: trainEvery after the first, twice as long after
// each that brought no climb, up to trainEveryMax.
type trainSchedule struct {
	next  time.Time
	every time.Duration
}

// due reports whether a train should go at now, and if so schedules the next.
func (s *trainSchedule) due(now time.Time) bool {
	if now.Before(s.next) {
		return false
	}
	s.every = min(max(2*s.every, trainEvery), trainEveryMax)
	s.next = now.Add(s.every)
	return true
}

// climbed: the next train comes trainEvery after now.
func (s *trainSchedule) climbed(now time.Time) {
	s.every = 0
	s.next = now.Add(trainEvery)
}

// layerLimit is the highest layer the allocation lets up take; ok is false while the
// subscriber is not limited (no estimate yet, or a track allocated after the last one).
func (p *Participant) layerLimit(up *upTrack) (limit int, ok bool) {
	a := p.bw.alloc.Load()
	if a == nil {
		return 0, false
	}
	limit, ok = (*a)[up]
	return limit, ok
}

// capLayer is the highest live layer at or below limit, for a subscription that
// wants want; -1 when limit is -1 (paused).
func capLayer(infos [maxLayers]layerInfo, want, limit int) int {
	if limit < 0 {
		return -1
	}
	if want <= limit {
		return want
	}
	for i := limit; i >= 0; i-- {
		if infos[i].present && infos[i].live {
			return i
		}
	}
	return limit
}

// reallocate shares the latest estimate out over the subscriber's subscriptions and
// makes them choose again; it updates the downlink state.
func (p *Participant) reallocate() {
	if !p.bw.enabled.Load() {
		return
	}
	downs := p.subscriptions()
	var audio int64
	var tiles []allocTile
	var video []*downTrack
	for _, d := range downs {
		if d.up.kind == webrtc.RTPCodecTypeAudio {
			audio += d.up.audioRate()
			continue
		}
		video = append(video, d)
		w, h, shown := p.tileOf(d.up)
		if !shown || d.fw == nil {
			continue
		}
		infos := d.up.layerInfos()
		// A layer paused because no one took it may be allocated: the subscription
		// then asks the publisher for it (choose), and takes it once it arrives.
		for i := range infos {
			infos[i].live = infos[i].live || infos[i].held
		}
		cur := ctlWant(d.ctl.Load())
		top := chooseLayer(infos, w, h, unlimitedBudget, true, cur)
		if top < 0 {
			continue
		}
		tiles = append(tiles, allocTile{up: d.up, order: d.up.owner.id + "\x00" + string(d.up.source),
			area: w * h, prio: p.tilePriority(d.up), layers: infos, top: top, cur: cur})
	}
	now := p.room.engine.now()
	budget := p.bw.budget.Load()
	p.bw.mu.Lock()
	if p.bw.stopped {
		p.bw.mu.Unlock() // closed: the gauge of limited subscribers is settled
		return
	}
	layers, order, open, climbed := p.bw.decide(now, budget, audio, tiles)
	a := make(allocation, len(tiles))
	var dl Downlink
	left := budget - audio // what retransmissions may have of it (rtxLimitFor)
	for i, t := range tiles {
		l := layers[i]
		a[t.up] = l
		if l >= 0 {
			left -= t.rate(l)
		}
		switch {
		case l < 0:
			dl.Tracks = append(dl.Tracks, DownlinkTrack{ParticipantID: t.up.owner.id, Source: t.up.source, State: DownlinkPaused})
		case l < t.top:
			dl.Tracks = append(dl.Tracks, DownlinkTrack{ParticipantID: t.up.owner.id, Source: t.up.source, State: DownlinkReduced})
		}
	}
	var train *downTrack
	if climbed {
		p.bw.train.climbed(now)
	} else if i := trainCandidate(tiles, layers, order); i >= 0 && open && p.bw.estimated.Load() && p.bw.train.due(now) {
		train = trainTrack(video, tiles[i].up)
	}
	slices.SortFunc(dl.Tracks, func(x, y DownlinkTrack) int {
		return cmp.Or(cmp.Compare(x.ParticipantID, y.ParticipantID), cmp.Compare(x.Source, y.Source))
	})
	dl.Limited = len(dl.Tracks) > 0
	p.bw.alloc.Store(&a)
	if budget > 0 {
		p.out.pacer.setLimit(rtxLimitFor(budget, left))
	}
	// The state is news only once the estimate rests on feedback.
	changed := p.bw.estimated.Load() && !dl.equal(p.bw.downlink)
	if changed {
		p.bw.setLimited(&p.room.engine.stats, dl.Limited)
		p.bw.downlink = dl
	}
	p.bw.mu.Unlock()
	if changed {
		select {
		case p.bw.changed <- struct{}{}:
		default:
		}
	}
	for _, d := range video {
		d.choose()
	}
	if train != nil {
		p.out.enqueue(sendItem{d: train, p: trainMarker}, false)
	}
}

// decide shares budget out over tiles at now (allocate) as the climb gate and the
// starvation of the first tile allow, and notes what it did in both; under b.mu. open:
// climbs were allowed; climbed: a tile climbed, or the first tile's lowest layer is
// probed.
func (b *bandwidth) decide(now time.Time, budget, audio int64, tiles []allocTile) (layers, order []int, open, climbed bool) {
	open = b.climb.open(now)
	keep := !b.estimated.Load() // no feedback yet: nothing shows the link too slow
	layers, order, starved := allocate(budget, audio, tiles, open, keep)
	dropped := false
	switch {
	case !starved:
		b.starvedSince = time.Time{}
	case !keep && tiles[order[0]].cur >= 0:
		// Video the link cannot carry beside audio: kept for starveGrace, then paused.
		// An estimate still growing back (from bweInitial at the start, from bweMin
		// after a hiccup) with no fall since the starvation began restarts the grace:
		// from bweMin it takes some ten seconds at estGrowth to reach half of a 2
		// Mbit/s layer, a screen share's without simulcast, on a link that carries it;
		// a link that does not carries less than the layer sent and cuts the estimate.
		switch {
		case b.starvedSince.IsZero():
			b.starvedSince, b.starveFell = now, false
		case budget < b.lastBudget:
			b.starveFell = true
		case budget > b.lastBudget && !b.starveFell:
			b.starvedSince = now
		}
		keep = now.Sub(b.starvedSince) < starveGrace
		dropped = !keep
	case !keep && open:
		// Paused for it: a probe of its lowest layer.
		b.starvedSince, b.starveFell, keep, climbed = now, false, true, true
	}
	if starved && keep {
		layers, order, _ = allocate(budget, audio, tiles, open, true)
	}
	for i, t := range tiles {
		l := layers[i]
		if t.cur >= 0 && l > t.cur {
			climbed = true
			b.climb.climbed(t.up, now, l, t.rate(l))
		}
		// A tile that goes below what its view calls for when the estimate fell, or
		// within climbFailedIn of its own climb because its layer needs more than the
		// climb allowed for it, undoes a climb the link did not bear out. The second
		// counts a climb undone by the layer's rate reading rising again: a
		// publisher's packets that come late (its load, jitter) make its layers' rates
		// read low for a window, a layer then seems to fit, and each such climb overran
		// the link, while the rate's rise took the tile down before the estimate fell,
		// uncounted, so the gate never closed (q, h, q, h every few seconds). A cut for
		// what the others ask for is none, however soon after the climb: another
		// tile's layer back (Chromium restores its top layer every few seconds), its
		// view larger (a speaker pinned), a tile that joins, audio that begins. Counted,
		// it held every climb back for 10 to 80 s, the returning layer's own among
		// them, on a link that carried them all. Nor is a cut the first allocation
		// makes, or one the tile's own view asks for.
		if t.cur >= 0 && l < t.cur && l < t.top && (budget < b.lastBudget || b.climb.outgrown(t.up, now, t.cur, t.rate(t.cur))) {
			dropped = true
		}
	}
	b.climb.note(now, climbed, dropped)
	b.lastBudget = budget
	return layers, order, open, climbed
}

// trainTrack is the subscription a train goes on: up's when it is being sent, else
// any video being sent; nil when none is.
func trainTrack(video []*downTrack, up *upTrack) *downTrack {
	var other *downTrack
	for _, d := range video {
		if d.sending.Load() < 0 || d.binding.Load() == nil {
			continue
		}
		if d.up == up {
			return d
		}
		if other == nil {
			other = d
		}
	}
	return other
}
