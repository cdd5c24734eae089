package signaling

import (
	"conclave/lobby"
)

// The payloads of the core messages the server sends (PROTOCOL.md). Messages that came
// with a feature keep their payloads beside it (knock.go, lobbykey.go, batch.go,
// resume.go, hands.go, speakers.go …).

// E2EEOutPayload is a relayed key message.
type E2EEOutPayload struct {
	From string `json:"from"`
	Data string `json:"data"`
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
	// SettingsEpoch names the meeting the settings' revisions count in (settings.go,
	// newSettingsEpoch): a page's new session (a join, not a resume) whose welcome
	// names the epoch of its last one is in the same meeting, and what it began there
	// keeps the revision it was based on.
	SettingsEpoch string `json:"settingsEpoch"`
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

// ByePayload says why the server closes the connection.
type ByePayload struct {
	Reason string `json:"reason"`
}
