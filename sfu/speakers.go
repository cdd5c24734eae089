package sfu

import (
	"slices"
	"sync"
	"time"
)

// Speaker detection: which participants speak now, who is the dominant speaker, and
// who spoke last, from the audio levels browsers send in the clear (audiolevel.go).
// The readers only add each packet's level to their publisher's meter; a ticker per
// room (on the engine's clock, so tests decide what "half a second" is) smooths the
// levels and decides. It runs only while someone in the room sends levels.
//
// Everything here lives in memory for the running meeting only and is never logged:
// who speaks when is personal data.
//
// The dominant speaker does not flap: someone else takes over only by speaking while the
// dominant one is silent for switchTicks, or by being clearly (speakMargin) louder for
// takeoverTicks; a cough is neither. Silence for releaseTicks ends the dominance.
const (
	speakerTick = 100 * time.Millisecond
	// smoothing is the weight of the latest tick in the smoothed loudness: about a
	// quarter of a second of memory.
	smoothing = 0.4
	// A participant speaks from a smoothed level of -50 dBov and stops below -60 dBov
	// (loudness is dB above -127 dBov); the gap keeps the state from flickering.
	speakOn  = 127 - 50
	speakOff = 127 - 60
	// speakMargin is how much louder (dB) someone must be to take over from a dominant
	// speaker who keeps speaking, for takeoverTicks in a row.
	speakMargin   = 6
	takeoverTicks = 10
	// switchTicks: speaking this long while the dominant speaker is silent takes over;
	// startTicks: with no dominant speaker, this long makes one.
	switchTicks = 4
	startTicks  = 2
	// releaseTicks of silence end the dominance when nobody else speaks.
	releaseTicks = 15
	// staleTicks: a tick without any packet changes nothing (packets come late on a
	// jittery network); after this many in a row the publisher counts as silent (its
	// browser stopped sending).
	staleTicks = 5
	// recentSpeakers is how many of the last dominant speakers are remembered.
	recentSpeakers = 4
)

// Speakers is who speaks in a room.
type Speakers struct {
	// Dominant is the participant whose voice leads, "" for none.
	Dominant string
	// Speaking lists those speaking now: the dominant speaker first (when speaking),
	// then by when they started.
	Speaking []string
	// Recent lists the last dominant speakers, the latest first (the current one, if
	// any, at the front); at most recentSpeakers.
	Recent []string
}

func (s Speakers) equal(o Speakers) bool {
	return s.Dominant == o.Dominant && slices.Equal(s.Speaking, o.Speaking) && slices.Equal(s.Recent, o.Recent)
}

// speakerTracker is one room's speaker detection.
type speakerTracker struct {
	after   func(time.Duration, func()) func() bool // nil: a room without an engine (tests)
	changed chan struct{}
	done    chan struct{} // closed with the room

	mu       sync.Mutex
	meters   map[string]*levelMeter
	stop     func() bool // the pending tick; nil: not ticking
	gen      uint64      // the chain of ticks running (startLocked)
	closed   bool
	ticks    uint64
	dominant string
	recent   []string
	snap     Speakers // the latest published state
}

func newSpeakerTracker(after func(time.Duration, func()) func() bool) *speakerTracker {
	return &speakerTracker{after: after, changed: make(chan struct{}, 1), done: make(chan struct{}), meters: make(map[string]*levelMeter)}
}

// attach returns id's meter for a new audio track, and starts ticking if needed; nil
// once the room is closed.
func (t *speakerTracker) attach(id string) *levelMeter {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.after == nil {
		return nil
	}
	m := t.meters[id]
	if m == nil {
		m = &levelMeter{id: id}
		t.meters[id] = m
	}
	m.refs++
	if t.stop == nil {
		t.startLocked()
	}
	return m
}

// startLocked starts a chain of ticks. A tick of an earlier chain that had fired but
// not yet run when its chain was stopped (detach) sees another generation and ends:
// otherwise a detach and an attach between its firing and its run left two chains
// ticking, and every speaker's hysteresis at half its time.
func (t *speakerTracker) startLocked() {
	t.gen++
	gen := t.gen
	var tick func()
	tick = func() { t.tick(gen, tick) }
	t.stop = t.after(speakerTick, tick)
}

// detach is the end of an audio track that fed m. A participant without audio is
// forgotten, also as a recent speaker.
func (t *speakerTracker) detach(m *levelMeter) {
	t.mu.Lock()
	m.refs--
	if m.refs > 0 || t.meters[m.id] != m {
		t.mu.Unlock()
		return
	}
	delete(t.meters, m.id)
	if t.dominant == m.id {
		t.dominant = ""
	}
	t.recent = slices.DeleteFunc(t.recent, func(id string) bool { return id == m.id })
	if len(t.meters) == 0 && t.stop != nil {
		t.stop()
		t.stop = nil
	}
	changed := t.publishLocked()
	t.mu.Unlock()
	if changed {
		t.signal()
	}
}

// release is detach for a track's levelReader, which may be nil.
func (t *speakerTracker) release(r *levelReader) {
	if r != nil {
		t.detach(r.meter)
	}
}

