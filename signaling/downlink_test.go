package signaling_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/sfu"
	"conclave/signaling"
)

// TestDownlinkSaysWhyVideoIsReduced: a member behind a 200 kbit/s link, shown a
// simulcast camera whose layers carry far more, gets the smallest layer and is told so
// over the websocket (`downlink`: limited, the camera "reduced"), once its bandwidth is
// estimated from the loss on its link. (sfu's TestSubscriberBandwidth covers the
// estimate and the allocation on a simulated link in depth.)
func TestDownlinkSaysWhyVideoIsReduced(t *testing.T) {
	s := newTestServerOn(t, signaling.Config{}, sfu.Config{})
	meeting := s.createMeeting(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := s.join(t, meeting, "Alice")
	bob := s.dial(t)
	if err := bob.UseDownlinkLimit(200_000); err != nil {
		t.Fatal(err)
	}
	if err := bob.Join(ctx, meeting, "Bob"); err != nil {
		t.Fatal(err)
	}
	pub, err := alice.PublishSimulcast(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// About 800 kbit/s on each layer: 100 frames a second of 1000 bytes.
	pub.SetFrameBytes(1000)
	stop := make(chan struct{})
	sent := make(chan error, 1)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				sent <- nil
				return
			case <-tick.C:
			}
			if err := pub.SendRound(); err != nil {
				sent <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-sent; err != nil {
			t.Error(err)
		}
	}()

	m, err := bob.Expect(ctx, signaling.TypeDownlink)
	if err != nil {
		t.Fatal(err)
	}
	var got signaling.DownlinkPayload
	if err := json.Unmarshal(m.Payload, &got); err != nil {
		t.Fatal(err)
	}
	want := signaling.DownlinkTrack{ParticipantID: alice.ParticipantID, Source: "camera", State: "reduced"}
	if !got.Limited || len(got.Tracks) != 1 || got.Tracks[0] != want {
		t.Errorf("downlink %s, want limited with %+v", m.Payload, want)
	}
	// And what Bob gets is indeed the smallest layer (each frame ends in its RID).
	conntest.Eventually(t, "Bob receiving only q", func() bool {
		r := bob.Received(alice.ParticipantID, "camera")
		if r == nil {
			return false
		}
		p := r.Payloads()
		if len(p) < 20 {
			return false
		}
		for _, f := range p[len(p)-20:] {
			if len(f) == 0 || f[len(f)-1] != 'q' {
				return false
			}
		}
		return true
	})
}
