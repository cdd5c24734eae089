package signaling

// The payloads of the core messages a client sends (PROTOCOL.md); MediaState and
// SDPPayload travel back to clients too. Messages that came with a feature keep their
// payloads beside it (knock.go, lobbykey.go, batch.go, resume.go, hands.go, view.go …).

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

// ChatPayload is a chat message from a client.
type ChatPayload struct {
	Text string `json:"text"`
}

// TargetPayload names the member (or waiting person) a moderator message acts on.
type TargetPayload struct {
	ParticipantID string `json:"participantId"`
	// ParticipantIDs (admit_all, deny_all): admit or deny just these, if still waiting.
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
