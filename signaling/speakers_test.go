package signaling_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
	"conclave/internal/testclient"
	"conclave/sfu"
	"conclave/signaling"
)

// newSpeakerServer is newTestServer with the SFU and the signaling server on one fake
// clock, and speaker detection on or off.
func newSpeakerServer(t *testing.T, clock *fakeclock.Clock, detection bool) *testServer {
	t.Helper()
	return newTestServerOn(t, signaling.Config{Clock: clock},
		sfu.Config{Now: clock.Now, AfterFunc: clock.AfterFunc, SpeakerDetection: detection, NoBandwidthEstimation: true})
}

// speakerScene is a meeting whose members publish microphones with audio levels, and
// a listener whose `speaking` messages the test follows.
type speakerScene struct {
	t        *testing.T
	clock    *fakeclock.Clock
	listener *testclient.Client
	seen     int // messages of the listener read so far
	got      []signaling.SpeakingPayload
	start    time.Time
}

func publishMic(t *testing.T, c *testclient.Client) *testclient.Publisher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pubs, err := c.PublishWith(ctx, testclient.PublishOptions{AudioLevels: true, Tracks: []testclient.PublishTrack{{Kind: "audio", Label: "microphone"}}})
	if err != nil {
		t.Fatal(err)
	}
	return pubs[0]
}

// talk sends 100 ms of packets at the given levels per round, moving the clock on by
// 100 ms after each, until a `speaking` message satisfies until; check sees every
// `speaking` message on the way.
func (s *speakerScene) talk(what string, levels map[*testclient.Publisher]uint8, until, check func(signaling.SpeakingPayload) bool) {
	s.t.Helper()
	deadline := time.Now().Add(conntest.Wait)
	for time.Now().Before(deadline) {
		if s.round(what, levels, until, check) {
			return
		}
	}
	s.t.Fatalf("timed out waiting for %s; speaking messages %+v", what, s.got)
}

// rounds is talk for n rounds, whatever comes.
func (s *speakerScene) rounds(n int, levels map[*testclient.Publisher]uint8, check func(signaling.SpeakingPayload) bool) {
	s.t.Helper()
	for range n {
		s.round("a round", levels, func(signaling.SpeakingPayload) bool { return false }, check)
	}
}

// round is one round of talk; it reports whether until held.
func (s *speakerScene) round(what string, levels map[*testclient.Publisher]uint8, until, check func(signaling.SpeakingPayload) bool) bool {
	s.t.Helper()
	for pub, level := range levels {
		for range 5 {
			if err := pub.SendLevel([]byte{0xfc, 1, 2, 3}, level, true); err != nil {
				s.t.Fatal(err)
			}
		}
	}
	// Time for the packets to arrive before the clock moves on; a packet that comes
	// late counts in the next round (the verdicts do not depend on it).
	time.Sleep(20 * time.Millisecond)
	s.clock.Advance(100 * time.Millisecond)
	for _, m := range s.listener.AllFrom(s.seen) {
		s.seen++
		if m.Type != signaling.TypeSpeaking {
			continue
		}
		var p signaling.SpeakingPayload
		if err := json.Unmarshal(m.Payload, &p); err != nil || p.Speaking == nil || p.Recent == nil {
			s.t.Fatalf("speaking %s: %v", m.Payload, err)
		}
		s.got = append(s.got, p)
		if check != nil && !check(p) {
			s.t.Fatalf("%s: unexpected speaking %s", what, m.Payload)
		}
		if until(p) {
			return true
		}
	}
	return false
}

