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

// TestModeratorResumingOftenPublishesItsKeyEachTime: the key of a page that resumed,
// the first after the drop withdrew the last, costs nothing of the moderator's
// lobby_key limit. Charged, a moderator whose link blipped four times in a row (its
// limit carried across resumes, the server's clock standing still) had its fourth
// resumed page's key refused, and a page sends its key once: the knockers were shown
// no key, and their names reached nobody, for the rest of its stay. A key replacing the
// page's own still costs, as does a moderator's first.
func TestModeratorResumingOftenPublishesItsKeyEachTime(t *testing.T) {
	f := newResumeFixture(t)
	kim := f.srv.knock(t, f.meeting.MeetingID, "Kim", nil)
	mod := f.mod
	publishLobbyKey(t, mod, kim, 1)
	// Each sync is a ping, of which a connection may send 5 at once, carried across
	// resumes too: four resumes, and one sync at the end.
	for i := range 4 {
		id, sec := mod.ParticipantID, mod.ResumeSecret
		mod.Close()
		if l := nextLobby(t, kim); l.ModeratorPresent || len(l.LobbyKeys) != 0 {
			t.Fatalf("drop %d: the knocker was shown present=%v and %d lobby keys, want none", i+1, l.ModeratorPresent, len(l.LobbyKeys))
		}
		mod = f.resume(t, id, sec)
		nextLobby(t, kim) // the moderator is back
		if refused := sendLobbyKeys(t, mod, byte(10+i)); refused != 0 {
			t.Fatalf("resume %d: the resumed page's key was refused", i+1)
		}
		if l := nextLobby(t, kim); len(l.LobbyKeys) != 1 || l.LobbyKeys[0].Pub != lobbyKeyFor(mod.ParticipantID, byte(10+i))["pub"] {
			t.Fatalf("resume %d: the knocker was shown %+v, want the resumed page's key", i+1, l.LobbyKeys)
		}
	}
	// The first key took one of the 4 at once; the resumed pages' none.
	if refused := sendLobbyKeys(t, mod, 40, 41, 42, 43); refused != 1 {
		t.Fatalf("four keys replacing the page's own at once: %d refused, want 1", refused)
	}
}

// sendLobbyKeys has mod send a lobby key made of each secret, and counts the refusals.
func sendLobbyKeys(t *testing.T, mod *testclient.Client, secrets ...byte) (refused int) {
	t.Helper()
	for _, sec := range secrets {
		if _, err := mod.Send("lobby_key", lobbyKeyFor(mod.ParticipantID, sec)); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := mod.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Type == "error" {
			refused++
		}
	}
	return refused
}
