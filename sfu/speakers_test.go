package sfu

import (
	"slices"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
)

// speakerRig drives a speakerTracker tick by tick on the fake clock: each step feeds
// every participant's packets of one tick (levels as RFC 6464 has them; absent: sends
// nothing) and waits for the tick to be taken.
type speakerRig struct {
	t       *testing.T
	clock   *fakeclock.Clock
	tr      *speakerTracker
	readers map[string]*levelReader
	packets map[uint8][]byte
}

func newSpeakerRig(t *testing.T, ids ...string) *speakerRig {
	clock := fakeclock.New(time.Unix(1_000_000, 0))
	r := &speakerRig{t: t, clock: clock, tr: newSpeakerTracker(clock.AfterFunc), readers: map[string]*levelReader{}, packets: map[uint8][]byte{}}
	for _, id := range ids {
		r.readers[id] = &levelReader{id: 1, meter: r.tr.attach(id)}
	}
	t.Cleanup(r.tr.close)
	return r
}

// step runs n ticks with the given levels.
func (r *speakerRig) step(n int, levels map[string]uint8) {
	r.t.Helper()
	for range n {
		for id, level := range levels {
			raw, ok := r.packets[level]
			if !ok {
				raw = levelPacket(r.t, 1, level, true, 0)
				r.packets[level] = raw
			}
			for range 5 { // 20 ms packets
				r.readers[id].note(raw)
			}
		}
		r.tr.mu.Lock()
		want := r.tr.ticks + 1
		r.tr.mu.Unlock()
		r.clock.Advance(speakerTick)
		conntest.Eventually(r.t, "the tick", func() bool {
			r.tr.mu.Lock()
			defer r.tr.mu.Unlock()
			return r.tr.ticks >= want
		})
	}
}

func (r *speakerRig) expect(what string, dominant string, speaking ...string) {
	r.t.Helper()
	s := r.tr.snapshot()
	if s.Dominant != dominant || !slices.Equal(s.Speaking, speaking) {
		r.t.Fatalf("%s: dominant %q speaking %q; want %q %q", what, s.Dominant, s.Speaking, dominant, speaking)
	}
}

const (
	loud   = 25  // -25 dBov: someone speaking into the microphone
	softer = 40  // -40 dBov: speaking, but further away
	quiet  = 90  // -90 dBov: a quiet room
	silent = 127 // the sender's silence
)

func TestSpeakerLoudBecomesDominantQuietDoesNot(t *testing.T) {
	r := newSpeakerRig(t, "a", "b")
	r.step(1, map[string]uint8{"a": loud, "b": quiet})
	r.expect("after one tick", "")
	r.step(5, map[string]uint8{"a": loud, "b": quiet})
	r.expect("a speaks", "a", "a")
	if got := r.tr.rank("a"); got != 0 {
		t.Fatalf("rank of the dominant speaker %d", got)
	}
	if got := r.tr.rank("b"); got != -1 {
		t.Fatalf("rank of the quiet one %d", got)
	}
	// No packets for a few ticks (jitter) change nothing; then they are silence.
	r.step(staleTicks, map[string]uint8{})
	r.expect("a's packets late", "a", "a")
	// Silence: a stops speaking at once, and stays dominant for a while.
	r.step(3, map[string]uint8{"a": silent, "b": quiet})
	r.expect("a paused", "a")
	r.step(releaseTicks, map[string]uint8{"a": silent, "b": quiet})
	r.expect("silence", "")
	if s := r.tr.snapshot(); !slices.Equal(s.Recent, []string{"a"}) {
		t.Fatalf("recent %q", s.Recent)
	}
	if got := r.tr.rank("a"); got != 1 {
		t.Fatalf("rank of the last speaker without a dominant one %d", got)
	}
}

// A cough of the other while the dominant speaker pauses, or a short loud burst while
// it speaks, takes nothing over; someone who keeps speaking while the dominant speaker
// is silent, or who is clearly louder for a second, does.
func TestSpeakerHysteresis(t *testing.T) {
	r := newSpeakerRig(t, "a", "b")
	r.step(6, map[string]uint8{"a": softer, "b": silent})
	r.expect("a speaks", "a", "a")

	r.step(3, map[string]uint8{"a": softer, "b": 0}) // b shouts briefly over a
	r.expect("b's burst over a", "a", "a", "b")
	r.step(3, map[string]uint8{"a": softer, "b": silent})
	r.expect("after b's burst", "a", "a")

	r.step(2, map[string]uint8{"a": silent, "b": silent}) // a pauses; b coughs
	r.step(3, map[string]uint8{"a": silent, "b": 10})
	r.step(3, map[string]uint8{"a": silent, "b": silent})
	r.expect("after b's cough", "a")

	r.step(2, map[string]uint8{"a": softer, "b": silent})
	r.step(takeoverTicks+3, map[string]uint8{"a": softer, "b": loud}) // b clearly louder, for long
	r.expect("b louder for long", "b", "b", "a")

	r.step(switchTicks+3, map[string]uint8{"a": softer, "b": silent}) // b stops, a goes on
	r.expect("a goes on alone", "a", "a")
	if s := r.tr.snapshot(); !slices.Equal(s.Recent, []string{"a", "b"}) {
		t.Fatalf("recent %q", s.Recent)
	}
	if got := r.tr.rank("b"); got != 1 {
		t.Fatalf("rank of the speaker before %d", got)
	}
}

