package e2e

import (
	"context"
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

// waitMic waits until the server has received a microphone packet of p stamped at
// least span of media time after the one stamped from, and returns them all.
func (m *micPackets) waitMic(ctx context.Context, t *testing.T, p *participant, from uint32, span time.Duration) []uint32 {
	t.Helper()
	ticks := int32(span.Seconds() * opusClock)
	for {
		got := m.of(p.id)
		if n := len(got); n > 0 && int32(got[n-1]-from) >= ticks {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s's microphone: %d packets at the server, none %s after the mark", p.name, len(got), span)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitFirst waits for p's first microphone packet at the server and returns its stamp.
func (m *micPackets) waitFirst(ctx context.Context, t *testing.T, p *participant) uint32 {
	t.Helper()
	for {
		if got := m.of(p.id); len(got) > 0 {
			return got[0]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no packet of %s's microphone at the server", p.name)
		case <-time.After(50 * time.Millisecond):
		}
	}
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

// opusClock is Opus's RTP clock rate: a packet's timestamp counts media time in it.
const opusClock = 48000

// TestMutedMicrophoneSendsAlmostNothing: a muted microphone (its track disabled, the
// device kept open so that unmuting is instant) sends the server a packet every few
// hundred milliseconds, not fifty a second of silence that the server would forward to
// every other member: the server's answer asks browsers for Opus's discontinuous
// transmission. In a class of thirty with one speaking, the twenty-nine muted
// microphones were forty thousand forwarded packets a second. Counted in media time
// (the packets' RTP timestamps), so the verdict does not depend on the machine's speed:
// a slow machine sends no more packets for a second of media. Chromium and Firefox.
func TestMutedMicrophoneSendsAlmostNothing(t *testing.T) {
	mics := &micPackets{ts: map[string][]uint32{}}
	srv := startServerWithTap(t, mics.tap)
	links := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	ctx, cancel := testContext()
	defer cancel()
	ana := joinAt(ctx, t, srv, browsertest.KindChromium, links, "Ana", links.fragment(), false)
	fox := joinAt(ctx, t, srv, browsertest.KindFirefox, links, "Fox", links.fragment(), false)
	people := []*participant{ana, fox}

	// Counted in RTP time: a second of media after each change for the encoders to
	// settle, then a window.
	const muted, unmuted = 5 * time.Second, 2 * time.Second
	for _, p := range people {
		first := mics.waitFirst(ctx, t, p)
		t.Logf("%s (%s): %d packets in %s of media before the mute", p.name, p.kind, mics.count(ctx, t, p, first+opusClock, unmuted), unmuted)
	}
	for i, p := range people {
		clickIn(ctx, t, p, "#btn-mic")
		micShows(ctx, t, p, people[1-i], false, p.name+" muted")
	}
	quiet := make([]float64, len(people))
	for i, p := range people {
		n := mics.count(ctx, t, p, mics.last(p)+opusClock, muted)
		// In silence Opus's discontinuous transmission sends about five packets a
		// second (a comfort-noise frame every 400 ms, each with the frame that starts
		// the pause again); without it fifty, one a 20 ms frame.
		if full := int(muted.Seconds() * 50); n > full/5 {
			t.Errorf("%s's muted microphone sent %d packets in %s of media, want at most %d (discontinuous transmission; %d without)", p.name, n, muted, full/5, full)
		}
		quiet[i] = float64(n) / muted.Seconds()
		t.Logf("%s (%s): %d packets in %s of muted media", p.name, p.kind, n, muted)
	}
	// Unmuted, the microphone's sound goes out again at once (Chromium's fake
	// microphone beeps, so half its frames are silence; Firefox's hums).
	for i, p := range people {
		clickIn(ctx, t, p, "#btn-mic")
		micShows(ctx, t, p, people[1-i], true, p.name+" unmuted")
	}
	for i, p := range people {
		n := mics.count(ctx, t, p, mics.last(p)+opusClock, unmuted)
		if rate := float64(n) / unmuted.Seconds(); rate < 3*quiet[i] {
			t.Errorf("%s's unmuted microphone sent %.1f packets a second, muted %.1f: its sound did not come back", p.name, rate, quiet[i])
		}
		t.Logf("%s (%s): %d packets in %s of unmuted media", p.name, p.kind, n, unmuted)
	}
}
