package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"conclave/internal/browsertest"
	"conclave/sfu"
)

// micPackets records, for each publisher, the RTP timestamps of the microphone packets
// the server receives.
type micPackets struct {
	mu sync.Mutex
	ts map[string][]uint32
}

func (m *micPackets) tap(p sfu.TapPacket) {
	if p.Source != sfu.SourceMicrophone {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ts[p.ParticipantID] = append(m.ts[p.ParticipantID], p.Timestamp)
}

func (m *micPackets) of(id string) []uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]uint32(nil), m.ts[id]...)
}

// waitUntil waits until cond holds of the stamps of p's microphone packets the server
// has received, and returns them.
func (m *micPackets) waitUntil(ctx context.Context, t *testing.T, p *participant, what string, cond func([]uint32) bool) []uint32 {
	t.Helper()
	for {
		if got := m.of(p.id); cond(got) {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s's microphone: %s (%d packets at the server)", p.name, what, len(m.of(p.id)))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitMic waits until the server has received a microphone packet of p stamped at
// least span of media time after the one stamped from, and returns them all.
func (m *micPackets) waitMic(ctx context.Context, t *testing.T, p *participant, from uint32, span time.Duration) []uint32 {
	t.Helper()
	ticks := int32(span.Seconds() * opusClock)
	return m.waitUntil(ctx, t, p, fmt.Sprintf("none %s after the mark", span), func(got []uint32) bool {
		return len(got) > 0 && int32(got[len(got)-1]-from) >= ticks
	})
}

// waitMore waits until the server has received more than n microphone packets of p.
func (m *micPackets) waitMore(ctx context.Context, t *testing.T, p *participant, n int) []uint32 {
	t.Helper()
	return m.waitUntil(ctx, t, p, fmt.Sprintf("no packet after the first %d", n), func(got []uint32) bool { return len(got) > n })
}

// last is the stamp of p's latest microphone packet at the server.
func (m *micPackets) last(p *participant) uint32 {
	got := m.of(p.id)
	return got[len(got)-1]
}

// count waits until p's microphone has sent a packet stamped span after from, and
// counts those stamped in [from, from+span).
func (m *micPackets) count(ctx context.Context, t *testing.T, p *participant, from uint32, span time.Duration) int {
	t.Helper()
	n := 0
	for _, ts := range m.waitMic(ctx, t, p, from, span) {
		if d := int32(ts - from); d >= 0 && d < int32(span.Seconds()*opusClock) {
			n++
		}
	}
	return n
}

// startMicServer starts a server that records the microphone packets it receives, with
// an end-to-end encrypted meeting without a waiting room.
func startMicServer(t *testing.T) (*server, *micPackets, meetingLinks) {
	t.Helper()
	mics := &micPackets{ts: map[string][]uint32{}}
	srv := startServerWithTap(t, mics.tap)
	return srv, mics, srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
}

// opus20msJS runs before the page: its microphone keeps the browser's own 20 ms Opus
// frames, which web/testhooks/early.js otherwise makes 60 ms ones for every test page.
const opus20msJS = `window.conclaveTestOpus20ms = true`

// frameStep is the shortest step between consecutive stamps of a microphone's packets
// (in RTP ticks): its Opus frame length, the longer steps being pauses.
func frameStep(stamps []uint32) int32 {
	step := int32(0)
	for i := 1; i < len(stamps); i++ {
		if d := int32(stamps[i] - stamps[i-1]); d > 0 && (step == 0 || d < step) {
			step = d
		}
	}
	return step
}

// opusClock is Opus's RTP clock rate: a packet's timestamp counts media time in it.
const opusClock = 48000

// TestMutedMicrophoneSendsNothing: a muted microphone stays open, so that unmuting is
// instant, but sends nothing: before, every muted microphone sent fifty packets a second
// of silence that the server forwarded to every other member (in a webinar of 200,
// two million forwarded packets a second). And in silence an unmuted microphone sends
// little: the server's answer asks browsers for Opus's discontinuous transmission.
// Counted at the server in media time (the packets' RTP timestamps: while one is muted,
// the other's microphone is the clock), so the verdicts do not depend on the machine's
// speed: a slow machine sends no more packets for a second of media. Chromium and
// Firefox, in an end-to-end encrypted meeting.
func TestMutedMicrophoneSendsNothing(t *testing.T) {
	srv, mics, links := startMicServer(t)
	ctx, cancel := testContext()
	defer cancel()
	// The browsers' own 20 ms Opus frames, which the counts below are about (early.js
	// has test pages send 60 ms ones); no cameras, which nothing here looks at.
	o := joinOptions{preload: opus20msJS}
	ana := joinWithOptions(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.fragment()), "Ana", o)
	fox := joinWithOptions(ctx, t, browsertest.KindFirefox, srv.cameraOffURL(links, links.fragment()), "Fox", o)
	people := []*participant{ana, fox}
	for _, p := range people {
		mics.waitMore(ctx, t, p, 0)
	}

	// Chromium's fake microphone beeps; between the beeps its encoder pauses, sending a
	// packet every 400 ms: about 50 packets in two seconds of media, 100 without the
	// pauses. (Firefox's fake microphone hums without a pause.)
	const span = 2 * time.Second
	// The counts are of 20 ms frames (opus20msJS): in 60 ms ones even a microphone
	// without discontinuous transmission would send fewer than 80.
	for _, p := range people {
		if got := frameStep(mics.waitMore(ctx, t, p, 20)); got != opusClock/50 {
			t.Fatalf("%s's microphone sends frames of %d RTP ticks, want %d (20 ms): the counts below would check nothing", p.name, got, opusClock/50)
		}
	}
	if n := mics.count(ctx, t, ana, mics.last(ana)+opusClock, span); n >= 80 {
		t.Errorf("Ana's beeping microphone sent %d packets in %s of media, want about 50 (discontinuous transmission; 100 without)", n, span)
	}

	for i, p := range people {
		clock := people[1-i]
		clickIn(ctx, t, p, "#btn-mic")
		micShows(ctx, t, p, clock, false, p.name+" muted")
		// Once the microphone is off its sender, a second of the other's media for what
		// was on its way, then three counted.
		waitFor(ctx, t, p, "the microphone off its sender", `window.conclave.debug().micSending === false`)
		mics.waitMic(ctx, t, clock, mics.last(clock), time.Second)
		before := len(mics.of(p.id))
		mics.waitMic(ctx, t, clock, mics.last(clock), 3*time.Second)
		if n := len(mics.of(p.id)) - before; n != 0 {
			t.Errorf("%s's muted microphone sent %d packets in 3s of %s's media, want none", p.name, n, clock.name)
		}

		clickIn(ctx, t, p, "#btn-mic")
		micShows(ctx, t, p, clock, true, p.name+" unmuted")
		after := mics.waitMore(ctx, t, p, before)
		if n := mics.count(ctx, t, p, after[before], span); n < 5 {
			t.Errorf("%s's unmuted microphone sent %d packets in %s of media", p.name, n, span)
		}
	}
}

// TestJoinedMutedThenUnmuted: who turns the microphone off on the pre-join screen joins
// with it open but muted, and sends nothing; unmuting puts the microphone on a sender
// that never had it, end-to-end encrypted, in Chromium (whose transform is attached when
// the sender is made) and in Firefox, heard by a third.
func TestJoinedMutedThenUnmuted(t *testing.T) {
	srv, mics, m := startMicServer(t)
	ctx, cancel := testContext()
	defer cancel()
	micOff := offBeforeJoining("mic")
	url := srv.pageURL(m, m.fragment())
	quinn := joinWithOptions(ctx, t, browsertest.KindChromium, url, "Quinn", joinOptions{prejoin: micOff})
	fern := joinWithOptions(ctx, t, browsertest.KindFirefox, url, "Fern", joinOptions{prejoin: micOff})
	// Ear listens and is the clock: Ear's camera stays off (cameraOffURL).
	ear := joinWithOptions(ctx, t, browsertest.KindChromium, srv.cameraOffURL(m, m.fragment()), "Ear", joinOptions{})
	quiet := []*participant{quinn, fern}

	// Ear's microphone is the clock: three seconds of its media, and nothing from the two.
	mics.waitMic(ctx, t, ear, mics.waitMore(ctx, t, ear, 0)[0], 3*time.Second)
	for _, p := range quiet {
		if n := len(mics.of(p.id)); n != 0 {
			t.Errorf("%s (%s) joined muted and sent %d packets", p.name, p.kind, n)
		}
	}
	for _, p := range quiet {
		clickIn(ctx, t, p, "#btn-mic")
		micShows(ctx, t, p, ear, true, p.name+" unmuted")
	}
	for _, p := range quiet {
		waitHeard(ctx, t, ear, p)
	}
}
