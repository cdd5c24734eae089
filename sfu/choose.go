package sfu

import "math"

// Which layer of a simulcast track a subscriber gets (PROTOCOL.md, "view"): the smallest
// whose width and height are at least those of the tile that shows it, else the largest;
// before a subscriber has said what it shows, the largest. Sizes are read from the
// layers' keyframes; a layer whose size is not known yet is taken only as the largest.
// Only live layers are taken (live.go), and of those only ones whose keyframes arrive
// whole while another's do (decodable.go); the choice among all layers there are, live or
// not, is what the publisher is asked to send (encodings.go), so a layer that a tile
// calls for is asked for while the subscriber gets the best live one.

// Tile is one remote video a subscriber shows, with its size in device pixels.
type Tile struct {
	ParticipantID string
	Source        Source
	Width         int
	Height        int
}

type tileKey struct {
	participant string
	source      Source
}

// view is what a subscriber shows; nil until its first SetView.
type view map[tileKey]Tile

// unlimitedBudget is the bandwidth a subscriber may use, until it is estimated: the
// layer choice takes a budget so a bandwidth estimate can step layers down.
const unlimitedBudget = math.MaxInt64

// layerInfo is what the choice knows of a layer.
type layerInfo struct {
	present bool
	live    bool // packets arrive (live.go), and keyframes whole (decodable.go)
	settled bool // not on probation after a loss (live.go)
	width   int
	height  int
	bitrate int64 // bits per second; 0: not known
	held    bool  // the publisher was asked to pause it (encodings.go), so it is not live
}

// chooseLayer picks the layer for a tile of w×h (w = 0: the subscriber has no view yet,
// the largest), then steps down while the layer needs more than budget; with onlyLive it
// takes only live layers, and above cur (the layer the subscriber has, -1: none) when cur
// is live, only settled ones. It returns -1 when there is no layer to take.
func chooseLayer(layers [maxLayers]layerInfo, w, h int, budget int64, onlyLive bool, cur int) int {
	curLive := cur >= 0 && cur < maxLayers && layers[cur].live
	usable := func(i int) bool {
		l := layers[i]
		if !onlyLive {
			return l.present
		}
		return l.present && l.live && (l.settled || !curLive || i <= cur)
	}
	best := -1
	for i := maxLayers - 1; i >= 0; i-- {
		if usable(i) {
			best = i
			break
		}
	}
	if best < 0 {
		return -1
	}
	estimateSizes(&layers)
	if w > 0 {
		for i := 0; i < best; i++ {
			l := layers[i]
			if usable(i) && l.width > 0 && l.width >= w && l.height >= h {
				best = i
				break
			}
		}
	}
	for best > 0 && layers[best].bitrate > budget {
		next := best - 1
		for next >= 0 && !usable(next) {
			next--
		}
		if next < 0 {
			break
		}
		best = next
	}
	return best
}

// estimateSizes fills in the size of a layer whose keyframe has not been seen from one
// that has, by the protocol's scaling (each RID halves the one above it), so a layer
// whose keyframe is late still takes its place in RID order.
func estimateSizes(layers *[maxLayers]layerInfo) {
	known := -1
	for i := range layers {
		if layers[i].present && layers[i].width > 0 {
			known = i
			break
		}
	}
	if known < 0 {
		return
	}
	for i := range layers {
		if l := &layers[i]; l.present && l.width == 0 {
			shift := i - known
			if shift < 0 {
				l.width, l.height = layers[known].width>>-shift, layers[known].height>>-shift
			} else {
				l.width, l.height = layers[known].width<<shift, layers[known].height<<shift
			}
		}
	}
}

// layerInfos describes the track's layers now.
func (u *upTrack) layerInfos() [maxLayers]layerInfo {
	var out [maxLayers]layerInfo
	now := u.live.tick.Load()
	live, settled, held := u.liveMask(now), u.settledMask(), u.enc.paused.Load()
	live &^= u.undecodableMask(live) // live, but no keyframe of it assembles (decodable.go)
	for i := range u.layers {
		if l := u.layers[i].Load(); l != nil {
			size := l.size.Load()
			out[i] = layerInfo{present: true, live: live&(1<<i) != 0, settled: settled&(1<<i) != 0, held: held&(1<<i) != 0,
				width: int(size >> 16), height: int(size & 0xffff), bitrate: l.bitrate.Load()}
		}
	}
	return out
}

