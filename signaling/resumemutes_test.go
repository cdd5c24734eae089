package signaling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"conclave/internal/testclient"
	"conclave/signaling"
)

// What moderators did to a member's media holds over its resume (PROTOCOL.md,
// "Reconnecting"): a mute or a stopped share that still holds is kept and told again,
// one the member may lift is lifted by what the resume says it sends, a share it may
// not have is not shown, and the commands given while it was away arrive once each,
// saying who gave them.

// mutedAndAway admits Alice into a meeting where unmuting is not allowed, has the
// moderator mute her microphone, and drops her connection: she is parked with the mute.
func (f *resumeFixture) mutedAndAway(t *testing.T) *testclient.Client {
	t.Helper()
	f.modSend(t, "update_settings", map[string]any{"unmute": false})
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	f.modSend(t, "mute", map[string]any{"participantId": alice.ParticipantID, "source": "microphone"})
	expectType(t, alice, "media_command")
	dropAndSeeReconnecting(t, alice, f.mod)
	return alice
}

// TestResumeKeepsModeratorMutes: a reconnect does not lift a moderator's mute, and a mute
// sent while the member was away reaches it after its welcome.
func TestResumeKeepsModeratorMutes(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, ResumeGrace: testGrace})
	m := srv.createMeetingWith(t, `{"settings":{"unmute":false}}`)
	mod := srv.joinModerator(t, m, "Mod")
	f := &resumeFixture{srv: srv, clock: clock, meeting: m, mod: mod}
	alice := srv.admitted(t, mod, m.MeetingID, "Alice")
	if _, err := mod.Send("mute", map[string]any{"participantId": alice.ParticipantID, "source": "microphone"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, alice, "media_command")
	dropAndSeeReconnecting(t, alice, mod)
	if _, err := mod.Send("mute", map[string]any{"participantId": alice.ParticipantID, "source": "camera"}); err != nil {
		t.Fatal(err)
	}
	// The camera mute applied before the resume: without the barrier the resume could
	// overtake the mute, which would then arrive live, after the resume's own commands.
	muteBarrier(t, mod, alice.ParticipantID)
	back := f.resume(t, alice.ParticipantID, alice.ResumeSecret) // claims microphone and camera on
	// Its resume said the microphone was on (as a reloaded page that forgot the mute
	// would): it is told again that it is muted, and the others see it muted; then the
	// mute sent while it was away (the commands in the order they came).
	cmd := expectType(t, back, "media_command")
	if !jsonHas(cmd.Payload, "mute_microphone") {
		t.Fatalf("a resume claiming the muted microphone on: %s, want mute_microphone again", cmd.Payload)
	}
	if cmd = expectType(t, back, "media_command"); !jsonHas(cmd.Payload, "mute_camera") {
		t.Fatalf("the mute sent while away: %s", cmd.Payload)
	}
	if p := participantOf(t, expectType(t, mod, "participant_resumed")); p.ID != alice.ParticipantID || p.Media.Mic {
		t.Fatalf("the others see the resumed member as %+v, want its microphone off", p)
	}
	for _, media := range []map[string]bool{{"mic": true}, {"camera": true}} {
		if _, err := back.Send("media_state", media); err != nil {
			t.Fatal(err)
		}
		if code, _ := expectError(t, back); code != "not_allowed" {
			t.Fatalf("unmuting %v after a reconnect: %s, want not_allowed", media, code)
		}
	}
}

