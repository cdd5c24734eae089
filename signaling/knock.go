package signaling

import (
	"crypto/rand"
	"encoding/base64"
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
// shape of what it relays: the proof and the knock's ephemeral public key (43 characters
// each) and the knocker's name sealed to each moderator's lobby key (e2ee/FORMAT.md,
// "Names"), which it hands each moderator only its own of, unopened.

// TypeKnockProof is a knocker's proof of its link (state lobby).
const TypeKnockProof = "knock_proof"

// KnockProofPayload is what a knocker sends: the nonce it answers, the proof, the
// knock's ephemeral public key, and its name sealed to each moderator (by the
// moderator's id).
type KnockProofPayload struct {
	Nonce string      `json:"nonce"`
	Proof string      `json:"proof"`
	Eph   string      `json:"eph"`
	Names []KnockName `json:"names,omitempty"`
}

// KnockName is the knocker's name sealed to one moderator's lobby key: opaque bytes as
// unpadded base64url.
type KnockName struct {
	To     string `json:"to"`
	Sealed string `json:"sealed"`
}

// MaxKnockNames is how many moderators a knock may seal its name to.
const MaxKnockNames = 32

// Errors of ParseKnockProof; a refused proof changes nothing.
var (
	ErrKnockProofShape = errors.New("knock_proof: payload is not an object with string nonce, proof and eph and a list of names")
	ErrKnockProofField = errors.New("knock_proof: nonce, proof and eph must each be 32 bytes of unpadded base64url (43 characters)")
	ErrKnockNames      = errors.New("knock_proof: names must be at most 32, each to a distinct moderator id with 28 to 228 bytes of unpadded base64url")
)

// ParseKnockProof decodes a knock_proof payload and checks its fields' shape. It never
// panics; every refusal wraps one of the ErrKnockProof errors or ErrKnockNames.
func ParseKnockProof(payload []byte) (KnockProofPayload, error) {
	p, perr := decodePayload[KnockProofPayload](Envelope{Type: TypeKnockProof, Payload: payload})
	if perr != nil {
		return KnockProofPayload{}, ErrKnockProofShape
	}
	for _, f := range []string{p.Nonce, p.Proof, p.Eph} {
		if _, err := e2ee.ParseKnockField(f); err != nil {
			return KnockProofPayload{}, fmt.Errorf("%w: %v", ErrKnockProofField, err)
		}
	}
	if len(p.Names) > MaxKnockNames {
		return KnockProofPayload{}, fmt.Errorf("%w: %d names", ErrKnockNames, len(p.Names))
	}
	seen := make(map[string]bool, len(p.Names))
	for _, n := range p.Names {
		if !e2ee.ValidID(n.To) || seen[n.To] { // ValidID bounds an id to maxIDBytes (jsbounds_internal_test.go)
			return KnockProofPayload{}, fmt.Errorf("%w: a bad or repeated moderator id", ErrKnockNames)
		}
		seen[n.To] = true
		b, err := b64.Strict().DecodeString(n.Sealed)
		if err != nil || len(b) < e2ee.MinSealedNameSize || len(b) > e2ee.MaxSealedNameSize {
			return KnockProofPayload{}, fmt.Errorf("%w: a sealed name of the wrong shape", ErrKnockNames)
		}
	}
	return p, nil
}

var b64 = base64.RawURLEncoding

// newKnockNonce draws a knock's nonce, as it travels.
func newKnockNonce() string {
	b := make([]byte, e2ee.KnockNonceSize)
	_, _ = rand.Read(b)
	return e2ee.EncodeKnockField(b)
}

// knockProof takes a waiting knocker's proof.
func (s *Session) knockProof(env Envelope) *Error {
	p, err := ParseKnockProof(env.Payload)
	switch {
	case errors.Is(err, ErrKnockProofShape):
		return errorf(CodeBadMessage, "%v", err)
	case err != nil:
		return errorf(CodeInvalidField, "%v", err)
	}
	return s.meeting.setKnockProof(s, p)
}

// setKnockProof keeps s's proof, ephemeral key and sealed names with its knock and shows
// the moderators the waiting list with them. One proof per nonce: a second one is
// refused and changes nothing (a new nonce comes when the moderators' keys change).
func (m *Meeting) setKnockProof(s *Session, p KnockProofPayload) *Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.e2ee {
		return errorf(CodeNotAllowed, "this meeting is not end-to-end encrypted")
	}
	id := lobby.ID(s.id)
	if m.conns[id] != s || !m.lob.IsWaiting(id) {
		return errorf(CodeNotAllowedInState, "not waiting")
	}
	if p.Nonce != s.knock.nonce {
		// An answer to a nonce the server has since renewed (the moderators' keys changed
		// while it was on its way): the knocker answers the new one.
		return errorf(CodeInvalidField, "this proof answers an earlier nonce of this knock")
	}
	if s.knock.proof != "" {
		return errorf(CodeInvalidField, "this knock already carries a proof")
	}
	s.knock.proof, s.knock.eph = p.Proof, p.Eph
	s.knock.names = make(map[lobby.ID]string, len(p.Names))
	for _, n := range p.Names {
		s.knock.names[lobby.ID(n.To)] = n.Sealed
	}
	m.applyLocked([]lobby.Effect{lobby.WaitingList{To: m.lob.Moderators(), Waiting: m.lob.Waiting()}})
	return nil
}

// knockState is a waiting session's nonce, proof, ephemeral key and sealed names. The
// first nonce is set before the session knocks; everything else only under the
// meeting's lock, which every reader holds.
type knockState struct {
	nonce string // "" outside end-to-end encrypted meetings
	proof string
	eph   string
	names map[lobby.ID]string // moderator id -> the name sealed to its lobby key
}

// renewLocked starts the knock over with a fresh nonce: the moderators' lobby keys
// changed, so the knocker proves its link and seals its name to the new set.
func (k *knockState) renewLocked() {
	if k.nonce == "" {
		return
	}
	*k = knockState{nonce: newKnockNonce()}
}

// lobbyMessage is what a waiting session is told: whether a moderator is there, its
// knock's nonce, and the moderators' lobby keys (lobbykey.go).
func (m *Meeting) lobbyMessage(s *Session, ref string, present bool) []byte {
	return encode(TypeLobby, ref, LobbyPayload{ModeratorPresent: present, E2EE: m.e2ee, KnockNonce: s.knock.nonce, KnockSecret: s.knockSecret, KnockContinued: s.knockContinues() != "", LobbyKeys: m.lobbyKeysLocked()})
}
