package signaling

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Checks of client messages' fields beyond their JSON shape: a display name, a chat
// text and a publish offer's tracks, against the protocol's limits (message.go).

// cleanName trims a display name and checks it: 1 to MaxNameChars characters (wide
// enough for a sealed name of version 1; pages let a person type fewer), no control
// characters.
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

// checkChat checks a chat text: 1 to maxChatWireChars characters (a sealed text is
// longer than the MaxChatChars a person may type), not only whitespace.
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
