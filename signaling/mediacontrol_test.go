package signaling_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// phasedSender publishes distinct packets on every track of some clients, each tagged
// with the phase the test is in. A test moves to a new phase after the server must have
// acted; a packet of that phase that arrives was forwarded after the action. Verdicts
// compare tracks with each other (a blocked track against one that flows), never with
// the clock.
type phasedSender struct {
	phase atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup
}

func startPhased(t *testing.T, clients map[*testclient.Client][]*testclient.Publisher) *phasedSender {
	s := &phasedSender{stop: make(chan struct{})}
	for c, pubs := range clients {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			deadline := time.After(60 * time.Second)
			for n := 0; ; n++ {
				select {
				case <-s.stop:
					return
				case <-deadline:
					return
				case <-tick.C:
				}
				ph := s.phase.Load()
				for _, p := range pubs {
					payload := []byte(fmt.Sprintf("ph=%03d/%s/%s/%06d/", ph, c.ParticipantID, p.Source, n))
					for len(payload) < 200 {
						payload = append(payload, byte(n+len(payload)))
					}
					_ = p.Send(payload)
				}
			}
		}()
	}
	t.Cleanup(func() { close(s.stop); s.wg.Wait() })
	return s
}

// next starts a new phase and returns it.
func (s *phasedSender) next() int64 { return s.phase.Add(1) }

// inPhase counts the packets of phase ph that c received from participant's source.
func inPhase(c *testclient.Client, participant, source string, ph int64) int {
	r := c.Received(participant, source)
	if r == nil {
		return 0
	}
	tag := []byte(fmt.Sprintf("ph=%03d/", ph))
	n := 0
	for _, p := range r.Payloads() {
		if bytes.HasPrefix(p, tag) {
			n++
		}
	}
	return n
}

// track names one published track as a subscriber sees it.
type track struct {
	at          *testclient.Client
	participant string
	source      string
}

func (tr track) count(ph int64) int { return inPhase(tr.at, tr.participant, tr.source, ph) }

// waitFlowing waits until every track has delivered packets of phase ph.
func waitFlowing(t *testing.T, ph int64, tracks ...track) {
	t.Helper()
	for _, tr := range tracks {
		conntest.Eventually(t, fmt.Sprintf("%s flowing in phase %d", tr.source, ph), func() bool { return tr.count(ph) >= 10 })
	}
}

// expectBlocked: once ref has delivered 30 packets of phase ph, none of blocked's packets
// of that phase have arrived.
func expectBlocked(t *testing.T, ph int64, ref track, blocked ...track) {
	t.Helper()
	waitFlowing(t, ph, ref)
	conntest.Eventually(t, "the reference track to flow on", func() bool { return ref.count(ph) >= 30 })
	for _, b := range blocked {
		if n := b.count(ph); n != 0 {
			t.Fatalf("%s/%s: %d packets forwarded after the server should have stopped it", b.participant, b.source, n)
		}
	}
}

// refusal returns the code and message of a refused request.
func refusal(t *testing.T, err error) (code, msg string) {
	t.Helper()
	var re *testclient.RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("want a refusal, got %v", err)
	}
	return re.Code, re.Message
}

