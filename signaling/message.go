package signaling

import (
	"bytes"

	"conclave/lobby"
	"encoding/json"
	"strings"
	"unicode"
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
	maxIDChars       = 64
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

// MediaState is what a participant sends.
type MediaState struct {
	Mic    bool `json:"mic"`
	Camera bool `json:"camera"`
	Screen bool `json:"screen"`
}

// JoinPayload is the first message of a session.
type JoinPayload struct {
	Version   int         `json:"version"`
	MeetingID string      `json:"meetingId"`
	Name      string      `json:"name"`
	Media     *MediaState `json:"media,omitempty"`
	// Password is the meeting password; ModeratorSecret comes from the moderator link.
	Password        string `json:"password,omitempty"`
	ModeratorSecret string `json:"moderatorSecret,omitempty"`
	// E2EE is the end-to-end encryption format the page speaks (E2EEVersion); checked
	// only when the meeting is encrypted.
	E2EE int `json:"e2ee,omitempty"`
	// ReplaceKnock is the knockSecret of this page's knock whose connection dropped
	// (reknock.go): while that knock still waits, this one takes its place.
	ReplaceKnock string `json:"replaceKnock,omitempty"`
}

// TrackSpec maps a publish transceiver to its source.
type TrackSpec struct {
	Mid    string `json:"mid"`
	Source string `json:"source"`
}

// PublishOfferPayload is the client's offer for its publish connection.
type PublishOfferPayload struct {
	SDP    string      `json:"sdp"`
	Tracks []TrackSpec `json:"tracks"`
}

// SDPPayload carries one SDP (publish_answer, subscribe_answer).
type SDPPayload struct {
	SDP string `json:"sdp"`
}

// CandidateJSON is an RTCIceCandidateInit.
type CandidateJSON struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// ICEPayload is a trickled candidate.
type ICEPayload struct {
	PC        string         `json:"pc"`
	Candidate *CandidateJSON `json:"candidate"`
}

// E2EEPayload is a key message from a client: to one member, or to all when To is empty.
type E2EEPayload struct {
	To   string `json:"to,omitempty"`
	Data string `json:"data"`
}

// E2EEOutPayload is a relayed key message.
type E2EEOutPayload struct {
	From string `json:"from"`
	Data string `json:"data"`
}

// ChatPayload is a chat message from a client.
type ChatPayload struct {
	Text string `json:"text"`
}

// ParticipantInfo is what members see of each other.
type ParticipantInfo struct {
	ID string `json:"id"`
	// Name is absent in an end-to-end encrypted meeting: the server holds none there.
	Name  string     `json:"name,omitempty"`
	Role  string     `json:"role"`
	Media MediaState `json:"media"`
	// Reconnecting: the member's connection dropped and it may still come back
	// (resume.go); its media has stopped meanwhile.
	Reconnecting bool `json:"reconnecting,omitempty"`
}

// Limits tells the client the server's bounds.
type Limits struct {
	MaxMessageBytes int `json:"maxMessageBytes"`
	MaxChatChars    int `json:"maxChatChars"`
}

// WelcomePayload answers a successful join.
type WelcomePayload struct {
	Version       int               `json:"version"`
	ParticipantID string            `json:"participantId"`
	MeetingID     string            `json:"meetingId"`
	Role          string            `json:"role"`
	Settings      lobby.Settings    `json:"settings"`
	SettingsRev   uint64            `json:"settingsRevision"` // the settings' revision (SettingsPayload)
	E2EE          bool              `json:"e2ee"`             // media, chat and names are end-to-end encrypted
	Participants  []ParticipantInfo `json:"participants"`
	Limits        Limits            `json:"limits"`
	// ICEServers are the TURN servers to use, with credentials made for this welcome
	// only; absent when the server runs no TURN.
	ICEServers []ICEServer `json:"iceServers,omitempty"`
	// ResumeSecret brings this membership back on a new connection if this one drops
	// (single use; the next welcome brings the next). Resumed and Name (the member's own
	// name as it was sent in join) are set on the welcome of a resume.
	ResumeSecret string `json:"resumeSecret,omitempty"`
	Resumed      bool   `json:"resumed,omitempty"`
	Name         string `json:"name,omitempty"`
	// PasswordRev, on a moderator's resumed welcome: the revision of the last change of
	// the password in this meeting when another moderator made it (settings.go). Its
	// page may have missed that `settings` while it reconnected, and a replaced password
	// looks like the one before.
	PasswordRev uint64 `json:"passwordRevision,omitempty"`
	// Speakers says that the server tells who speaks (`speaking`): the page then needs
	// no audio analysis of its own. Absent with speaker detection off.
	Speakers bool `json:"speakers,omitempty"`
}

// ICEServer is one entry of an RTCConfiguration's iceServers, as the browser takes it.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ParticipantPayload carries one participant (joined, updated).
type ParticipantPayload struct {
	Participant ParticipantInfo `json:"participant"`
}

// ParticipantLeftPayload names who left.
type ParticipantLeftPayload struct {
	ParticipantID string `json:"participantId"`
}

// TrackInfo describes one media section of a subscribe offer.
type TrackInfo struct {
	Mid           string `json:"mid"`
	ParticipantID string `json:"participantId"`
	Source        string `json:"source"`
	Kind          string `json:"kind"`
}

// SubscribeOfferPayload is the server's offer for the subscribe connection.
type SubscribeOfferPayload struct {
	SDP    string      `json:"sdp"`
	Tracks []TrackInfo `json:"tracks"`
}

// ChatOutPayload is a chat message as relayed to members.
type ChatOutPayload struct {
	MessageID string `json:"messageId"`
	From      string `json:"from"`
	Name      string `json:"name,omitempty"` // absent in an end-to-end encrypted meeting
	Text      string `json:"text"`
	SentAt    string `json:"sentAt"`
}

// ErrorPayload reports a refused message.
type ErrorPayload struct {
	Code         string `json:"code"`
	Message      string `json:"message"`
	RetryAfterMs int64  `json:"retryAfterMs,omitempty"`
	LockedOut    bool   `json:"lockedOut,omitempty"`
	// settings_changed: the settings in force, their revision and the fields of the
	// refused update_settings that another moderator changed since its revision.
	Settings *lobby.Settings `json:"settings,omitempty"`
	Revision uint64          `json:"revision,omitempty"`
	Fields   []string        `json:"fields,omitempty"`
}

// LobbyPayload tells a waiting person whether a moderator can let them in.
type LobbyPayload struct {
	ModeratorPresent bool `json:"moderatorPresent"`
	E2EE             bool `json:"e2ee"` // so a client without the key can stop before it is admitted
	// KnockNonce is the nonce this knock answers with knock_proof (knock.go); end-to-end
	// encrypted meetings only.
	KnockNonce string `json:"knockNonce,omitempty"`
	// KnockSecret lets this page's next knock replace this one should its connection
	// drop (reknock.go); only the knocker is told it.
	KnockSecret string `json:"knockSecret,omitempty"`
	// KnockContinued: this knock replaced the page's earlier one (replaceKnock) and
	// waits in its place.
	KnockContinued bool `json:"knockContinued,omitempty"`
	// LobbyKeys are the present moderators' lobby keys (lobbykey.go), for the knocker to
	// check its own link; absent when there are none.
	LobbyKeys []LobbyKeyInfo `json:"lobbyKeys,omitempty"`
}

// WaitingEntry is one person in the waiting room, as moderators see them.
type WaitingEntry struct {
	ParticipantID string `json:"participantId"`
	Name          string `json:"name,omitempty"` // absent in an end-to-end encrypted meeting
	Since         string `json:"since"`
	WaitingMs     int64  `json:"waitingMs"` // how long they have waited when this was sent
	// The knock's nonce and, once sent, its proof (knock.go), passed on unjudged for the
	// moderators' browsers to check; end-to-end encrypted meetings only.
	KnockNonce string `json:"knockNonce,omitempty"`
	KnockProof string `json:"knockProof,omitempty"`
	// KnockEph is the knock's ephemeral public key and KnockName the knocker's name sealed
	// to the receiving moderator's lobby key (e2ee/FORMAT.md, "Names"), opaque here.
	KnockEph  string `json:"knockEph,omitempty"`
	KnockName string `json:"knockName,omitempty"`
	// Continues is the participant id of the knock this one took the place of, the first
	// of its request ("Knocking again"): the moderators' pages do not announce it anew.
	Continues string `json:"continues,omitempty"`
}

// WaitingListPayload is the waiting room.
type WaitingListPayload struct {
	Waiting []WaitingEntry `json:"waiting"`
}

// SettingsPayload carries the meeting's settings.
type SettingsPayload struct {
	Settings lobby.Settings `json:"settings"`
	// Revision numbers the settings: each change a moderator makes gives the next one
	// (settings.go). An update_settings names the revision it was based on.
	Revision uint64 `json:"revision"`
	// Changed are the fields this change changed ("password": set, replaced or
	// cleared), so that every moderator's page can say that the password it knows no
	// longer holds.
	Changed []string `json:"changed,omitempty"`
}

// AccessAttemptsPayload tells moderators how many wrong passwords were tried at their
// meeting; it never says from where.
type AccessAttemptsPayload struct {
	WrongPasswords int `json:"wrongPasswords"`
}

// MediaCommandPayload tells a member what a moderator did to its media.
type MediaCommandPayload struct {
	Command string `json:"command"`
	By      string `json:"by"`
	All     bool   `json:"all,omitempty"` // the moderator muted everyone (mute_all)
}

// TargetPayload names the member (or waiting person) a moderator message acts on.
type TargetPayload struct {
	ParticipantID string `json:"participantId"`
	// ParticipantIDs (admit_all only): admit just these, if still waiting.
	ParticipantIDs []string `json:"participantIds,omitempty"`
	Role           string   `json:"role,omitempty"`
	Source         string   `json:"source,omitempty"`
}

// UpdateSettingsPayload changes some settings; absent fields stay as they are.
type UpdateSettingsPayload struct {
	Lobby       *bool   `json:"lobby,omitempty"`
	Locked      *bool   `json:"locked,omitempty"`
	ScreenShare *bool   `json:"screenShare,omitempty"`
	Unmute      *bool   `json:"unmute,omitempty"`
	Chat        *bool   `json:"chat,omitempty"`
	Password    *string `json:"password,omitempty"`
	// Revision is the revision of the settings the sender's change was based on (the
	// one its page showed). Absent: applied whatever changed meanwhile, as before
	// revisions existed (settings.go).
	Revision *uint64 `json:"revision,omitempty"`
}

// ByePayload says why the server closes the connection.
type ByePayload struct {
	Reason string `json:"reason"`
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
	if len(env.ID) > maxIDChars {
		return Envelope{}, errorf(CodeBadMessage, "envelope id is longer than 64 characters")
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

// cleanName trims a display name and checks it: 1–64 characters, no control characters.
func cleanName(s string) (string, *Error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n == 0 || n > MaxNameChars {
		return "", errorf(CodeInvalidField, "name must be 1 to %d characters", MaxNameChars)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", errorf(CodeInvalidField, "name contains control characters")
		}
	}
	return s, nil
}

// checkChat checks a chat text: 1–2000 characters, not only whitespace.
func checkChat(s string) *Error {
	n := utf8.RuneCountInString(s)
	if strings.TrimSpace(s) == "" || n > maxChatWireChars {
		return errorf(CodeInvalidField, "chat text must be 1 to %d characters", maxChatWireChars)
	}
	return nil
}

// sdpToken reports whether s is an SDP token (RFC 4566 §9, token-char), what a mid is
// (RFC 8843 §15.1). The server names each track after its publisher's mid in every
// subscriber's offer (a=msid): a mid with a space in it (Pion takes it) made that
// line one a browser refuses, and with it the whole offer, for everyone.
func sdpToken(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0x21, c >= 0x23 && c <= 0x27, c == 0x2a, c == 0x2b, c == 0x2d, c == 0x2e,
			c >= 0x30 && c <= 0x39, c >= 0x41 && c <= 0x5a, c >= 0x5e && c <= 0x7e:
		default:
			return false
		}
	}
	return true
}

// checkTracks validates a publish offer's mid → source map.
func checkTracks(tracks []TrackSpec) (map[string]string, *Error) {
	if len(tracks) > maxTracks {
		return nil, errorf(CodeInvalidField, "at most %d tracks", maxTracks)
	}
	out := make(map[string]string, len(tracks))
	for _, t := range tracks {
		if t.Mid == "" || len(t.Mid) > maxMidChars || !sdpToken(t.Mid) {
			return nil, errorf(CodeInvalidField, "track mid must be 1 to %d token characters", maxMidChars)
		}
		switch t.Source {
		case "microphone", "camera", "screen":
		default:
			return nil, errorf(CodeInvalidField, "unknown track source")
		}
		if _, dup := out[t.Mid]; dup {
			return nil, errorf(CodeInvalidField, "duplicate track mid")
		}
		out[t.Mid] = t.Source
	}
	return out, nil
}
