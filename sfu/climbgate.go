package sfu

import "time"

// climbGate holds climbs back after failed ones: a drop soon after a climb doubles the
// wait before the next, up to climbBackoffUp; climbForgotten without drops forgets them.
// What a drop is, the allocation decides (decide): a fall of the estimate that takes a
// tile down, or a cut of a tile within climbFailedIn of its own climb whose layer now
// needs more than the climb allowed for it (outgrown).
type climbGate struct {
	lastClimb, lastDrop time.Time
	backoff             time.Duration
	// recent holds each tile's latest climb, for climbFailedIn; a few entries,
	// touched only by the allocation (under bandwidth.mu), never per packet.
	recent map[*upTrack]tileClimb
}

// tileClimb is a tile's latest climb: when, to which layer, and what the allocation
// took that layer to need, its rate then with climbHeadroom.
type tileClimb struct {
	at    time.Time
	layer int
	need  int64
}

func (g *climbGate) open(now time.Time) bool {
	return g.lastDrop.IsZero() || now.Sub(g.lastDrop) >= g.backoff
}

func (g *climbGate) note(now time.Time, climbed, dropped bool) {
	if dropped {
		switch {
		case g.backoff == 0 || now.Sub(g.lastDrop) > climbForgotten:
			g.backoff = climbBackoff
		case now.Sub(g.lastClimb) < climbFailedIn:
			g.backoff = min(2*g.backoff, climbBackoffUp)
		}
		g.lastDrop = now
	}
	if climbed {
		g.lastClimb = now
	}
	for up, c := range g.recent {
		if now.Sub(c.at) >= climbFailedIn {
			delete(g.recent, up)
		}
	}
}

// climbed notes that up's tile climbed at now to layer, whose rate read rate.
func (g *climbGate) climbed(up *upTrack, now time.Time, layer int, rate int64) {
	if g.recent == nil {
		g.recent = make(map[*upTrack]tileClimb)
	}
	g.recent[up] = tileClimb{at: now, layer: layer, need: rate + rate*climbHeadroom/100}
}

// outgrown reports whether up's tile, on layer whose rate reads rate, climbed to that
// layer less than climbFailedIn before now and the layer needs more than the climb
// allowed for it: the climb rested on a reading of the layer's rate that did not hold
// (its packets came late, or its picture came back to life). A cut of a tile whose
// layer still needs what it did, for a tile that asks for more (its layer back, its
// view larger, a tile joining) or audio that begins, fails no climb: the link carries
// what it did.
func (g *climbGate) outgrown(up *upTrack, now time.Time, layer int, rate int64) bool {
	c, ok := g.recent[up]
	return ok && now.Sub(c.at) < climbFailedIn && c.layer == layer && rate > c.need
}
