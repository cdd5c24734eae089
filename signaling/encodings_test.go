package signaling_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
	"conclave/sfu"
	"conclave/signaling"
)

// newEngineClockServer is newTestServer with the SFU on a fake clock (the signaling
// server keeps the wall clock): the SFU times how long a layer has been unneeded.
func newEngineClockServer(t *testing.T, clock *fakeclock.Clock) *testServer {
	t.Helper()
	return newTestServerOn(t, signaling.Config{}, sfu.Config{Now: clock.Now, AfterFunc: clock.AfterFunc, NoBandwidthEstimation: true})
}

// TestEncodingsFollowViews: a member publishing a simulcast camera is told over the
// websocket which layers the others need: the largest (and the lowest) while a member
// has sent no view, only the lowest for a small tile, none once nobody shows it, and a
// layer needed again at once. Layers no longer needed go after 3 s on the SFU's clock.
func TestEncodingsFollowViews(t *testing.T) {
	clock := fakeclock.New(time.Unix(2_000_000, 0))
	s := newEngineClockServer(t, clock)
	meeting := s.createMeeting(t)
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	alice := s.join(t, meeting, "Alice")
	bob := s.join(t, meeting, "Bob")
	pub, err := alice.PublishSimulcast(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "Bob receiving the camera", func() bool {
		if err := pub.SendRound(); err != nil {
			t.Fatal(err)
		}
		r := bob.Received(alice.ParticipantID, "camera")
		return r != nil && r.Count() > 5
	})
	// Bob's subscription shows the largest layer, f: h is not needed.
	// expectEncodings waits for Alice's next encodings message, her camera sending
	// meanwhile (a switch of Bob's layer waits for a keyframe of the new one) and, with
	// step, the SFU's clock moving on by step each round (layers go 3 s after their last
	// subscriber switched away).
	expectEncodings := func(step time.Duration, want ...string) {
		t.Helper()
		// Bounded by the test's context, not by a count of rounds: a round lasts as
		// long as the machine takes to carry it, and a slow one needs more of them.
		for {
			if ctx.Err() != nil {
				t.Fatalf("no encodings message; want camera %v", want)
			}
			if err := pub.SendRound(); err != nil {
				t.Fatal(err)
			}
			if step > 0 {
				clock.Advance(step)
			}
			try, cancel := context.WithTimeout(ctx, 25*time.Millisecond)
			m, err := alice.Expect(try, signaling.TypeEncodings)
			cancel()
			if err != nil {
				continue
			}
			var p signaling.EncodingsPayload
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				t.Fatal(err)
			}
			if p.Source != "camera" || p.Active == nil || strings.Join(p.Active, ",") != strings.Join(want, ",") {
				t.Fatalf("encodings %s, want camera %v", m.Payload, want)
			}
			return
		}
	}
	expectEncodings(250*time.Millisecond, "q", "f")

	// The view is applied before the server reads Bob's next message: a chat's echo
	// says it has been.
	view := func(tracks ...signaling.ViewTrack) {
		t.Helper()
		if tracks == nil {
			tracks = []signaling.ViewTrack{}
		}
		if _, err := bob.Send(signaling.TypeView, signaling.ViewPayload{Tracks: &tracks}); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.Send(signaling.TypeChat, map[string]any{"text": "sync"}); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.Expect(ctx, signaling.TypeChat); err != nil {
			t.Fatal(err)
		}
	}
	view(signaling.ViewTrack{ParticipantID: alice.ParticipantID, Source: "camera", Width: 300, Height: 170})
	expectEncodings(250*time.Millisecond, "q")
	view(signaling.ViewTrack{ParticipantID: alice.ParticipantID, Source: "camera", Width: 640, Height: 360})
	expectEncodings(0, "q", "h") // at once: the clock stands still
	view()
	expectEncodings(250 * time.Millisecond)
}
