package signaling_test

import (
	"testing"

	"conclave/internal/conntest"
	"conclave/signaling"
)

// TestStatsCountPeopleNotWho: Stats counts meetings, members, knocks waiting, open
// websockets and wrong moderator secrets, and falls back when people leave.
func TestStatsCountPeopleNotWho(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{Clock: newClock()})
	if st := srv.sig.Stats(); st != (signaling.Stats{}) {
		t.Fatalf("a new server: %+v", st)
	}
	mt := srv.createMeetingWith(t, `{"settings":{"lobby":true}}`)
	mod := srv.joinModerator(t, mt, "Mod")
	knocker := srv.knockFrom(t, loop(2), mt.MeetingID, "Guest")
	expectType(t, knocker, "lobby")
	if code := guessJoin(t, srv, loop(3), nil, map[string]any{"meetingId": mt.MeetingID, "moderatorSecret": "not-the-secret"}); code != "wrong_moderator_secret" {
		t.Fatalf("wrong moderator secret: %q", code)
	}
	conntest.Eventually(t, "the counts", func() bool {
		st := srv.sig.Stats()
		return st.Meetings == 1 && st.Participants == 1 && st.Waiting == 1 && st.Websockets == 2 && st.WrongModeratorSecrets == 1
	})
	knocker.Close()
	mod.Close()
	conntest.Eventually(t, "the counts to fall back", func() bool {
		st := srv.sig.Stats()
		return st.Participants == 0 && st.Waiting == 0 && st.Websockets == 0
	})
}
