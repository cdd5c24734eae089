package signaling

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Checks of client messages' fields beyond their JSON shape: a display name, a chat
// text and a publish offer's tracks, against the protocol's limits (message.go).

// cleanName makes a display name what the page shows of it (web/static/js/name-text.js
// plainName) and checks it: no control characters; the characters that draw nothing or
// reorder the text after them dropped (droppedFromName); trimmed; something visible left
// (not only spaces and the braille blank U+2800); at most MaxNameChars characters (wide
// enough for a sealed name of version 1; pages let a person type fewer). Dropped rather
// than refused: a name pasted with a zero-width space in it is the name a person meant,
// and the page shows it without anyway; kept, the server sent "An\u200Bna" to every
// member beside Anna, a name every page showed as Anna's.
func cleanName(s string) (string, *Error) {
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", errorf(CodeInvalidField, "name contains control characters")
		}
	}
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if droppedFromName(r) {
			return -1
		}
		return r
	}, s))
	if strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '\u2800' }) == "" {
		return "", errorf(CodeInvalidField, "name must have a visible character")
	}
	if utf8.RuneCountInString(s) > MaxNameChars {
		return "", errorf(CodeInvalidField, "name must be 1 to %d characters", MaxNameChars)
	}
	return s, nil
}

// droppedFromName reports whether r is a character the page drops from every name of
// someone else (name-text.js, BIDI_CONTROLS and INVISIBLE; TestNameRuleIsThePages keeps
// the two equal): the bidi embeddings, overrides and isolates, the soft hyphen, the
// zero-width space, the word joiner and invisible operators, the deprecated format
// characters, the byte order mark and the Hangul fillers. The joiners (U+200C, U+200D)
// and direction marks stay: scripts and emoji need them.
func droppedFromName(r rune) bool {
	switch {
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidi controls
		return true
	case r == 0x00ad, r == 0x200b, r >= 0x2060 && r <= 0x2064, r >= 0x206a && r <= 0x206f, r == 0xfeff:
		return true
	case r == 0x115f, r == 0x1160, r == 0x3164, r == 0xffa0: // Hangul fillers
		return true
	}
	return false
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