// TestSpeakingFollowsAudioLevels: members are told who speaks, from the audio levels of
// the microphones: the loud one becomes the dominant speaker, the quiet one never
// speaks; someone speaking more softly does not take over while the dominant speaker
// goes on, but does when the dominant speaker falls silent; silence ends it. Messages
// come at most every 300 ms of the server's clock.
func TestSpeakingFollowsAudioLevels(t *testing.T) {
	clock := newFakeClock()
	s := newSpeakerServer(t, clock, true)
	meeting := s.createMeeting(t)
	alice := s.join(t, meeting, "Alice")
	bob := s.join(t, meeting, "Bob")
	carol := s.join(t, meeting, "Carol")
	a, b := publishMic(t, alice), publishMic(t, bob)
	if !a.AudioLevelNegotiated() {
		t.Fatal("the server did not accept the audio level extension")
	}
	scene := &speakerScene{t: t, clock: clock, listener: carol, start: clock.Now()}
	A, B := alice.ParticipantID, bob.ParticipantID

	scene.talk("Alice dominant", map[*testclient.Publisher]uint8{a: 25, b: 90},
		func(p signaling.SpeakingPayload) bool { return p.Dominant == A },
		func(p signaling.SpeakingPayload) bool { return !slices.Contains(p.Speaking, B) })
	// Bob speaks too, softer: Alice stays dominant, first among those speaking.
	scene.talk("Bob speaking too", map[*testclient.Publisher]uint8{a: 20, b: 45},
		func(p signaling.SpeakingPayload) bool { return slices.Equal(p.Speaking, []string{A, B}) },
		func(p signaling.SpeakingPayload) bool { return p.Dominant == A })
	scene.rounds(30, map[*testclient.Publisher]uint8{a: 20, b: 45},
		func(p signaling.SpeakingPayload) bool { return p.Dominant == A })
	// Alice falls silent, Bob goes on: Bob takes over.
	scene.talk("Bob dominant", map[*testclient.Publisher]uint8{a: 127, b: 45},
		func(p signaling.SpeakingPayload) bool {
			return p.Dominant == B && slices.Equal(p.Speaking, []string{B})
		}, nil)
	// Silence ends it; the recent speakers remain, the latest first.
	scene.talk("silence", map[*testclient.Publisher]uint8{a: 127, b: 127},
		func(p signaling.SpeakingPayload) bool { return p.Dominant == "" && len(p.Speaking) == 0 }, nil)
	if last := scene.got[len(scene.got)-1]; !slices.Equal(last.Recent, []string{B, A}) {
		t.Fatalf("recent %q, want Bob then Alice", last.Recent)
	}
	// Pace: at most one message per 300 ms of the server's clock.
	if n, most := len(scene.got), int(clock.Now().Sub(scene.start)/(300*time.Millisecond))+1; n > most {
		t.Fatalf("%d speaking messages in %v", n, clock.Now().Sub(scene.start))
	}
	// Members that speak are told as well; the welcome of a latecomer says who spoke.
	conntest.Eventually(t, "Alice told", func() bool { return hasType(alice.All(), signaling.TypeSpeaking) })
	dave := s.join(t, meeting, "Dave")
	conntest.Eventually(t, "Dave told", func() bool { return hasType(dave.All(), signaling.TypeSpeaking) })
}

// TestSpeakingOff: with speaker detection off the server does not accept the audio
// level extension, so browsers do not send it, and nobody is told who speaks.
func TestSpeakingOff(t *testing.T) {
	clock := newFakeClock()
	s := newSpeakerServer(t, clock, false)
	meeting := s.createMeeting(t)
	alice := s.join(t, meeting, "Alice")
	carol := s.join(t, meeting, "Carol")
	a := publishMic(t, alice)
	if a.AudioLevelNegotiated() {
		t.Fatal("the audio level extension was negotiated with speaker detection off")
	}
	conntest.Eventually(t, "Carol hearing Alice", func() bool {
		if err := a.SendLevel([]byte{0xfc, 1}, 20, true); err != nil {
			t.Fatal(err)
		}
		r := carol.Received(alice.ParticipantID, "microphone")
		return r != nil && r.Count() > 5
	})
	for range 30 {
		for range 5 {
			if err := a.SendLevel([]byte{0xfc, 1}, 20, true); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(10 * time.Millisecond)
		clock.Advance(100 * time.Millisecond)
	}
	// A chat's echo comes after anything the server sent Carol before it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := carol.Send(signaling.TypeChat, map[string]any{"text": "sync"}); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.Expect(ctx, signaling.TypeChat); err != nil {
		t.Fatal(err)
	}
	if hasType(carol.All(), signaling.TypeSpeaking) || hasType(alice.All(), signaling.TypeSpeaking) {
		t.Fatal("a speaking message with speaker detection off")
	}
}

func hasType(msgs []testclient.Message, typ string) bool {
	return slices.ContainsFunc(msgs, func(m testclient.Message) bool { return m.Type == typ })
}

// TestWelcomeSaysWhetherSpeakersAreTold: the welcome of a join and of a resume says
// `speakers` exactly when the server tells who speaks, so a page knows whether it
// must analyse the audio itself.
func TestWelcomeSaysWhetherSpeakersAreTold(t *testing.T) {
	for _, detection := range []bool{true, false} {
		clock := newFakeClock()
		s := newTestServerOn(t, signaling.Config{Clock: clock, ResumeGrace: testGrace},
			sfu.Config{Now: clock.Now, AfterFunc: clock.AfterFunc, SpeakerDetection: detection, NoBandwidthEstimation: true})
		meeting := s.createMeeting(t)
		alice := s.join(t, meeting, "Alice")
		bob := s.join(t, meeting, "Bob")
		if alice.Speakers != detection || bob.Speakers != detection {
			t.Fatalf("detection %v: the welcomes say speakers %v, %v", detection, alice.Speakers, bob.Speakers)
		}
		id, secret := alice.ParticipantID, alice.ResumeSecret
		dropAndSeeReconnecting(t, alice, bob)
		again := s.dial(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := again.Resume(ctx, meeting, id, secret)
		cancel()
		if err != nil {
			t.Fatalf("resume: %v", err)
		}
		if again.Speakers != detection {
			t.Fatalf("detection %v: the resume's welcome says speakers %v", detection, again.Speakers)
		}
	}
}
