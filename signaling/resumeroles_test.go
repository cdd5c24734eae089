package signaling_test

import (
	"testing"

	"conclave/signaling"
)

// What a resume brings back is the membership as the meeting holds it now, not as it was
// when the connection dropped (PROTOCOL.md, "Reconnecting"): a role taken away while the
// member was away stays taken, and a membership ended while it was away (removed, sent
// back to the waiting room, the meeting ended) cannot be resumed, in that meeting or in
// the room's next.

// TestDemotedWhileAwayResumesDemoted: a moderator whose connection dropped and who was
// made a participant while away comes back a participant: its welcome and everyone's
// participant_resumed say so, it gets no waiting list, and its admit is refused.
func TestDemotedWhileAwayResumesDemoted(t *testing.T) {
	f := newResumeFixture(t)
	alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
	id, sec := alice.ParticipantID, alice.ResumeSecret
	f.modSend(t, "set_role", map[string]any{"participantId": id, "role": "moderator"})
	expectType(t, alice, "waiting_list") // a moderator now
	dropAndSeeReconnecting(t, alice, f.mod)
	f.modSend(t, "set_role", map[string]any{"participantId": id, "role": "participant"})
	f.modHandled(t)

	back := f.resume(t, id, sec)
	if w := resumedWelcome(t, back); w.Role != "participant" {
		t.Fatalf("demoted while away, welcomed back as %q", w.Role)
	}
	if p := participantOf(t, expectType(t, f.mod, "participant_resumed")); p.ID != id || p.Role != "participant" {
		t.Fatalf("participant_resumed: %+v", p)
	}
	f.srv.knock(t, f.meeting.MeetingID, "Bob", nil)
	bob := waitingID(t, f.mod, "Bob")
	if _, err := back.Send("admit", map[string]any{"participantId": bob}); err != nil {
		t.Fatal(err)
	}
	if code, _ := expectError(t, back); code != "not_allowed" {
		t.Fatalf("the admit of a moderator demoted while away: %s, want not_allowed", code)
	}
	for _, m := range back.All() {
		if m.Type == "waiting_list" {
			t.Fatalf("a moderator demoted while away was sent the waiting list: %s", m.Payload)
		}
	}
}

// TestEndedWhileAwayCannotResume: a member removed or sent back to the waiting room
// while its connection was down gets resume_failed (close 4401) for its secret, and
// nobody is told of it again; so does a member of a room's meeting that was ended
// while it was away, in the room's next meeting under the same id.
func TestEndedWhileAwayCannotResume(t *testing.T) {
	for _, how := range []string{"remove", "send_to_lobby"} {
		t.Run(how, func(t *testing.T) {
			f := newResumeFixture(t)
			alice := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Alice")
			id, sec := alice.ParticipantID, alice.ResumeSecret
			dropAndSeeReconnecting(t, alice, f.mod)
			f.modSend(t, how, map[string]any{"participantId": id})
			expectLeft(t, f.mod, id)
			if code, closeCode := f.resumeErr(t, id, sec); code != "resume_failed" || closeCode != 4401 {
				t.Fatalf("%s while away, then its resume: %s, close %d", how, code, closeCode)
			}
			f.modHandled(t)
			for _, m := range f.mod.All() {
				if m.Type == "participant_resumed" {
					t.Fatalf("%s while away, then resumed: %s", how, m.Payload)
				}
			}
		})
	}
	t.Run("the room's next meeting", func(t *testing.T) {
		srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock(), ResumeGrace: testGrace})
		room := srv.createRoom(t, `{"settings":{"lobby":false}}`)
		mt := createdMeeting{MeetingID: room.Room.ID, ModeratorSecret: room.ModeratorSecret}
		mod := srv.joinModerator(t, mt, "Mod")
		alice := inWith(t, srv, mt.MeetingID, "Alice", nil)
		id, sec := alice.ParticipantID, alice.ResumeSecret
		dropAndSeeReconnecting(t, alice, mod)
		if _, err := mod.Send("end_meeting", nil); err != nil {
			t.Fatal(err)
		}
		if reason, _ := byeReason(t, mod); reason != "ended" {
			t.Fatalf("end: bye %q", reason)
		}
		closeAll(t, srv, mt.MeetingID)
		next := srv.joinModerator(t, mt, "Mod") // the room's next meeting, under the same id
		f := &resumeFixture{srv: srv, meeting: mt, mod: next}
		if code, closeCode := f.resumeErr(t, id, sec); code != "resume_failed" || closeCode != 4401 {
			t.Fatalf("a resume of the last meeting's member in the room's next: %s, close %d", code, closeCode)
		}
		f.modHandled(t)
		for _, m := range next.All() {
			if m.Type == "participant_resumed" || m.Type == "participant_joined" {
				t.Fatalf("the room's next meeting after the last one's resume: %s %s", m.Type, m.Payload)
			}
		}
	})
}