// Signals come on change only, and someone who leaves is forgotten.
func TestSpeakerChangesAndLeaving(t *testing.T) {
	r := newSpeakerRig(t, "a", "b")
	r.step(3, map[string]uint8{"a": quiet, "b": quiet})
	select {
	case <-r.tr.changed:
		t.Fatal("a change signalled while nobody speaks")
	default:
	}
	r.step(6, map[string]uint8{"a": loud, "b": quiet})
	select {
	case <-r.tr.changed:
	default:
		t.Fatal("no change signalled")
	}
	r.tr.detach(r.readers["a"].meter)
	if s := r.tr.snapshot(); s.Dominant != "" || len(s.Speaking) != 0 || len(s.Recent) != 0 {
		t.Fatalf("after a left: %+v", s)
	}
	r.tr.detach(r.readers["b"].meter)
	if n := r.clock.Pending(); n != 0 {
		t.Fatalf("%d timers pending with nobody sending levels", n)
	}
}

// TestRecentSpeakersFirstInTheAllocation: among tiles of one size a subscriber's
// bandwidth goes to the dominant speaker's video first, then to the one who spoke
// before, then to the rest (bwe.go, tilePriority).
func TestRecentSpeakersFirstInTheAllocation(t *testing.T) {
	r := newSpeakerRig(t, "a", "b", "c")
	room := &Room{speakers: r.tr}
	sub := &Participant{room: room}
	up := func(id string) *upTrack { return &upTrack{owner: &Participant{id: id}} }
	if pa, pb, pc := sub.tilePriority(up("a")), sub.tilePriority(up("b")), sub.tilePriority(up("c")); pa != pb || pb != pc {
		t.Fatalf("before anyone spoke: %d %d %d", pa, pb, pc)
	}
	r.step(6, map[string]uint8{"a": loud, "b": quiet, "c": quiet})
	r.step(12, map[string]uint8{"a": silent, "b": loud, "c": quiet})
	r.expect("b took over", "b", "b")
	pa, pb, pc := sub.tilePriority(up("a")), sub.tilePriority(up("b")), sub.tilePriority(up("c"))
	if pb <= pa || pa <= pc {
		t.Fatalf("priorities a %d, b %d (dominant), c %d (never spoke): want b > a > c", pa, pb, pc)
	}
}

// heldTimers is an AfterFunc whose timers the test fires by hand: fire marks one fired
// (its stop then fails, as a real timer's does once it went off) and hands back its
// function without running it.
type heldTimers struct {
	mu      sync.Mutex
	pending []*heldTimer
}

type heldTimer struct {
	f              func()
	fired, stopped bool
}

func (h *heldTimers) after(_ time.Duration, f func()) func() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := &heldTimer{f: f}
	h.pending = append(h.pending, t)
	return func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		if t.fired || t.stopped {
			return false
		}
		t.stopped = true
		return true
	}
}

// fire takes the oldest timer neither fired nor stopped.
func (h *heldTimers) fire(t *testing.T) func() {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, x := range h.pending {
		if !x.fired && !x.stopped {
			x.fired = true
			return x.f
		}
	}
	t.Fatal("no timer armed")
	return nil
}

func (h *heldTimers) armed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, x := range h.pending {
		if !x.fired && !x.stopped {
			n++
		}
	}
	return n
}

// TestSpeakerTicksStayOneChain: a tick that fired but had not run yet when the last
// audio track left (its timer can no longer be stopped), and a new track came before
// it ran, ends there: one chain of ticks, not two.
func TestSpeakerTicksStayOneChain(t *testing.T) {
	var timers heldTimers
	tr := newSpeakerTracker(timers.after)
	t.Cleanup(tr.close)
	m := tr.attach("a")
	late := timers.fire(t) // the tick fires; it waits for the tracker's lock
	tr.detach(m)           // the last track leaves
	tr.attach("b")         // a new one comes: a new chain
	late()                 // the late tick runs
	if n := timers.armed(); n != 1 {
		t.Fatalf("%d ticks armed, want 1", n)
	}
	timers.fire(t)() // the chain goes on
	if n := timers.armed(); n != 1 {
		t.Fatalf("%d ticks armed after a tick, want 1", n)
	}
}
