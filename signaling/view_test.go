package signaling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// TestViewRefusals: a malformed view is refused with a typed error and changes nothing;
// a well-formed one, with unknown participants or none at all, is taken silently; views
// beyond the burst are rate limited until the (fake) clock moves on.
func TestViewRefusals(t *testing.T) {
	clock := newFakeClock()
	s := newTestServerWith(t, signaling.Config{Clock: clock})
	m := s.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	a := s.join(t, m.MeetingID, "A")

	many := make([]string, signaling.MaxViewTracks+1)
	for i := range many {
		many[i] = fmt.Sprintf(`{"participantId":"p-%d","source":"camera","width":10,"height":10}`, i)
	}
	cases := []struct {
		name, payload, code string
	}{
		{"no tracks", `{}`, "invalid_field"},
		{"tracks null", `{"tracks":null}`, "invalid_field"},
		{"tracks not a list", `{"tracks":{}}`, "bad_message"},
		{"too many", `{"tracks":[` + strings.Join(many, ",") + `]}`, "invalid_field"},
		{"no participant", `{"tracks":[{"source":"camera","width":10,"height":10}]}`, "invalid_field"},
		{"long participant", `{"tracks":[{"participantId":"` + strings.Repeat("p", 65) + `","source":"camera","width":10,"height":10}]}`, "invalid_field"},
		{"microphone", `{"tracks":[{"participantId":"p-1","source":"microphone","width":10,"height":10}]}`, "invalid_field"},
		{"zero width", `{"tracks":[{"participantId":"p-1","source":"camera","width":0,"height":10}]}`, "invalid_field"},
		{"negative height", `{"tracks":[{"participantId":"p-1","source":"camera","width":10,"height":-1}]}`, "invalid_field"},
		{"too wide", `{"tracks":[{"participantId":"p-1","source":"screen","width":7681,"height":10}]}`, "invalid_field"},
		{"fractional", `{"tracks":[{"participantId":"p-1","source":"screen","width":10.5,"height":10}]}`, "bad_message"},
		{"twice", `{"tracks":[{"participantId":"p-1","source":"camera","width":10,"height":10},{"participantId":"p-1","source":"camera","width":20,"height":20}]}`, "invalid_field"},
	}
	for i, tc := range cases {
		id := fmt.Sprintf("v%d", i)
		if err := a.SendRaw([]byte(`{"type":"view","id":"` + id + `","payload":` + tc.payload + `}`)); err != nil {
			t.Fatal(err)
		}
		if code, ref := expectError(t, a); code != tc.code || ref != id {
			t.Errorf("%s: got %s (ref %q), want %s (ref %q)", tc.name, code, ref, tc.code, id)
		}
	}
	// Well-formed views are taken without a reply: the error after them names the bad
	// message that followed them. The burst is 10.
	good := []string{
		`{"tracks":[]}`,
		`{"tracks":[{"participantId":"p-nobody","source":"camera","width":320,"height":180},{"participantId":"p-nobody","source":"screen","width":7680,"height":4320}]}`,
	}
	for i := 0; i < 10; i++ {
		if err := a.SendRaw([]byte(`{"type":"view","payload":` + good[i%2] + `}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SendRaw([]byte(`{"type":"view","id":"after","payload":{}}`)); err != nil {
		t.Fatal(err)
	}
	if code, ref := expectError(t, a); code != "invalid_field" || ref != "after" {
		t.Fatalf("after good views: %s (ref %q), want invalid_field for the bad one", code, ref)
	}
	if err := a.SendRaw([]byte(`{"type":"view","id":"over","payload":{"tracks":[]}}`)); err != nil {
		t.Fatal(err)
	}
	if code, ref := expectError(t, a); code != "rate_limited" || ref != "over" {
		t.Fatalf("view over the burst: %s (ref %q), want rate_limited", code, ref)
	}
	clock.Advance(time.Second)
	if err := a.SendRaw([]byte(`{"type":"view","payload":{"tracks":[]}}`)); err != nil {
		t.Fatal(err)
	}
	if err := a.SendRaw([]byte(`{"type":"view","id":"last","payload":{}}`)); err != nil {
		t.Fatal(err)
	}
	if code, ref := expectError(t, a); code != "invalid_field" || ref != "last" {
		t.Fatalf("after the clock moved: %s (ref %q), want invalid_field for the bad one", code, ref)
	}
}

// TestViewStopsUnwatchedVideo: a subscriber whose view leaves a camera out gets none of
// its packets while audio goes on; named again, the camera comes back from a keyframe.
// Another subscriber without a view gets everything throughout.
func TestViewStopsUnwatchedVideo(t *testing.T) {
	s := newTestServer(t)
	meeting := s.createMeeting(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := s.join(t, meeting, "Alice")
	bob := s.join(t, meeting, "Bob")
	carol := s.join(t, meeting, "Carol")
	pubs, err := alice.Publish(ctx, "microphone", "camera")
	if err != nil {
		t.Fatal(err)
	}
	var mic, cam *testclient.Publisher
	for _, p := range pubs {
		if p.Source == "camera" {
			cam = p
		} else {
			mic = p
		}
	}
	// Every camera packet is a VP8 keyframe start (S=1, P=0), so any of them can
	// restart a stream; the rest of the payload names the round it was sent in.
	n := 0
	round := func() {
		n++
		_ = mic.Send([]byte(fmt.Sprintf("mic/%06d", n)))
		_ = cam.Send([]byte(fmt.Sprintf("\x10\x00cam/%06d", n)))
	}
	got := func(c *testclient.Client, source string) int {
		if r := c.Received(alice.ParticipantID, source); r != nil {
			return r.Count()
		}
		return 0
	}
	pump := func(what string, cond func() bool) {
		t.Helper()
		conntest.Eventually(t, what, func() bool {
			round()
			return cond()
		})
	}
	pump("Bob and Carol receiving", func() bool {
		return got(bob, "camera") > 0 && got(bob, "microphone") > 0 && got(carol, "camera") > 0
	})

	view := func(tracks ...signaling.ViewTrack) {
		t.Helper()
		if tracks == nil {
			tracks = []signaling.ViewTrack{}
		}
		if _, err := bob.Send(signaling.TypeView, signaling.ViewPayload{Tracks: &tracks}); err != nil {
			t.Fatal(err)
		}
	}
	view()
	// The view is applied before the server reads Bob's next message: a chat's echo
	// says it has been.
	if _, err := bob.Send(signaling.TypeChat, map[string]any{"text": "hi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Expect(ctx, signaling.TypeChat); err != nil {
		t.Fatal(err)
	}
	hiddenFrom := n + 1
	mics, carolCams := got(bob, "microphone"), got(carol, "camera")
	pump("audio while the camera is hidden", func() bool {
		return got(bob, "microphone") > mics+20 && got(carol, "camera") > carolCams+20
	})
	hiddenTo := n
	// The SFU reads a track's packets one after another: once Carol has the round
	// after the last one counted, the server is done with every counted one.
	carolHas := func(k int) bool {
		for _, p := range carol.Received(alice.ParticipantID, "camera").Payloads() {
			if string(p[2:]) == fmt.Sprintf("cam/%06d", k) {
				return true
			}
		}
		return false
	}
	round()
	conntest.Eventually(t, "Carol receiving the last round", func() bool { return carolHas(hiddenTo + 1) })
	view(signaling.ViewTrack{ParticipantID: alice.ParticipantID, Source: "camera", Width: 640, Height: 360})
	pump("the camera shown again", func() bool {
		for _, p := range bob.Received(alice.ParticipantID, "camera").Payloads() {
			var k int
			if _, err := fmt.Sscanf(string(p[2:]), "cam/%06d", &k); err == nil && k > hiddenTo {
				return true
			}
		}
		return false
	})
	for _, p := range bob.Received(alice.ParticipantID, "camera").Payloads() {
		var k int
		if _, err := fmt.Sscanf(string(p[2:]), "cam/%06d", &k); err != nil {
			t.Fatalf("payload %q", p)
		}
		if k >= hiddenFrom && k <= hiddenTo {
			t.Fatalf("camera packet of round %d (sent while hidden) reached Bob", k)
		}
	}
}

// FuzzParseView: the view parser never panics, refuses with a typed error, and what it
// accepts keeps every limit.
func FuzzParseView(f *testing.F) {
	for _, s := range []string{
		`{"type":"view","payload":{"tracks":[]}}`,
		`{"type":"view","payload":{"tracks":[{"participantId":"p-1","source":"camera","width":320,"height":180}]}}`,
		`{"type":"view","payload":{"tracks":[{"participantId":"p-1","source":"screen","width":7680,"height":4320},{"participantId":"p-2","source":"camera","width":1,"height":1}]}}`,
		`{"type":"view","payload":{"tracks":[{"participantId":"p-1","source":"camera","width":320,"height":180},{"participantId":"p-1","source":"camera","width":3,"height":1}]}}`,
		`{"type":"view","payload":{"tracks":[{"participantId":"","source":"camera","width":320,"height":180}]}}`,
		`{"type":"view","payload":{"tracks":[{"participantId":"p","source":"microphone","width":1e3,"height":-5}]}}`,
		`{"type":"view","payload":{"tracks":null}}`,
		`{"type":"view","payload":{}}`,
		`{"type":"view"}`,
		`{"type":"view","payload":{"tracks":"all"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := signaling.DecodeEnvelope(data)
		if err != nil {
			return
		}
		tracks, verr := signaling.ParseView(env)
		if verr != nil {
			if verr.Code != signaling.CodeInvalidField && verr.Code != signaling.CodeBadMessage {
				t.Fatalf("view refused with %s", verr.Code)
			}
			return
		}
		if len(tracks) > signaling.MaxViewTracks {
			t.Fatalf("%d tracks accepted", len(tracks))
		}
		seen := map[string]bool{}
		for _, tr := range tracks {
			k := tr.ParticipantID + "\x00" + tr.Source
			if seen[k] || tr.ParticipantID == "" || len(tr.ParticipantID) > 64 ||
				(tr.Source != "camera" && tr.Source != "screen") ||
				tr.Width < 1 || tr.Height < 1 || tr.Width > signaling.MaxTileSide || tr.Height > signaling.MaxTileSide {
				t.Fatalf("accepted %+v", tr)
			}
			seen[k] = true
		}
		// What was accepted survives a round trip unchanged.
		b, _ := json.Marshal(signaling.ViewPayload{Tracks: &tracks})
		again, aerr := signaling.ParseView(signaling.Envelope{Type: signaling.TypeView, Payload: b})
		if aerr != nil || len(again) != len(tracks) {
			t.Fatalf("round trip of %s: %v", b, aerr)
		}
	})
}
