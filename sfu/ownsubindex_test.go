package sfu

import (
	"testing"
	"time"
)

// TestOwnSubscribeAnswerIndexesOnce: an answer that binds a hundred tracks (a
// subscriber joining a meeting of a hundred) indexes them for the subscriber's RTCP
// in one copy of the index, under the connection's lock: copied once a track, the
// answer made a hundred maps of up to a hundred entries (some 157 KB and half a
// millisecond, while the subscriber's writer waits on that lock for a sender report).
// Each track must be found under its SSRC after the answer, and none after an answer
// refusing them all; the binding's allocations must stay under one and a half a track (the binding itself is one).
func TestOwnSubscribeAnswerIndexesOnce(t *testing.T) {
	const tracks = 100
	p := &Participant{}
	p.own = &ownSub{p: p}
	accept, refuse := &answer{}, &answer{}
	for range tracks {
		d := &downTrack{up: newTestUpTrack(), sub: p}
		if err := p.own.addTrack(d); err != nil {
			t.Fatal(err)
		}
		p.own.offeredD = append(p.own.offeredD, d)
		accept.sections = append(accept.sections, answerSection{accepted: true, pt: 96})
		refuse.sections = append(refuse.sections, answerSection{})
	}
	apply := func(a *answer) {
		p.own.mu.Lock()
		p.own.bindAnswered(a)
		p.own.mu.Unlock()
	}
	apply(accept)
	for i, s := range p.own.sections {
		if got := p.downBySSRC(s.ssrc); got != s.d || s.bound != s.d || s.d.binding.Load() == nil {
			t.Fatalf("section %d: the RTCP index finds %p under %#x, want its track %p bound", i, got, s.ssrc, s.d)
		}
	}
	apply(refuse)
	for i, s := range p.own.sections {
		if got := p.downBySSRC(s.ssrc); got != nil || s.bound != nil || s.d.binding.Load() != nil {
			t.Fatalf("section %d: after a refusing answer the RTCP index finds %p under %#x, want nothing bound", i, got, s.ssrc)
		}
	}
	allocs := testing.AllocsPerRun(5, func() {
		apply(accept)
		apply(refuse)
	})
	if allocs > 1.5*tracks {
		t.Fatalf("an answer binding %d tracks and one unbinding them allocate %.0f times, want at most %d (1.5 a track): the RTCP index is copied once a track",
			tracks, allocs, 3*tracks/2)
	}
}

// TestOwnSubscribeStartsNoBindingUndone: what an answer's bind sets going once the
// connection's lock is let go (the join's keyframe, the replay, the last sender
// report: downTrack.started) is not set going when the binding was undone meanwhile,
// by a second answer refusing the section or by the track's removal: the publisher
// is asked no keyframe for a subscriber the track is not bound to, and the track's
// join is still to come (its next bind asks past the subscriber's limits). A
// binding left as it is asks once.
func TestOwnSubscribeStartsNoBindingUndone(t *testing.T) {
	at := time.Unix(1000, 0)
	for _, meanwhile := range []string{"an answer refuses it", "the track is removed", "nothing"} {
		t.Run(meanwhile, func(t *testing.T) {
			p := &Participant{}
			p.own = &ownSub{p: p}
			up := newTestUpTrack()
			up.clock = func() time.Time { return at }
			up.after = func(time.Duration, func()) func() bool { return func() bool { return true } }
			d := &downTrack{up: up, sub: p}
			if err := p.own.addTrack(d); err != nil {
				t.Fatal(err)
			}
			p.own.offeredD = []*downTrack{d}
			apply := func(accepted bool) []answerBind {
				p.own.mu.Lock()
				defer p.own.mu.Unlock()
				return p.own.bindAnswered(&answer{sections: []answerSection{{accepted: accepted, pt: 96}}})
			}
			binds := apply(true)
			switch meanwhile { // between accept's lock let go and what its binds set going
			case "an answer refuses it":
				apply(false)
			case "the track is removed":
				p.own.removeTrack(d)
			}
			for _, x := range binds {
				x.d.started(x.b)
			}
			want := uint64(0)
			if meanwhile == "nothing" {
				want = 1
			}
			if got := up.stats.keyframesOut.Load(); got != want || d.bound.Load() != (want == 1) {
				t.Fatalf("%s meanwhile: the publisher was asked %d keyframes, the join made: %v; want %d", meanwhile, got, d.bound.Load(), want)
			}
		})
	}
}
