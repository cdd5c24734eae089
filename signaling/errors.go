package signaling

import (
	"fmt"
	"time"
)

// Code is a protocol error code (PROTOCOL.md, "Errors").
type Code string

// The protocol's error codes.
const (
	CodeBadMessage         Code = "bad_message"
	CodeUnknownType        Code = "unknown_type"
	CodeNotAllowedInState  Code = "not_allowed_in_state"
	CodeAlreadyJoined      Code = "already_joined"
	CodeInvalidField       Code = "invalid_field"
	CodeNoOfferPending     Code = "no_offer_pending"
	CodeBadSDP             Code = "bad_sdp"
	CodeUnsupportedVersion Code = "unsupported_version"
	CodeUnknownMeeting     Code = "unknown_meeting"
	CodeMeetingFull        Code = "meeting_full"
	CodeTooManyErrors      Code = "too_many_errors"
	CodeRateLimited        Code = "rate_limited"
	CodeInternal           Code = "internal"
	CodeNotAllowed         Code = "not_allowed"
	CodeUnknownParticipant Code = "unknown_participant"
	CodePasswordRequired   Code = "password_required"
	CodeWrongPassword      Code = "wrong_password"
	CodeWrongModSecret     Code = "wrong_moderator_secret"
	CodeTooManyAttempts    Code = "too_many_attempts"
	CodeResumeFailed       Code = "resume_failed"
	CodeE2EEVersion        Code = "e2ee_version"
	CodeNotEncrypted       Code = "not_encrypted"
	CodeSettingsChanged    Code = "settings_changed"
	CodeChangePending      Code = "change_pending"
)

// Websocket close codes used by the server.
const (
	CloseNormal             = 1000
	CloseGoingAway          = 1001
	CloseMessageTooBig      = 1009
	CloseUnsupportedVersion = 4400
	CloseWrongPassword      = 4401
	CloseMeetingFull        = 4403
	CloseRefused            = 4403
	CloseUnknownMeeting     = 4404
	CloseEjected            = 4409
	CloseSlowConsumer       = 4408
	CloseTimeout            = 4408 // missed pongs, no join in time, a message not finished in time
	CloseTooManyErrors      = 4429
)

// Error is a refused client message: a protocol code, an English explanation and, for
// fatal errors, the close code that ends the connection.
type Error struct {
	Code    Code
	Message string
	Close   int // 0: the session carries on

	RetryAfter time.Duration // too_many_attempts: when to try again
	LockedOut  bool
	Stale      *staleSettings // settings_changed: what is in force, and which fields clashed
}

func (e *Error) payload() ErrorPayload {
	p := ErrorPayload{Code: string(e.Code), Message: e.Message, RetryAfterMs: e.RetryAfter.Milliseconds(), LockedOut: e.LockedOut}
	if e.Stale != nil {
		p.Settings, p.Revision, p.Fields = &e.Stale.settings, e.Stale.revision, e.Stale.fields
	}
	return p
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Close: closeCodeFor(code)}
}

func closeCodeFor(code Code) int {
	switch code {
	case CodeUnsupportedVersion, CodeE2EEVersion, CodeNotEncrypted:
		return CloseUnsupportedVersion
	case CodeUnknownMeeting:
		return CloseUnknownMeeting
	case CodeMeetingFull:
		return CloseMeetingFull
	case CodeTooManyErrors, CodeTooManyAttempts:
		return CloseTooManyErrors
	case CodePasswordRequired, CodeWrongPassword, CodeWrongModSecret, CodeResumeFailed:
		return CloseWrongPassword
	}
	return 0
}