// TestTrackLabelsMustMatchOffer: a publish offer whose track labels do not match what its
// SDP carries (kind, one track per source, every sending section labelled, labels naming
// real sections, at most 16 sections) is refused whole with invalid_field; afterwards an
// honest offer publishes exactly its own tracks.
func TestTrackLabelsMustMatchOffer(t *testing.T) {
	srv := newTestServer(t)
	meeting := srv.createMeeting(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub := srv.join(t, meeting, "Publisher")
	watcher := srv.join(t, meeting, "Watcher")

	audio := func(l string) testclient.PublishTrack { return testclient.PublishTrack{Kind: "audio", Label: l} }
	video := func(l string) testclient.PublishTrack { return testclient.PublishTrack{Kind: "video", Label: l} }
	forty := []testclient.PublishTrack{audio("microphone"), video("camera")}
	for len(forty) < 40 {
		forty = append(forty, video(""))
	}
	cases := []struct {
		name string
		opts testclient.PublishOptions
		want string // in the message
	}{
		{"audio labelled camera", testclient.PublishOptions{Tracks: []testclient.PublishTrack{audio("camera")}}, "not video"},
		{"video labelled microphone", testclient.PublishOptions{Tracks: []testclient.PublishTrack{video("microphone")}}, "not audio"},
		{"two cameras", testclient.PublishOptions{Tracks: []testclient.PublishTrack{video("camera"), video("camera")}}, "more than one sending camera"},
		{"two microphones", testclient.PublishOptions{Tracks: []testclient.PublishTrack{audio("microphone"), audio("microphone")}}, "more than one sending microphone"},
		{"unlabelled sending track", testclient.PublishOptions{Tracks: []testclient.PublishTrack{audio("microphone"), video("")}}, "no source"},
		{"label for a missing section", testclient.PublishOptions{
			Tracks:      []testclient.PublishTrack{audio("microphone")},
			ExtraLabels: []map[string]string{{"mid": "7", "source": "camera"}},
		}, "no media section"},
		{"40 tracks", testclient.PublishOptions{Tracks: forty, OpusVP8Only: true}, "media sections"},
		// Pion receives on a section with port 0 as well, so it needs its label too.
		{"port 0 sender unlabelled", testclient.PublishOptions{
			Tracks: []testclient.PublishTrack{audio("microphone"), video("")},
			EditSDP: func(sdp string) string {
				return strings.Replace(sdp, "m=video 9 ", "m=video 0 ", 1)
			},
		}, "no source"},
	}
	for _, tc := range cases {
		_, err := pub.PublishWith(ctx, tc.opts)
		code, msg := refusal(t, err)
		if code != "invalid_field" || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: got %s %q, want invalid_field mentioning %q", tc.name, code, msg, tc.want)
		}
	}

	// Nothing of the refused offers reached anyone: the chat round trip orders this
	// check after everything the server did for them.
	if _, err := pub.Send("chat", map[string]any{"text": "after the refused offers"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, watcher, "chat")
	if n := subscribeOffers(watcher); n != 0 {
		t.Fatalf("the watcher got %d subscribe offers from refused publish offers", n)
	}

	pubs, err := pub.Publish(ctx, "microphone", "camera")
	if err != nil {
		t.Fatalf("honest publish after refused ones: %v", err)
	}
	ps := startPhased(t, map[*testclient.Client][]*testclient.Publisher{pub: pubs})
	waitFlowing(t, ps.phase.Load(), track{watcher, pub.ParticipantID, "microphone"}, track{watcher, pub.ParticipantID, "camera"})
	var got []string
	for _, tr := range lastOffer(watcher) {
		if tr.ParticipantID == pub.ParticipantID {
			got = append(got, tr.Source+"/"+tr.Kind)
		}
	}
	if len(got) != 2 {
		t.Fatalf("the watcher is offered %v from the publisher, want its microphone and camera only", got)
	}
}

// TestModeratorMuteHolds: a moderator's mute of the microphone and of the camera stops
// forwarding at once; media_state cannot lift either mute while the unmute setting is
// off (a refused media_state changes nothing), and lifts both after ask_unmute.
func TestModeratorMuteHolds(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{"settings":{"unmute":false}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mod := srv.joinModerator(t, mt, "Mod")
	spk := srv.admitted(t, mod, mt.MeetingID, "Speaker")
	ref := srv.admitted(t, mod, mt.MeetingID, "Reference")
	spkPubs, err := spk.Publish(ctx, "microphone", "camera")
	if err != nil {
		t.Fatal(err)
	}
	refPubs, err := ref.Publish(ctx, "microphone")
	if err != nil {
		t.Fatal(err)
	}
	ps := startPhased(t, map[*testclient.Client][]*testclient.Publisher{spk: spkPubs, ref: refPubs})
	mic := track{mod, spk.ParticipantID, "microphone"}
	cam := track{mod, spk.ParticipantID, "camera"}
	refMic := track{mod, ref.ParticipantID, "microphone"}
	waitFlowing(t, 0, mic, cam, refMic)

	// The server blocks before it tells the member, so what the member sends after
	// media_command must never arrive.
	_, _ = mod.Send("mute", map[string]any{"participantId": spk.ParticipantID, "source": "microphone"})
	expectType(t, spk, "media_command")
	ph := ps.next()
	expectBlocked(t, ph, cam, mic)

	_, _ = mod.Send("mute", map[string]any{"participantId": spk.ParticipantID, "source": "camera"})
	expectType(t, spk, "media_command")
	ph = ps.next()
	expectBlocked(t, ph, refMic, mic, cam)

	// Turning the camera back on is refused like unmuting is...
	for _, state := range []map[string]any{{"mic": false, "camera": true}, {"mic": true, "camera": true}} {
		id, _ := spk.Send("media_state", state)
		if code, ref := expectError(t, spk); code != "not_allowed" || ref != id {
			t.Fatalf("media_state %v: %s (ref %q), want not_allowed", state, code, ref)
		}
	}
	ph = ps.next()
	expectBlocked(t, ph, refMic, mic, cam)

	// ...until a moderator asks.
	_, _ = mod.Send("ask_unmute", map[string]any{"participantId": spk.ParticipantID})
	expectType(t, spk, "media_command")
	_, _ = spk.Send("media_state", map[string]any{"mic": true, "camera": true})
	waitFlowing(t, ps.next(), mic, cam)
}

// TestScreenStopsWithoutPermission: when the moderator turns screen sharing off, a
// member's screen track stops being forwarded even though the member never said it
// shares its screen.
func TestScreenStopsWithoutPermission(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{"settings":{"screenShare":true}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mod := srv.joinModerator(t, mt, "Mod")
	m := srv.admitted(t, mod, mt.MeetingID, "Member") // joins with screen: false
	pubs, err := m.Publish(ctx, "microphone", "screen")
	if err != nil {
		t.Fatal(err)
	}
	ps := startPhased(t, map[*testclient.Client][]*testclient.Publisher{m: pubs})
	mic := track{mod, m.ParticipantID, "microphone"}
	screen := track{mod, m.ParticipantID, "screen"}
	waitFlowing(t, 0, mic, screen)

	_, _ = mod.Send("update_settings", map[string]any{"screenShare": false})
	// The member's session applies the change on its own goroutine: wait for a phase in
	// which the screen delivers nothing while the microphone flows (a bounded number).
	for i := 0; ; i++ {
		ph := ps.next()
		waitFlowing(t, ph, mic)
		conntest.Eventually(t, "the microphone to flow on", func() bool { return mic.count(ph) >= 30 })
		if screen.count(ph) == 0 {
			break
		}
		if i == 20 {
			t.Fatal("the screen is still forwarded after screen sharing was turned off")
		}
	}
}

// TestStoppedMediaLeavesTheRoster: what the server stops (a moderator's mute, a screen
// share whose permission went) is shown stopped to everyone at once, even from a member
// whose client ignores the command and never says so: the roster would otherwise show it
// sending what nobody receives.
func TestStoppedMediaLeavesTheRoster(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{"e2ee":false,"settings":{"screenShare":true}}`)
	mod := srv.joinModerator(t, mt, "Mod")
	all := map[string]any{"media": map[string]any{"mic": true, "camera": true, "screen": true}}
	c := srv.knock(t, mt.MeetingID, "Member", all)
	if _, err := mod.Send("admit", map[string]any{"participantId": waitingID(t, mod, "Member")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.AwaitWelcome(ctx); err != nil {
		t.Fatal(err)
	}
	joined := participantOf(t, expectType(t, mod, "participant_joined"))
	if want := (signaling.MediaState{Mic: true, Camera: true, Screen: true}); joined.Media != want {
		t.Fatalf("joined: %+v", joined.Media)
	}
	for _, step := range []struct {
		typ     string
		payload map[string]any
		want    signaling.MediaState
	}{
		{"mute", map[string]any{"participantId": c.ParticipantID, "source": "microphone"}, signaling.MediaState{Camera: true, Screen: true}},
		{"mute", map[string]any{"participantId": c.ParticipantID, "source": "camera"}, signaling.MediaState{Screen: true}},
		{"update_settings", map[string]any{"screenShare": false}, signaling.MediaState{}},
	} {
		if _, err := mod.Send(step.typ, step.payload); err != nil {
			t.Fatal(err)
		}
		got := participantOf(t, expectType(t, mod, "participant_updated"))
		if got.ID != c.ParticipantID || got.Media != step.want {
			t.Fatalf("after %s %v: %+v, want %+v", step.typ, step.payload, got.Media, step.want)
		}
	}
}
