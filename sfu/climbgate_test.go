package sfu

import (
	"testing"
	"time"
)

// flapRun is what decide did over a run of allocations.
type flapRun struct {
	climbs, drops []time.Duration // since the run's start
}

// runAllocations allocates budget to one tile of top h every bweTick for dur, as
// reallocate does, h's rate reading hRate(since the start) and q's 100 kbit/s; the
// tile starts on q and takes what it is given.
func runAllocations(b *bandwidth, dur time.Duration, budget func(time.Duration) int64, hRate func(time.Duration) int64) flapRun {
	var run flapRun
	up := &upTrack{}
	t0 := time.Unix(1_000_000, 0)
	cur := 0
	for since := time.Duration(0); since < dur; since += bweTick {
		tile := simTile(640*360, 0, 1, cur, 100e3, hRate(since))
		tile.up = up
		layers, _, _, _ := b.decide(t0.Add(since), budget(since), 0, []allocTile{tile})
		switch l := layers[0]; {
		case l > cur:
			run.climbs = append(run.climbs, since)
		case l < cur:
			run.drops = append(run.drops, since)
		}
		cur = layers[0]
	}
	return run
}

// TestClimbUndoneByTheLayersRateBacksOff: h's rate reads low for a while, as when its
// packets come late (a loaded machine, jitter: measured 290 → 164 kbit/s), and h then
// seems to fit an estimate that cannot carry it; when the reading rises again the tile
// goes back to q without any fall of the estimate. That climb failed as surely as one
// the estimate undoes, and must hold the next back (climbBackoff, then twice that), where
// before it was not counted and the tile went q → h → q every few seconds, each climb
// overrunning the link. The estimate stands still throughout.
func TestClimbUndoneByTheLayersRateBacksOff(t *testing.T) {
	var b bandwidth
	b.estimated.Store(true)
	const period = 5 * time.Second // h reads low for half of it, high for the other
	dipping := func(since time.Duration) int64 {
		if since%period < period/2 {
			return 164_000
		}
		return 290_000
	}
	steady := func(time.Duration) int64 { return 250_000 }
	run := runAllocations(&b, time.Minute, steady, dipping)
	t.Logf("climbs at %v, drops at %v", run.climbs, run.drops)
	if len(run.climbs) == 0 || len(run.drops) == 0 {
		t.Fatalf("climbs at %v, drops at %v: want the tile to climb on the low reading and drop on the high", run.climbs, run.drops)
	}
	wait := climbBackoff
	for i, drop := range run.drops {
		if i+1 >= len(run.climbs) {
			break
		}
		if next := run.climbs[i+1]; next-drop < wait {
			t.Fatalf("climbs at %v, drops at %v: climb %d came %v after the climb before it was undone, want at least %v",
				run.climbs, run.drops, i+2, next-drop, wait)
		}
		wait = min(2*wait, climbBackoffUp)
	}
	if len(run.climbs) > 3 {
		t.Errorf("%d climbs in a minute (at %v), want at most 3", len(run.climbs), run.climbs)
	}
}

// TestClimbGateIgnoresOldClimbsAndTheView: a tile that goes down long after its climb
// because its layer's rate rose (the publisher sends more), or because its view asks
// for less, failed no climb: the next climb is not held back.
func TestClimbGateIgnoresOldClimbsAndTheView(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	up := &upTrack{}
	var b bandwidth
	b.estimated.Store(true)
	allocateAt := func(since time.Duration, cur, top int, hRate int64) int {
		tile := simTile(640*360, 0, top, cur, 100e3, hRate)
		tile.up = up
		layers, _, _, _ := b.decide(t0.Add(since), 250_000, 0, []allocTile{tile})
		return layers[0]
	}
	if l := allocateAt(0, 0, 1, 200_000); l != 1 {
		t.Fatalf("h at 200 kbit/s in 250: layer %d, want h", l)
	}
	if l := allocateAt(climbFailedIn, 1, 1, 290_000); l != 0 {
		t.Fatalf("h at 290 kbit/s in 250: layer %d, want q", l)
	}
	if !b.climb.open(t0.Add(climbFailedIn + bweTick)) {
		t.Errorf("a drop %v after the climb closed the gate", climbFailedIn)
	}
	// The view: a tile on h whose size now calls for q only.
	if l := allocateAt(climbFailedIn+bweTick, 0, 1, 200_000); l != 1 {
		t.Fatalf("again: layer %d, want h", l)
	}
	if l := allocateAt(climbFailedIn+2*bweTick, 1, 0, 200_000); l != 0 {
		t.Fatalf("the view asks for q: layer %d", l)
	}
	if !b.climb.open(t0.Add(climbFailedIn + 3*bweTick)) {
		t.Errorf("a cut by the view closed the gate")
	}
}