// TestResumeRepeatsMuteThatHolds: a resume that says the muted microphone is off (a
// reloaded page that kept its state but forgot why) is told of the mute again, so that
// it does not offer an unmute the server refuses; after an ask_unmute it is not.
func TestResumeRepeatsMuteThatHolds(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, ResumeGrace: testGrace})
	m := srv.createMeetingWith(t, `{"settings":{"unmute":false}}`)
	mod := srv.joinModerator(t, m, "Mod")
	alice := srv.admitted(t, mod, m.MeetingID, "Alice")
	if _, err := mod.Send("mute", map[string]any{"participantId": alice.ParticipantID, "source": "microphone"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, alice, "media_command")
	resumeMicOff := func(id, secret string) *testclient.Client {
		t.Helper()
		c := srv.dial(t)
		if err := c.SendResume(m.MeetingID, id, secret, map[string]any{"media": map[string]bool{"mic": false, "camera": true}}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.AwaitWelcome(ctx); err != nil {
			t.Fatalf("resume: %v", err)
		}
		return c
	}
	dropAndSeeReconnecting(t, alice, mod)
	back := resumeMicOff(alice.ParticipantID, alice.ResumeSecret)
	if cmd := expectType(t, back, "media_command"); !jsonHas(cmd.Payload, "mute_microphone") {
		t.Fatalf("after a resume under a mute: %s, want mute_microphone again", cmd.Payload)
	}

	// Asked to unmute, then away and back: the request stands, no mute is repeated.
	if _, err := mod.Send("ask_unmute", map[string]any{"participantId": alice.ParticipantID}); err != nil {
		t.Fatal(err)
	}
	if cmd := expectType(t, back, "media_command"); !jsonHas(cmd.Payload, "ask_unmute") {
		t.Fatalf("ask_unmute: %s", cmd.Payload)
	}
	secret := resumedWelcome(t, back).ResumeSecret
	back.ParticipantID = alice.ParticipantID
	dropAndSeeReconnecting(t, back, mod)
	again := resumeMicOff(alice.ParticipantID, secret)
	if _, err := again.Send("no_such_type", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	expectError(t, again)
	for _, msg := range again.All() {
		if msg.Type == "media_command" {
			t.Fatalf("a member asked to unmute got %s after its resume", msg.Payload)
		}
	}
	if _, err := again.Send("media_state", map[string]bool{"mic": true, "camera": true}); err != nil {
		t.Fatal(err)
	}
	if p := participantOf(t, expectType(t, mod, "participant_updated")); !p.Media.Mic {
		t.Fatalf("unmuting when asked, after a resume: the others see %+v", p)
	}
}

// TestResumeLiftsMuteWhereAllowed: where participants may unmute themselves, a resume
// whose media says the muted microphone is on is taken at its word, as a media_state
// would be: the others see it on and no mute comes back.
func TestResumeLiftsMuteWhereAllowed(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, ResumeGrace: testGrace})
	m := srv.createMeetingWith(t, `{"settings":{"unmute":true}}`)
	mod := srv.joinModerator(t, m, "Mod")
	f := &resumeFixture{srv: srv, clock: clock, meeting: m, mod: mod}
	alice := srv.admitted(t, mod, m.MeetingID, "Alice")
	if _, err := mod.Send("mute", map[string]any{"participantId": alice.ParticipantID, "source": "microphone"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, alice, "media_command")
	dropAndSeeReconnecting(t, alice, mod)
	back := f.resume(t, alice.ParticipantID, alice.ResumeSecret) // claims microphone and camera on
	if p := participantOf(t, expectType(t, mod, "participant_resumed")); !p.Media.Mic {
		t.Fatalf("the others see the resumed member as %+v, want its microphone on", p)
	}
	// A request that gets an answer: everything the server sent before it is in by then.
	if _, err := back.Send("no_such_type", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	expectError(t, back)
	for _, msg := range back.All() {
		if msg.Type == "media_command" {
			t.Fatalf("a resume allowed to unmute got %s", msg.Payload)
		}
	}
}

// TestParkedMemberKeepsEachCommandOnce: moderator commands for a parked member are
// kept once each, in the order they last came: a stream of them neither grows the
// server's memory nor, on the resume, overflows the member's queue before its welcome
// (and its next resume secret) is out; the mute still holds after the resume.
func TestParkedMemberKeepsEachCommandOnce(t *testing.T) {
	f := newResumeFixture(t)
	f.modSend(t, "update_settings", map[string]any{"unmute": false})
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	id, sec := alice.ParticipantID, alice.ResumeSecret
	dropAndSeeReconnecting(t, alice, f.mod)
	for range 200 {
		f.modSend(t, "mute", map[string]any{"participantId": id, "source": "microphone"})
	}
	// The moderator's messages are handled in order: an error for this one means every
	// mute before it was handled.
	f.modHandled(t)
	c := f.resume(t, id, sec)
	if resumedWelcome(t, c).ResumeSecret == "" {
		t.Fatal("no resume secret in the welcome")
	}
	ref, err := c.Send("media_state", map[string]bool{"mic": true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("unmuting after the resume was not refused: %v (close %d)", err, c.CloseCode())
		}
		if m.Type == "error" && m.Ref == ref {
			return
		}
	}
}

// TestAskToUnmuteWhileAwayHolds: a moderator mutes a member (unmuting not allowed),
// the member's connection drops, and the moderator asks it to unmute while it is away.
// On its resume the mute it carried is told again, then the ask, the last command,
// which holds: the member may unmute.
func TestAskToUnmuteWhileAwayHolds(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.mutedAndAway(t)
	f.modSend(t, "ask_unmute", map[string]any{"participantId": alice.ParticipantID})
	f.modHandled(t)
	back := f.resume(t, alice.ParticipantID, alice.ResumeSecret)
	for _, want := range []string{"mute_microphone", "ask_unmute"} {
		if cmd := expectType(t, back, "media_command"); !jsonHas(cmd.Payload, want) {
			t.Fatalf("on the resume: %s, want %s", cmd.Payload, want)
		}
	}
	if _, err := back.Send("media_state", map[string]bool{"mic": true}); err != nil {
		t.Fatal(err)
	}
	if p := participantOf(t, expectType(t, f.mod, "participant_updated")); p.ID != alice.ParticipantID || !p.Media.Mic {
		t.Fatalf("after the ask, the member unmuted: the others see %+v", p)
	}
}

// TestParkedMuteHoldsAgainstAnUnmuteRightBehindTheResume: a moderator mutes a member
// while it is away (unmuting not allowed); the member resumes and sends media_state
// with the microphone on right behind its resume, before its welcome. The mute applies
// before that message is read, so the unmute is refused every time: applied as a
// queued event, the mute raced the message (half the time, the message went first and
// unmuted past it).
func TestParkedMuteHoldsAgainstAnUnmuteRightBehindTheResume(t *testing.T) {
	f := newResumeFixture(t)
	f.modSend(t, "update_settings", map[string]any{"unmute": false})
	for round := range 12 {
		c := f.srv.admitted(t, f.mod, f.meeting.MeetingID, fmt.Sprintf("Member %d", round))
		id, sec := c.ParticipantID, c.ResumeSecret
		dropAndSeeReconnecting(t, c, f.mod)
		f.modSend(t, "mute", map[string]any{"participantId": id, "source": "microphone"})
		// The moderator's messages are handled in order: an error for this one means
		// the mute before it was handled.
		f.modHandled(t)
		r := f.srv.dial(t)
		if err := r.SendResume(f.meeting.MeetingID, id, sec, nil); err != nil {
			t.Fatal(err)
		}
		ref, err := r.Send("media_state", map[string]bool{"mic": true})
		if err != nil {
			t.Fatal(err)
		}
		// A probe behind it, refused too (a participant may not mute others): its error
		// comes after media_state's answer, so the verdict is the order, not a wait.
		probe, err := r.Send("mute", map[string]any{"participantId": f.mod.ParticipantID, "source": "microphone"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		welcomed, code := false, ""
		for {
			m, err := r.Next(ctx)
			if err != nil {
				cancel()
				t.Fatalf("round %d: no answer to the probe: %v (close %d)", round, err, r.CloseCode())
			}
			welcomed = welcomed || m.Type == "welcome"
			if m.Type != "error" {
				continue
			}
			var e struct{ Code string }
			if err := json.Unmarshal(m.Payload, &e); err != nil {
				t.Fatal(err)
			}
			if m.Ref == ref {
				code = e.Code
			}
			if m.Ref == probe {
				break
			}
		}
		cancel()
		if !welcomed || code != "not_allowed" {
			t.Fatalf("round %d: the unmute right behind the resume: welcomed %v, refused with %q; want welcomed, not_allowed", round, welcomed, code)
		}
		r.Close()
	}
}

// TestParkedCommandsSayWhoGaveThem: a moderator's commands that came while a member
// was away are told on its resume as they would have been told at once, with who gave
// them and whether they were part of an action on everyone (kept as bare commands,
// they went out with neither).
func TestParkedCommandsSayWhoGaveThem(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	dropAndSeeReconnecting(t, alice, f.mod)
	f.modSend(t, "mute", map[string]any{"participantId": alice.ParticipantID, "source": "camera"})
	f.modSend(t, "mute_all", map[string]any{"source": "microphone"})
	f.modHandled(t)
	back := f.resume(t, alice.ParticipantID, alice.ResumeSecret)
	want := []signaling.MediaCommandPayload{
		{Command: "mute_camera", By: f.mod.ParticipantID},
		{Command: "mute_microphone", By: f.mod.ParticipantID, All: true},
	}
	for _, w := range want {
		var got signaling.MediaCommandPayload
		if err := json.Unmarshal(expectType(t, back, "media_command").Payload, &got); err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Fatalf("on the resume: %+v, want %+v", got, w)
		}
	}
}

// TestMuteAllWhileAwayIsToldOnce: a member whose microphone a moderator had stopped
// drops, and a moderator mutes everyone while it is away. On its resume it is told
// the mute once, as "everyone was muted": the stop it carried is not told again
// before it, unlabelled (a client tells a known command once, so the second, with its
// all, would not show).
func TestMuteAllWhileAwayIsToldOnce(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.mutedAndAway(t)
	f.modSend(t, "mute_all", map[string]any{"source": "microphone"})
	f.modHandled(t)
	back := f.resume(t, alice.ParticipantID, alice.ResumeSecret)
	// A probe behind the resume: its error comes after every command of the resume.
	if _, err := back.Send("mute", map[string]any{"participantId": f.mod.ParticipantID, "source": "microphone"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var told []signaling.MediaCommandPayload
	for {
		m, err := back.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == "error" {
			break
		}
		if m.Type == "media_command" {
			var p signaling.MediaCommandPayload
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				t.Fatal(err)
			}
			told = append(told, p)
		}
	}
	want := []signaling.MediaCommandPayload{{Command: "mute_microphone", By: f.mod.ParticipantID, All: true}}
	if !slices.Equal(told, want) {
		t.Fatalf("on the resume: %+v, want %+v", told, want)
	}
}

// TestScreenClaimNeedsThePermission: a member whose join or resume says it shares its
// screen in a meeting where it may not is shown to the others without a share (a
// media_state saying so is refused; the roster would show a share never forwarded). A
// moderator may, and is shown with it.
func TestScreenClaimNeedsThePermission(t *testing.T) {
	f := newResumeFixture(t) // default settings: participants may not share their screens
	sharing := map[string]any{"media": map[string]any{"mic": true, "camera": true, "screen": true}}
	c := f.srv.knock(t, f.meeting.MeetingID, "Alice", sharing)
	f.modSend(t, "admit", map[string]any{"participantId": waitingID(t, f.mod, "Alice")})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.AwaitWelcome(ctx); err != nil {
		t.Fatal(err)
	}
	joined := participantOf(t, expectType(t, f.mod, "participant_joined"))
	if want := (signaling.MediaState{Mic: true, Camera: true}); joined.Media != want {
		t.Errorf("joined with a screen it may not share: %+v, want %+v", joined.Media, want)
	}

	dropAndSeeReconnecting(t, c, f.mod)
	back := f.srv.dial(t)
	if err := back.SendResume(f.meeting.MeetingID, c.ParticipantID, c.ResumeSecret, sharing); err != nil {
		t.Fatal(err)
	}
	resumed := participantOf(t, expectType(t, f.mod, "participant_resumed"))
	if want := (signaling.MediaState{Mic: true, Camera: true}); resumed.Media != want {
		t.Errorf("resumed with a screen it may not share: %+v, want %+v", resumed.Media, want)
	}

	mod2 := f.srv.dial(t)
	if err := mod2.JoinWith(ctx, map[string]any{"meetingId": f.meeting.MeetingID, "name": "Mod2", "moderatorSecret": f.meeting.ModeratorSecret, "media": sharing["media"]}); err != nil {
		t.Fatal(err)
	}
	if p := participantOf(t, expectType(t, f.mod, "participant_joined")); !p.Media.Screen {
		t.Errorf("a moderator's share was dropped: %+v", p.Media)
	}
}

// TestStoppedScreenOverAResume: a screen share a moderator stopped, whose member's
// client never answered (or lost the command as its connection dropped), resumes with
// screen: true. With the permission to share it is lifted, as a media_state saying so
// would lift it: shown sharing and forwarded. Without, it stays stopped and is shown
// stopped. Never shown sharing while the server stops it.
func TestStoppedScreenOverAResume(t *testing.T) {
	for _, permitted := range []bool{true, false} {
		f := newResumeFixture(t)
		f.modSend(t, "update_settings", map[string]any{"screenShare": true})
		expectType(t, f.mod, "settings")
		sharing := map[string]any{"media": map[string]any{"mic": true, "camera": true, "screen": true}}
		c := f.srv.knock(t, f.meeting.MeetingID, "Alice", sharing)
		f.modSend(t, "admit", map[string]any{"participantId": waitingID(t, f.mod, "Alice")})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := c.AwaitWelcome(ctx); err != nil {
			t.Fatal(err)
		}
		expectType(t, f.mod, "participant_joined")
		f.modSend(t, "stop_screen_share", map[string]any{"participantId": c.ParticipantID})
		if p := participantOf(t, expectType(t, f.mod, "participant_updated")); p.Media.Screen {
			t.Fatalf("after stop_screen_share: %+v", p.Media)
		}
		expectType(t, c, "media_command") // and the client does not answer
		dropAndSeeReconnecting(t, c, f.mod)
		if !permitted {
			f.modSend(t, "update_settings", map[string]any{"screenShare": false})
			expectType(t, f.mod, "settings")
		}
		back := f.srv.dial(t)
		if err := back.SendResume(f.meeting.MeetingID, c.ParticipantID, c.ResumeSecret, sharing); err != nil {
			t.Fatal(err)
		}
		if err := back.AwaitWelcome(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		shown := participantOf(t, expectType(t, f.mod, "participant_resumed")).Media.Screen
		blocked := signaling.SourceBlocked(f.srv.sig, f.meeting.MeetingID, c.ParticipantID, "screen")
		if shown != permitted || blocked == permitted {
			t.Errorf("permitted %v: shown sharing %v, stopped %v", permitted, shown, blocked)
		}
	}
}
