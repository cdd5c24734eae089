package signaling

import (
	"strings"
	"testing"
)

// FuzzResume feeds arbitrary bytes through the parsing of a resume message: nothing
// panics, every refusal is typed, and only a well-formed payload gets through.
func FuzzResume(f *testing.F) {
	good := strings.Repeat("A", resumeSecretChars)
	for _, s := range []string{
		`{"type":"resume","id":"1","payload":{"version":1,"meetingId":"q3Vx8yJ2kVx0mL1c7rT9Aw","participantId":"p-5f2c9a0e1b7d4c33","secret":"` + good + `","media":{"mic":true,"camera":false}}}`,
		`{"type":"resume","payload":{"version":2,"meetingId":"x","participantId":"p","secret":"s"}}`,
		`{"type":"resume","payload":{"version":1,"meetingId":"","participantId":"","secret":""}}`,
		`{"type":"resume","payload":{"version":1,"meetingId":"a/b","participantId":"p","secret":"` + good + `"}}`,
		`{"type":"resume","payload":{"secret":5}}`,
		`{"type":"resume","payload":null}`,
		`{"type":"resume"}`,
		`{"type":"ice_restart","payload":{"pc":"subscribe"}}`,
		`{"type":"ice_restart","payload":{"pc":5}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := DecodeEnvelope(data)
		if err != nil {
			return
		}
		if env.Type == TypeICERestart {
			if _, err := decodePayload[ICERestartPayload](env); err != nil && err.Code != CodeBadMessage {
				t.Fatalf("ice_restart: %v", err)
			}
			return
		}
		p, perr := parseResume(env)
		if perr == nil {
			if p.Version != ProtocolVersion || !validID(p.MeetingID) || !validID(p.ParticipantID) || len(p.Secret) != resumeSecretChars {
				t.Fatalf("accepted a malformed resume: %+v", p)
			}
			return
		}
		switch perr.Code {
		case CodeBadMessage, CodeInvalidField, CodeUnsupportedVersion, CodeResumeFailed:
		default:
			t.Fatalf("unexpected refusal %v", perr)
		}
	})
}