// TestClimbGateIgnoresACutForWhatOthersAskFor: a tile that climbed into room the others
// left and gave it back within climbFailedIn because they asked for it again failed no
// climb: its layer needs what it read at the climb, and the link carries what it did.
// The gate stays open. Counted, each of these held every climb back for 10 s and more,
// and they are common: Chromium drops and restores its top layer every few seconds, a
// person pins a speaker or switches layouts, someone joins, someone starts talking.
func TestClimbGateIgnoresACutForWhatOthersAskFor(t *testing.T) {
	const q, h, f = 0, 1, 2
	rates := []int64{100e3, 300e3, 700e3}
	bigUp := &upTrack{}
	big := func(top, cur int) allocTile {
		tile := simTile(1280*720, 0, top, cur, rates...)
		tile.up = bigUp
		return tile
	}
	type step struct {
		budget, audio int64
		big           allocTile // the large tile, its top and cur; area 0: not shown
	}
	fLost := big(h, f)
	fLost.layers[f].live = false
	cases := []struct {
		name       string
		climb, cut step
	}{
		{"another tile's top layer came back",
			step{950e3, 0, fLost}, step{950e3, 0, (big(f, h))}},
		{"another tile's view grew",
			step{950e3, 0, (big(h, h))}, step{950e3, 0, (big(f, h))}},
		{"a tile joined",
			step{950e3, 0, allocTile{}}, step{950e3, 0, (big(f, -1))}},
		{"audio began",
			step{650e3, 0, (big(h, h))}, step{650e3, 66e3, (big(h, h))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t0 := time.Unix(1_000_000, 0)
			var b bandwidth
			b.estimated.Store(true)
			small := simTile(640*360, 0, h, q, rates...)
			small.up = &upTrack{}
			allocateAt := func(at time.Time, s step) int {
				tiles := []allocTile{small}
				if s.big.area > 0 {
					tiles = append(tiles, s.big)
				}
				layers, _, _, _ := b.decide(at, s.budget, s.audio, tiles)
				small.cur = layers[0]
				return layers[0]
			}
			if l := allocateAt(t0, c.climb); l != h {
				t.Fatalf("the small tile took layer %d, want a climb to h", l)
			}
			cutAt := t0.Add(3 * time.Second)
			if l := allocateAt(cutAt, c.cut); l != q {
				t.Fatalf("the small tile took layer %d, want q", l)
			}
			if !b.climb.open(cutAt.Add(bweTick)) {
				t.Errorf("the small tile's cut for what the others ask for, %v after its climb, closed the gate", cutAt.Sub(t0))
			}
		})
	}
}

// TestPublishersTopLayerComingBackIsNotHeldBack: the speaker's large tile loses its
// top layer for a moment now and then (Chromium short of CPU or uplink), a small tile
// takes the room meanwhile and gives it back when the layer returns. Each time the
// layer returns the speaker gets it back at once: the small tile's cut is no failed
// climb, so nothing holds the next climb back.
func TestPublishersTopLayerComingBackIsNotHeldBack(t *testing.T) {
	const q, h, f = 0, 1, 2
	rates := []int64{100e3, 300e3, 700e3}
	t0 := time.Unix(1_000_000, 0)
	var b bandwidth
	b.estimated.Store(true)
	speaker := simTile(1280*720, 0, f, f, rates...)
	speaker.up = &upTrack{}
	other := simTile(640*360, 0, h, q, rates...)
	other.up = &upTrack{}
	const budget = 950e3 // f and q, or h and h
	for cycle := range 4 {
		// f is lost (no packet for liveWindow), and back and settled (layerSettle)
		// 3.5 s later; the other tile takes h meanwhile.
		start := time.Duration(cycle) * 4 * time.Second
		for _, s := range []struct {
			since              time.Duration
			fLive              bool
			speakerOn, otherOn int
		}{{start, false, h, h}, {start + 3*time.Second + 500*time.Millisecond, true, f, q}} {
			speaker.layers[f].live = s.fLive
			speaker.top = h
			if s.fLive {
				speaker.top = f
			}
			layers, _, _, _ := b.decide(t0.Add(s.since), budget, 0, []allocTile{speaker, other})
			if layers[1] != s.otherOn {
				t.Errorf("at %v (f live: %v) the other tile took layer %d, want %d", s.since, s.fLive, layers[1], s.otherOn)
			}
			if layers[0] != s.speakerOn {
				t.Fatalf("at %v (f live: %v) the speaker's tile took layer %d, want %d", s.since, s.fLive, layers[0], s.speakerOn)
			}
			speaker.cur, other.cur = layers[0], layers[1]
		}
	}
}