// choose sets the layer this subscription wants from the subscriber's view and the
// track's layers: the best live one for the tile, and above the layer it has while that
// is live, none on probation (live.go). When no layer is live it keeps the
// one it wants (a layer coming back makes it choose again). It also keeps the layer
// the tile calls for whether or not it arrives, for the encodings.
func (d *downTrack) choose() {
	if d.fw == nil {
		return
	}
	// Choices come from the view, the ticker and the readers at once: the last one
	// made must be the last one stored.
	d.chooseMu.Lock()
	defer d.chooseMu.Unlock()
	w, h, shown := d.sub.tileOf(d.up)
	want, ideal, allotted := -1, -1, -1
	if shown {
		infos := d.up.layerInfos()
		budget := d.sub.videoBudget()
		cur := ctlWant(d.ctl.Load())
		ideal = max(chooseLayer(infos, w, h, budget, false, cur), 0)
		want = chooseLayer(infos, w, h, budget, true, cur)
		if want < 0 {
			want = ctlWant(d.ctl.Load())
		}
		if want < 0 {
			want = ideal
		}
		if limit, ok := d.sub.layerLimit(d.up); ok {
			// The subscriber gets no more than its bandwidth allows. The publisher is
			// still asked for the layer the tile calls for (ideal): one subscriber's
			// estimate, which falls whenever its link or its machine stalls, must not
			// pause a layer for everyone, and a climb then finds the layer
			// arriving instead of waiting for the publisher to resume it.
			want = capLayer(infos, want, limit)
			if limit >= 0 && limit < ideal {
				allotted = limit
			}
		}
	}
	d.setWant(want, ideal, allotted)
}

// countWantChange counts a change of the wanted layer that liveness made: the view
// (and with it the layer the tile calls for) stayed as it was. Leaving a layer that
// stopped is a lost layer even when the one taken is higher (one back on probation,
// live.go); a climb is counted when it happens, after the probation.
func (d *downTrack) countWantChange(old, want int, idealChanged bool) {
	switch {
	case idealChanged || old < 0 || want < 0:
	case want < old || d.up.liveMask(d.up.live.tick.Load())&(1<<old) == 0:
		d.up.stats.layersLost.Add(1)
	default:
		d.up.stats.layersBack.Add(1)
	}
}

// videoBudget is the bandwidth (bits per second) one tile's video may take by itself.
// The subscriber's estimate is shared out across all it shows by the allocation
// (alloc.go), which caps each choice at a layer (layerLimit); the budget here stays
// unlimited.
func (p *Participant) videoBudget() int64 { return unlimitedBudget }

// subscriptions is a snapshot of the participant's subscriptions, to work on without
// its lock.
func (p *Participant) subscriptions() []*downTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	downs := make([]*downTrack, 0, len(p.downs))
	for _, d := range p.downs {
		downs = append(downs, d)
	}
	return downs
}

// tileOf says whether the subscriber shows up and at what size; w is 0 while it has
// not said what it shows.
func (p *Participant) tileOf(up *upTrack) (w, h int, shown bool) {
	v := p.view.Load()
	if v == nil {
		return 0, 0, true
	}
	t, ok := (*v)[tileKey{up.owner.id, up.source}]
	return t.Width, t.Height, ok
}

// SetView tells the SFU which remote videos this participant shows and how large: it
// gets video only for those, each in the layer that fits the tile. Tracks not named are
// not sent; names of participants not in the room are ignored. Until the first call every
// video is sent at its largest layer. The caller validates sizes and counts.
func (p *Participant) SetView(tiles []Tile) {
	v := make(view, len(tiles))
	for _, t := range tiles {
		v[tileKey{t.ParticipantID, t.Source}] = t
	}
	p.view.Store(&v)
	if p.bw.enabled.Load() {
		p.reallocate() // the allocation changes with the view, and makes them choose
		return
	}
	downs := p.subscriptions()
	for _, d := range downs {
		d.choose()
	}
}