// close stops the ticker for good.
func (t *speakerTracker) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		close(t.done)
	}
	t.closed = true
	if t.stop != nil {
		t.stop()
		t.stop = nil
	}
}

func (t *speakerTracker) signal() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// snapshot is the latest published state; the caller may keep it.
func (t *speakerTracker) snapshot() Speakers {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.snap
}

// rank is 0 for the dominant speaker, 1.. for the other recent speakers, latest first,
// and -1 for anyone else.
func (t *speakerTracker) rank(id string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := slices.Index(t.snap.Recent, id)
	if i < 0 || t.snap.Dominant != "" {
		return i
	}
	return i + 1
}

// tick smooths every meter's level and decides who speaks and who dominates; gen is
// the chain it is of (startLocked), self the function that calls it again.
func (t *speakerTracker) tick(gen uint64, self func()) {
	t.mu.Lock()
	if t.closed || t.stop == nil || gen != t.gen {
		t.mu.Unlock()
		return
	}
	t.stop = t.after(speakerTick, self)
	t.ticks++
	for _, m := range t.meters {
		loudness, ok := m.take()
		if ok {
			m.empty = 0
		} else if m.empty++; m.empty <= staleTicks {
			loudness = m.smooth // late packets (jitter) are no silence, yet
		}
		m.smooth += (loudness - m.smooth) * smoothing
		switch {
		case m.speaking && m.smooth < speakOff:
			m.speaking = false
		case !m.speaking && m.smooth >= speakOn:
			m.speaking, m.since = true, t.ticks
		}
		if m.speaking {
			m.run++
		} else {
			m.run = 0
		}
	}
	t.decideLocked()
	changed := t.publishLocked()
	t.mu.Unlock()
	if changed {
		t.signal()
	}
}

// decideLocked moves the dominance, with the hysteresis described at the top.
func (t *speakerTracker) decideLocked() {
	d := t.meters[t.dominant]
	var best *levelMeter // the loudest speaker other than the dominant one
	anyone := false
	for _, m := range t.meters {
		if !m.speaking {
			m.over = 0
			continue
		}
		anyone = true
		if m == d {
			continue
		}
		if d != nil && d.speaking && m.smooth >= d.smooth+speakMargin {
			m.over++
		} else {
			m.over = 0
		}
		if best == nil || m.smooth > best.smooth || m.smooth == best.smooth && m.id < best.id {
			best = m
		}
	}
	if d != nil {
		if d.speaking {
			d.quiet = 0
		} else {
			d.quiet++
		}
	}
	switch {
	case d == nil:
		if best != nil && best.run >= startTicks {
			t.takeLocked(best)
		}
	case best != nil && !d.speaking && best.run >= switchTicks,
		best != nil && best.over >= takeoverTicks:
		t.takeLocked(best)
	case !anyone && d.quiet >= releaseTicks:
		t.dominant = ""
	}
}

// takeLocked makes m the dominant speaker and the latest recent one.
func (t *speakerTracker) takeLocked(m *levelMeter) {
	t.dominant = m.id
	m.quiet, m.over = 0, 0
	t.recent = slices.DeleteFunc(t.recent, func(id string) bool { return id == m.id })
	t.recent = slices.Insert(t.recent, 0, m.id)
	if len(t.recent) > recentSpeakers {
		t.recent = t.recent[:recentSpeakers]
	}
}

// publishLocked makes the current state the snapshot, and reports whether it changed.
func (t *speakerTracker) publishLocked() bool {
	var speaking []*levelMeter
	for _, m := range t.meters {
		if m.speaking {
			speaking = append(speaking, m)
		}
	}
	slices.SortFunc(speaking, func(a, b *levelMeter) int {
		switch {
		case a.id == t.dominant:
			return -1
		case b.id == t.dominant:
			return 1
		case a.since != b.since:
			return int(a.since) - int(b.since)
		case a.id < b.id:
			return -1
		}
		return 1
	})
	next := Speakers{Dominant: t.dominant, Recent: slices.Clone(t.recent)}
	for _, m := range speaking {
		next.Speaking = append(next.Speaking, m.id)
	}
	if next.equal(t.snap) {
		return false
	}
	t.snap = next
	return true
}

// SpeakersChanged fires when Speakers has changed; at most once per tick of the speaker
// detection (100 ms on the engine's clock). It never fires with speaker detection off.
func (r *Room) SpeakersChanged() <-chan struct{} { return r.speakers.changed }

// SpeakersDone is closed when the room closes: SpeakersChanged fires no more.
func (r *Room) SpeakersDone() <-chan struct{} { return r.speakers.done }

// Speakers is who speaks in the room now.
func (r *Room) Speakers() Speakers { return r.speakers.snapshot() }

// speakerRank orders participants by how recently they were the dominant speaker: 0 for
// the current one, 1.. for the last ones before, -1 for anyone else (or with speaker
// detection off). The allocation of a subscriber's bandwidth puts the video of recent
// speakers first.
func (r *Room) speakerRank(participantID string) int { return r.speakers.rank(participantID) }
