package signaling

import (
	"crypto/rand"
	"errors"
	"fmt"

	"conclave/e2ee"
	"conclave/lobby"
)

// Knock proofs (e2ee/FORMAT.md, "Knock proof"; PROTOCOL.md, "Knock proof"). In an
// end-to-end encrypted meeting the server draws a nonce for each knock and tells the
// knocker in its lobby messages; the knocker answers with a proof made under a key from
// its link, and the server passes nonce and proof to the moderators in the waiting list.
// The server never judges a proof: it has no key to judge it with. It checks only the
// proof's shape, so that a waiting list carries nothing but 43 characters per knock.

// TypeKnockProof is a knocker's proof of its link (state lobby).
const TypeKnockProof = "knock_proof"

// KnockProofPayload is what a knocker sends.
type KnockProofPayload struct {
	Proof string `json:"proof"`
}

// Errors of ParseKnockProof; a refused proof changes nothing.
var (
	ErrKnockProofShape = errors.New("knock_proof: payload is not an object with a string proof")
	ErrKnockProofField = errors.New("knock_proof: proof must be 32 bytes of unpadded base64url (43 characters)")
)

// ParseKnockProof decodes a knock_proof payload and checks the proof's shape. It never
// panics; every refusal wraps one of the ErrKnockProof errors.
func ParseKnockProof(payload []byte) (string, error) {
	p, perr := decodePayload[KnockProofPayload](Envelope{Type: TypeKnockProof, Payload: payload})
	if perr != nil {
		return "", ErrKnockProofShape
	}
	if _, err := e2ee.ParseKnockField(p.Proof); err != nil {
		return "", fmt.Errorf("%w: %v", ErrKnockProofField, err)
	}
	return p.Proof, nil
}

// newKnockNonce draws a knock's nonce, as it travels.
func newKnockNonce() string {
	b := make([]byte, e2ee.KnockNonceSize)
	_, _ = rand.Read(b)
	return e2ee.EncodeKnockField(b)
}

// knockProof takes a waiting knocker's proof.
func (s *Session) knockProof(env Envelope) *Error {
	proof, err := ParseKnockProof(env.Payload)
	switch {
	case errors.Is(err, ErrKnockProofShape):
		return errorf(CodeBadMessage, "%v", err)
	case err != nil:
		return errorf(CodeInvalidField, "%v", err)
	}
	return s.meeting.setKnockProof(s, proof)
}

// setKnockProof keeps s's proof with its knock and shows the moderators the waiting
// list with it. One proof per knock: a second one is refused and changes nothing.
func (m *Meeting) setKnockProof(s *Session, proof string) *Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.e2ee {
		return errorf(CodeNotAllowed, "this meeting is not end-to-end encrypted")
	}
	id := lobby.ID(s.id)
	if m.conns[id] != s || !m.lob.IsWaiting(id) {
		return errorf(CodeNotAllowedInState, "not waiting")
	}
	if s.knock.proof != "" {
		return errorf(CodeInvalidField, "this knock already carries a proof")
	}
	s.knock.proof = proof
	m.applyLocked([]lobby.Effect{lobby.WaitingList{To: m.lob.Moderators(), Waiting: m.lob.Waiting()}})
	return nil
}

// knockState is a waiting session's nonce and proof. The nonce is set before the
// session knocks; the proof only under the meeting's lock, which every reader holds.
type knockState struct {
	nonce string // "" outside end-to-end encrypted meetings
	proof string
}

// lobbyMessage is what a waiting session is told: whether a moderator is there, its
// knock's nonce, and the moderators' lobby keys (lobbykey.go).
func (m *Meeting) lobbyMessage(s *Session, ref string, present bool) []byte {
	return encode(TypeLobby, ref, LobbyPayload{ModeratorPresent: present, E2EE: m.e2ee, KnockNonce: s.knock.nonce, LobbyKeys: m.lobbyKeysLocked()})
}
