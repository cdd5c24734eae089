package signaling

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// ProtocolVersion is the version a client names in its join message.
const ProtocolVersion = 1

// E2EEVersion is the end-to-end encryption format (e2ee/FORMAT.md) the browsers of an
// encrypted meeting must speak; a `join` that names another is refused (e2ee_version),
// because pages of two formats cannot read each other and must not pretend to. 6 is
// FORMAT.md version 2 with key envelopes of version 3 (each carries its key's counter,
// and says whether it is a past key), display names in them, chat texts of version 3
// and frames of version 3, bound to their track's source (a page of 5 sends envelopes
// of version 2, with a key index, which a page of 6 refuses, and the reverse; a page of
// 4 makes frames that later pages cannot open; a page of 3 sends "e2." texts that later
// pages refuse; a page of 2 refuses envelopes that carry a name).
const E2EEVersion = 6

// Limits of the protocol (PROTOCOL.md).
const (
	MaxMessageBytes = 64 << 10
	MaxChatChars    = 2000 // what clients let people type
	// On the wire a chat text may be ciphertext ("e3.…", e2ee/FORMAT.md), so the server
	// accepts more than a person types; MaxNameChars stays as wide as version 1's "e1."
	// names needed (an end-to-end encrypted meeting's join carries no name at all).
	maxChatWireChars = 12000
	MaxNameChars     = 400
	maxIDBytes       = 64 // ids, recipients and participant ids, counted in UTF-8 bytes
	maxTracks        = 8
	maxMidChars      = 32
	maxCandidate     = 1024
)

// Message types, client to server.
const (
	TypeJoin            = "join"
	TypePublishOffer    = "publish_offer"
	TypeSubscribeAnswer = "subscribe_answer"
	TypeICE             = "ice"
	TypeMediaState      = "media_state"
	TypeChat            = "chat"
	TypeLeave           = "leave"
	TypeE2EE            = "e2ee"   // both directions: an opaque key message
	TypeResume          = "resume" // takes a dropped membership back (resume.go)
	TypeICERestart      = "ice_restart"

	// Moderator messages.
	TypeAdmit           = "admit"
	TypeDeny            = "deny"
	TypeAdmitAll        = "admit_all"
	TypeDenyAll         = "deny_all"
	TypeSendToLobby     = "send_to_lobby"
	TypeRemove          = "remove"
	TypeSetRole         = "set_role"
	TypeUpdateSettings  = "update_settings"
	TypeMute            = "mute"
	TypeAskUnmute       = "ask_unmute"
	TypeStopScreenShare = "stop_screen_share"
	TypeEndMeeting      = "end_meeting"
)

// Message types, server to client.
const (
	TypeWelcome            = "welcome"
	TypeParticipantJoined  = "participant_joined"
	TypeParticipantLeft    = "participant_left"
	TypeParticipantUpdated = "participant_updated"
	TypePublishAnswer      = "publish_answer"
	TypeSubscribeOffer     = "subscribe_offer"
	TypeError              = "error"
	TypeBye                = "bye"
	TypeLobby              = "lobby"
	TypeWaitingList        = "waiting_list"
	TypeSettings           = "settings"
	TypeMediaCommand       = "media_command"
	TypeAccessAttempts     = "access_attempts"
	TypeParticipantResumed = "participant_resumed"
	// TypeDone answers a moderator message the server carried out (moderate).
	TypeDone = "done"
)

