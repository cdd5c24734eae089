package sfu

import (
	"testing"
	"time"
)

func simTile(area, prio, top, cur int, rates ...int64) allocTile {
	t := allocTile{area: area, prio: prio, top: top, cur: cur}
	for i, r := range rates {
		t.layers[i] = layerInfo{present: true, live: true, settled: true, bitrate: r}
	}
	return t
}

// TestAllocate: audio first, then the largest tiles, each at the best layer that fits
// what is left and not above its size's; a tile that fits in no layer is paused except
// the most important; climbing needs headroom, going down does not.
func TestAllocate(t *testing.T) {
	three := []int64{150e3, 500e3, 1500e3}
	big := simTile(1280*720, 0, 2, -1, three...)
	small := simTile(320*180, 0, 0, -1, three...)
	mid := simTile(640*360, 0, 1, -1, three...)
	single := simTile(640*360, 0, 0, -1, 800e3)
	cases := []struct {
		name     string
		budget   int64
		audio    int
		tiles    []allocTile
		mayClimb bool
		want     []int
	}{
		{"plenty", 10e6, 2, []allocTile{big, small}, true, []int{2, 0}},
		{"big gets h", 1e6, 1, []allocTile{big, small}, true, []int{1, 0}},
		{"largest first", 700e3, 1, []allocTile{small, big}, true, []int{0, 1}},
		{"audio counts", 700e3, 4, []allocTile{big, small}, true, []int{1, -1}},
		{"too little: the first keeps q", 100e3, 1, []allocTile{small, big}, true, []int{-1, 0}},
		{"size caps", 10e6, 0, []allocTile{mid}, true, []int{1}},
		{"single fits", 1e6, 1, []allocTile{single}, true, []int{0}},
		{"single paused", 1e6, 1, []allocTile{mid, single}, true, []int{1, -1}},
		{"single most important keeps it", 100e3, 1, []allocTile{single}, true, []int{0}},
		{"climb needs headroom", 550e3, 0, []allocTile{simTile(1280*720, 0, 2, 0, three...)}, true, []int{0}},
		{"climb with headroom", 570e3, 0, []allocTile{simTile(1280*720, 0, 2, 0, three...)}, true, []int{1}},
		{"stay without headroom", 510e3, 0, []allocTile{simTile(1280*720, 0, 2, 1, three...)}, true, []int{1}},
		{"drop at once", 490e3, 0, []allocTile{simTile(1280*720, 0, 2, 1, three...)}, true, []int{0}},
		{"climbs held back", 10e6, 0, []allocTile{simTile(1280*720, 0, 2, 0, three...)}, false, []int{0}},
		{"priority breaks ties", 700e3, 0, []allocTile{simTile(640*360, 0, 1, -1, three...), simTile(640*360, 1, 1, -1, three...)}, true, []int{0, 1}},
		{"unmeasured: guessed", 700e3, 0, []allocTile{simTile(1280*720, 0, 2, -1, 0, 0, 0)}, true, []int{1}},
	}
	for _, c := range cases {
		got, _, _ := allocate(c.budget, int64(c.audio)*audioReserve, c.tiles, c.mayClimb, true)
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
}

// TestAllocateStarved: the first tile keeps its lowest layer while what is left after
// audio covers half of it, and beyond that only when kept (keepFirst); starved says
// which.
func TestAllocateStarved(t *testing.T) {
	three := []int64{150e3, 500e3, 1500e3}
	for _, c := range []struct {
		name    string
		budget  int64
		keep    bool
		want    int
		starved bool
	}{
		{"fits", 250e3, false, 0, false},
		{"half fits", 130e3, false, 0, false},
		{"too little", 100e3, false, -1, true},
		{"too little, kept", 100e3, true, 0, true},
	} {
		got, _, starved := allocate(c.budget, audioReserve, []allocTile{simTile(1280*720, 0, 2, 0, three...)}, true, c.keep)
		if got[0] != c.want || starved != c.starved {
			t.Errorf("%s: layer %d starved %v, want %d %v", c.name, got[0], starved, c.want, c.starved)
		}
	}
}

// TestClimbGate: a drop soon after a climb doubles the wait before the next climb;
// a quiet while forgets.
func TestClimbGate(t *testing.T) {
	var g climbGate
	t0 := time.Unix(1_000_000, 0)
	if !g.open(t0) {
		t.Fatal("closed at the start")
	}
	g.note(t0, true, false)
	g.note(t0.Add(time.Second), false, true)
	if g.open(t0.Add(climbBackoff)) || !g.open(t0.Add(time.Second+climbBackoff)) {
		t.Errorf("after the first drop: backoff %v, want %v", g.backoff, climbBackoff)
	}
	g.note(t0.Add(time.Second+climbBackoff), true, false)
	g.note(t0.Add(2*time.Second+climbBackoff), false, true)
	if g.backoff != 2*climbBackoff {
		t.Errorf("after a failed climb: backoff %v, want %v", g.backoff, 2*climbBackoff)
	}
	for i := range 10 {
		at := t0.Add(climbBackoff + time.Duration(10+2*i)*time.Second)
		g.note(at, true, false)
		g.note(at.Add(time.Second), false, true)
	}
	if g.backoff != climbBackoffUp {
		t.Errorf("after many: backoff %v, want %v", g.backoff, climbBackoffUp)
	}
	later := t0.Add(climbForgotten + 10*time.Minute)
	g.note(later, false, true)
	if g.backoff != climbBackoff {
		t.Errorf("after a quiet while: backoff %v, want %v", g.backoff, climbBackoff)
	}
}

func TestCapLayer(t *testing.T) {
	all := simTile(0, 0, 2, -1, 1, 1, 1).layers
	hDead := all
	hDead[1].live = false
	for _, c := range []struct {
		layers           [maxLayers]layerInfo
		want, limit, got int
	}{
		{all, 2, 1, 1}, {all, 0, 1, 0}, {all, 2, -1, -1}, {hDead, 2, 1, 0},
	} {
		if got := capLayer(c.layers, c.want, c.limit); got != c.got {
			t.Errorf("capLayer(want %d, limit %d) = %d, want %d", c.want, c.limit, got, c.got)
		}
	}
}

// TestTrainCandidate: a train goes for the most important tile below its size's
// layer, none for tiles at theirs.
func TestTrainCandidate(t *testing.T) {
	rates := []int64{150e3, 400e3, 1200e3}
	const audio = 50e3
	for _, c := range []struct {
		name   string
		budget int64
		tiles  []allocTile
		tile   int
	}{
		{"on q", 290e3, []allocTile{simTile(1280*720, 0, 2, 0, rates...)}, 0},
		{"on h", 660e3, []allocTile{simTile(1280*720, 0, 2, 1, rates...)}, 0},
		{"at the tile's layer", 5e6, []allocTile{simTile(320*180, 0, 0, 0, rates...)}, -1},
		{"at the top", 5e6, []allocTile{simTile(1280*720, 0, 2, 2, rates...)}, -1},
		{"the most important tile first", 700e3, []allocTile{simTile(320*180, 0, 2, 0, rates...), simTile(1280*720, 0, 2, 0, rates...)}, 1},
		{"the next when the first has its layer", 1700e3, []allocTile{simTile(320*180, 0, 2, 0, rates...), simTile(1280*720, 0, 2, 2, rates...)}, 0},
	} {
		layers, order, _ := allocate(c.budget, audio, c.tiles, true, true)
		if got := trainCandidate(c.tiles, layers, order); got != c.tile {
			t.Errorf("%s: train for tile %d (allocation %v), want %d", c.name, got, layers, c.tile)
		}
	}
}

// TestTrainSchedule: trains come trainEvery apart, then less and less often up to
// trainEveryMax; a climb starts over.
func TestTrainSchedule(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var s trainSchedule
	var at []time.Duration
	for now := t0; now.Before(t0.Add(40 * time.Second)); now = now.Add(500 * time.Millisecond) {
		if s.due(now) {
			at = append(at, now.Sub(t0))
		}
	}
	want := []time.Duration{0, 2 * time.Second, 6 * time.Second, 14 * time.Second, 22 * time.Second, 30 * time.Second, 38 * time.Second}
	if len(at) != len(want) {
		t.Fatalf("trains at %v, want %v", at, want)
	}
	for i := range at {
		if at[i] != want[i] {
			t.Fatalf("trains at %v, want %v", at, want)
		}
	}
	now := t0.Add(40 * time.Second)
	s.climbed(now)
	if s.due(now.Add(trainEvery-time.Millisecond)) || !s.due(now.Add(trainEvery)) || s.due(now.Add(trainEvery+time.Second)) {
		t.Errorf("after a climb: not trainEvery apart")
	}
}
