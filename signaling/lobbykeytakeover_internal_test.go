package signaling

import (
	"bytes"
	"testing"
	"time"

	"conclave/e2ee"
	"conclave/lobby"
)

// TestLobbyKeyOfATakenOverConnectionIsNotKept: a connection a resume took over handles
// what it read until it takes its replacement, a lobby_key among it (the old page sent
// it as its link went, and it came late). That key is the gone session's, which
// takeLocked withdrew: kept, the knocks' names were sealed to a key nobody holds, and
// the resumed page's own key, which comes once, was charged as a replacement. Only the
// connection that holds the membership sets the member's key. The order cannot be
// made from outside (the old session takes its messages and its replacement in one
// select), so the meeting is built here.
func TestLobbyKeyOfATakenOverConnectionIsNotKept(t *testing.T) {
	m := &Meeting{
		e2ee:      true,
		lob:       lobby.New(lobby.Config{}, lobby.Settings{}),
		conns:     make(map[lobby.ID]*Session),
		members:   make(map[lobby.ID]*ParticipantInfo),
		resumable: make(map[lobby.ID]*parking),
	}
	const id = lobby.ID("p-moderator")
	if _, err := m.lob.Knock(id, "", lobby.Credentials{Moderator: true}, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	old, resumed := &Session{id: string(id)}, &Session{id: string(id)}
	m.conns[id], m.resumable[id] = resumed, &parking{} // welcomed on the resume
	key := func(b byte) LobbyKeyPayload {
		f := e2ee.EncodeKnockField(bytes.Repeat([]byte{b}, 32))
		return LobbyKeyPayload{Pub: f, Tag: f}
	}
	always := func() bool { return true }

	if err := m.setLobbyKey(old, key(1), always); err != nil {
		t.Fatalf("the taken-over connection's key: %v", err)
	}
	if len(m.lobbyKeys) != 0 {
		t.Fatalf("a key the connection a resume took over sent late is kept: %v", m.lobbyKeys)
	}
	if err := m.setLobbyKey(resumed, key(2), always); err != nil {
		t.Fatal(err)
	}
	if got := m.lobbyKeys[id]; got != key(2) {
		t.Fatalf("the resumed connection's key: %v, want it kept", m.lobbyKeys)
	}
}
