package signaling_test

import (
	"encoding/json"
	"testing"

	"conclave/internal/testclient"
)

// A moderator's lobby key is its page's session identity (e2ee/FORMAT.md, "Lobby
// keys"), and the page that resumes the membership is a new session with a new one.
// The old key stayed advertised until the new page sent `lobby_key`: a knock in that
// gap sealed its name to a key nobody held any more.

type lobbySeen struct {
	ModeratorPresent bool
	LobbyKeys        []lobbyKeyInfo
}

// nextLobby is the next lobby message c receives.
func nextLobby(t *testing.T, c *testclient.Client) lobbySeen {
	t.Helper()
	var l lobbySeen
	if err := json.Unmarshal(expectType(t, c, "lobby").Payload, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// publishLobbyKey has mod send a lobby key and waits until knocker is shown it.
func publishLobbyKey(t *testing.T, mod, knocker *testclient.Client, secret byte) map[string]any {
	t.Helper()
	k := lobbyKeyFor(mod.ParticipantID, secret)
	if _, err := mod.Send("lobby_key", k); err != nil {
		t.Fatal(err)
	}
	if l := nextLobby(t, knocker); len(l.LobbyKeys) != 1 || l.LobbyKeys[0].Pub != k["pub"] {
		t.Fatalf("the knocker was shown %+v, want the moderator's key", l.LobbyKeys)
	}
	return k
}

// TestDroppedModeratorsLobbyKeyIsWithdrawn: a moderator whose connection drops takes
// its lobby key away at once, with the news that no moderator is here; resumed, it is
// here again without a key until its new page sends one.
func TestDroppedModeratorsLobbyKeyIsWithdrawn(t *testing.T) {
	f := newResumeFixture(t)
	kim := f.srv.knock(t, f.meeting.MeetingID, "Kim", nil)
	publishLobbyKey(t, f.mod, kim, 1)
	id, sec := f.mod.ParticipantID, f.mod.ResumeSecret

	f.mod.Close()
	if l := nextLobby(t, kim); l.ModeratorPresent || len(l.LobbyKeys) != 0 {
		t.Fatalf("after the moderator's connection dropped the knocker was shown present=%v and %d lobby keys, want none",
			l.ModeratorPresent, len(l.LobbyKeys))
	}
	mod := f.resume(t, id, sec)
	if l := nextLobby(t, kim); !l.ModeratorPresent || len(l.LobbyKeys) != 0 {
		t.Fatalf("after the moderator's resume the knocker was shown present=%v and %d lobby keys, want present and none",
			l.ModeratorPresent, len(l.LobbyKeys))
	}
	publishLobbyKey(t, mod, kim, 7)
}

// TestTakenOverModeratorsLobbyKeyIsWithdrawn: a resume that takes over a moderator's
// connection the server still holds withdraws that connection's lobby key too.
func TestTakenOverModeratorsLobbyKeyIsWithdrawn(t *testing.T) {
	f := newResumeFixture(t)
	kim := f.srv.knock(t, f.meeting.MeetingID, "Kim", nil)
	publishLobbyKey(t, f.mod, kim, 1)

	mod := f.resume(t, f.mod.ParticipantID, f.mod.ResumeSecret)
	expectType(t, f.mod, "bye")
	if l := nextLobby(t, kim); len(l.LobbyKeys) != 0 {
		t.Fatalf("after a resume took over the moderator's connection the knocker was shown %d lobby keys, want none", len(l.LobbyKeys))
	}
	if l := nextLobby(t, kim); !l.ModeratorPresent || len(l.LobbyKeys) != 0 {
		t.Fatalf("after the moderator's resume the knocker was shown present=%v and %d lobby keys, want present and none",
			l.ModeratorPresent, len(l.LobbyKeys))
	}
	publishLobbyKey(t, mod, kim, 7)
}
