package sfu

import "time"

// climbGate holds climbs back after failed ones: a drop soon after a climb doubles the
// wait before the next, up to climbBackoffUp; climbForgotten without drops forgets them.
// What a drop is, the allocation decides (decide): a fall of the estimate that takes a
// tile down, or any cut of a tile within climbFailedIn of its own climb (recent).
type climbGate struct {
	lastClimb, lastDrop time.Time
	backoff             time.Duration
	// recent holds when each tile climbed last, for climbFailedIn; a few entries,
	// touched only by the allocation (under bandwidth.mu), never per packet.
	recent map[*upTrack]time.Time
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
	for up, at := range g.recent {
		if now.Sub(at) >= climbFailedIn {
			delete(g.recent, up)
		}
	}
}

// climbed notes that up's tile climbed at now.
func (g *climbGate) climbed(up *upTrack, now time.Time) {
	if g.recent == nil {
		g.recent = make(map[*upTrack]time.Time)
	}
	g.recent[up] = now
}

// climbedRecently reports whether up's tile climbed less than climbFailedIn before now.
func (g *climbGate) climbedRecently(up *upTrack, now time.Time) bool {
	at, ok := g.recent[up]
	return ok && now.Sub(at) < climbFailedIn
}