// Envelope is the frame of every message.
type Envelope struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Ref     string          `json:"ref,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// DecodeEnvelope parses one websocket message into an envelope. When it refuses a
// message that carried a usable id (a string of at most 64 bytes), the envelope it
// returns with the error has that ID, so that the error can name the message (ref),
// whatever else is wrong with it — a type that is not a string included.
func DecodeEnvelope(b []byte) (Envelope, *Error) {
	if !utf8.Valid(b) {
		return Envelope{}, errorf(CodeBadMessage, "message is not valid UTF-8")
	}
	// Each member raw first, so that a member of the wrong JSON type cannot hide the id.
	var raw struct {
		Type    json.RawMessage `json:"type"`
		ID      json.RawMessage `json:"id"`
		Ref     json.RawMessage `json:"ref"`
		Payload json.RawMessage `json:"payload"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return Envelope{}, errorf(CodeBadMessage, "message is not a JSON envelope")
	}
	var env Envelope
	if len(raw.ID) > 0 && !isNull(raw.ID) {
		if err := json.Unmarshal(raw.ID, &env.ID); err != nil {
			return Envelope{}, errorf(CodeBadMessage, "envelope id is not a string")
		}
	}
	if len(env.ID) > maxIDBytes {
		return Envelope{}, errorf(CodeBadMessage, "envelope id is longer than 64 bytes")
	}
	// From here on the id is usable, so the error can name the message it refuses.
	ref := Envelope{ID: env.ID}
	if dec.More() {
		return ref, errorf(CodeBadMessage, "trailing data after the envelope")
	}
	if len(raw.Type) > 0 && !isNull(raw.Type) {
		if err := json.Unmarshal(raw.Type, &env.Type); err != nil {
			return ref, errorf(CodeBadMessage, "envelope type is not a string")
		}
	}
	if env.Type == "" {
		return ref, errorf(CodeBadMessage, "envelope has no type")
	}
	if len(raw.Ref) > 0 && !isNull(raw.Ref) {
		if err := json.Unmarshal(raw.Ref, &env.Ref); err != nil {
			return ref, errorf(CodeBadMessage, "envelope ref is not a string")
		}
	}
	if p := bytes.TrimSpace(raw.Payload); len(p) > 0 && !isNull(p) && p[0] != '{' {
		return ref, errorf(CodeBadMessage, "payload is not an object")
	}
	env.Payload = raw.Payload
	return env, nil
}

// isNull reports whether a raw JSON value is null.
func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

// decodePayload parses env's payload into a T; a missing payload gives T's zero value.
func decodePayload[T any](env Envelope) (T, *Error) {
	var v T
	if len(env.Payload) == 0 || bytes.Equal(bytes.TrimSpace(env.Payload), []byte("null")) {
		return v, nil
	}
	if err := json.Unmarshal(env.Payload, &v); err != nil {
		var zero T
		return zero, errorf(CodeBadMessage, "payload of %q has the wrong shape", env.Type)
	}
	return v, nil
}

// encode builds one outgoing message: the bytes marshal makes of an Envelope with the
// marshalled payload, without marshalling the payload twice (as a json.RawMessage it
// would be scanned and compacted again: with a key batch's envelopes, each relayed as
// its own message, most of what the server did).
func encode(typ, ref string, payload any) []byte {
	var body []byte
	if payload != nil {
		var err error
		if body, err = marshal(payload); err != nil {
			// Payloads are our own structs of strings, bools and numbers.
			body = []byte("{}")
		}
	}
	b := make([]byte, 0, len(body)+len(typ)+len(ref)+32)
	b = append(b, `{"type":`...)
	b = appendJSONString(b, typ)
	if ref != "" {
		b = append(b, `,"ref":`...)
		b = appendJSONString(b, ref)
	}
	if len(body) > 0 {
		b = append(b, `,"payload":`...)
		b = append(b, body...)
	}
	return append(b, '}')
}

// appendJSONString appends s as marshal writes a string.
func appendJSONString(b []byte, s string) []byte {
	q, err := marshal(s)
	if err != nil { // a string always marshals
		return append(b, `""`...)
	}
	return append(b, q...)
}

// marshal is json.Marshal without its HTML escaping: json.Marshal writes each <, > and
// & as six bytes (\u003c), which no client needs (they parse JSON, never splice it into
// HTML), so a member's chat text or name of those characters reached every other member
// six times its size.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}
