package signaling

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"conclave/lobby"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	payloads := map[string]any{
		TypeWelcome:            WelcomePayload{Version: 1, ParticipantID: "p-1", MeetingID: "m", Participants: []ParticipantInfo{{ID: "p-2", Name: "Bob", Media: MediaState{Mic: true}}}, Limits: Limits{MaxMessageBytes: MaxMessageBytes, MaxChatChars: MaxChatChars}},
		TypeParticipantJoined:  ParticipantPayload{Participant: ParticipantInfo{ID: "p-2", Name: "Bøb ☕", Media: MediaState{Camera: true}}},
		TypeParticipantLeft:    ParticipantLeftPayload{ParticipantID: "p-2"},
		TypeSubscribeOffer:     SubscribeOfferPayload{SDP: "v=0\r\n", Tracks: []TrackInfo{{Mid: "0", ParticipantID: "p-2", Source: "camera", Kind: "video"}}},
		TypeChat:               ChatOutPayload{MessageID: "m-1", From: "p-1", Name: "A", Text: "<b>hi</b>", SentAt: "2026-11-22T10:00:00Z"},
		TypeError:              ErrorPayload{Code: "bad_message", Message: "x"},
		TypeBye:                ByePayload{Reason: "left"},
		TypePublishAnswer:      SDPPayload{SDP: "v=0\r\n"},
		TypeParticipantUpdated: ParticipantPayload{Participant: ParticipantInfo{ID: "p-3"}},
	}
	for typ, p := range payloads {
		b := encode(typ, "r1", p)
		env, err := DecodeEnvelope(b)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if env.Type != typ || env.Ref != "r1" {
			t.Fatalf("%s: envelope %+v", typ, env)
		}
		got := reflect.New(reflect.TypeOf(p))
		if err := json.Unmarshal(env.Payload, got.Interface()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Elem().Interface(), p) {
			t.Fatalf("%s: round trip %+v != %+v", typ, got.Elem().Interface(), p)
		}
	}
}

func TestDecodeClientMessages(t *testing.T) {
	env, err := DecodeEnvelope([]byte(`{"type":"join","id":"7","payload":{"version":1,"meetingId":"abc","name":" Ann ","media":{"mic":true},"extra":42}}`))
	if err != nil {
		t.Fatal(err)
	}
	j, err := decodePayload[JoinPayload](env)
	if err != nil {
		t.Fatal(err)
	}
	if j.Version != 1 || j.MeetingID != "abc" || j.Media == nil || !j.Media.Mic || j.Media.Camera {
		t.Fatalf("join = %+v", j)
	}
	if name, err := cleanName(j.Name); err != nil || name != "Ann" {
		t.Fatalf("cleanName = %q, %v", name, err)
	}
	env, _ = DecodeEnvelope([]byte(`{"type":"leave"}`))
	if _, err := decodePayload[ChatPayload](env); err != nil {
		t.Fatalf("missing payload: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := map[string]string{
		"empty":          ``,
		"not json":       `hello`,
		"array":          `[]`,
		"no type":        `{"payload":{}}`,
		"type not str":   `{"type":5}`,
		"payload string": `{"type":"chat","payload":"x"}`,
		"payload array":  `{"type":"chat","payload":[1]}`,
		"trailing":       `{"type":"chat"} {"type":"chat"}`,
		"long id":        `{"type":"chat","id":"` + strings.Repeat("i", 65) + `"}`,
		"invalid utf8":   "{\"type\":\"chat\",\"id\":\"\xff\"}",
	}
	for name, in := range cases {
		if _, err := DecodeEnvelope([]byte(in)); err == nil || err.Code != CodeBadMessage {
			t.Errorf("%s: err = %v, want bad_message", name, err)
		}
	}
	env, _ := DecodeEnvelope([]byte(`{"type":"chat","payload":{"text":5}}`))
	if _, err := decodePayload[ChatPayload](env); err == nil || err.Code != CodeBadMessage {
		t.Errorf("wrong field type: %v", err)
	}
}

// TestDecodeErrorsKeepTheID: whenever a refused message had a usable id, the refusal
// can name it (ref), whatever else is wrong, a type of the wrong JSON type included.
func TestDecodeErrorsKeepTheID(t *testing.T) {
	for in, want := range map[string]string{
		`{"type":5,"id":"x"}`:                               "x",
		`{"id":"x","type":true}`:                            "x",
		`{"type":{"a":1},"id":"x","payload":{}}`:            "x",
		`{"type":["chat"],"id":"x"}`:                        "x",
		`{"type":null,"id":"x"}`:                            "x",
		`{"id":"x"}`:                                        "x",
		`{"type":"","id":"x"}`:                              "x",
		`{"type":"chat","id":"x","payload":"hi"}`:           "x",
		`{"type":"chat","id":"x","ref":5}`:                  "x",
		`{"type":"chat","id":"x"} []`:                       "x",
		`{"type":5,"id":6}`:                                 "",
		`{"type":5,"id":"` + strings.Repeat("i", 65) + `"}`: "",
		`{"type":5,"id":"x"`:                                "",
	} {
		env, err := DecodeEnvelope([]byte(in))
		if err == nil || err.Code != CodeBadMessage || env.ID != want {
			t.Errorf("%s: id %q, err %v; want bad_message naming %q", in, env.ID, err, want)
		}
	}
}

func TestFieldChecks(t *testing.T) {
	for _, bad := range []string{"", "   ", strings.Repeat("n", MaxNameChars+1), "a\x00b", "tab\tname"} {
		if _, err := cleanName(bad); err == nil || err.Code != CodeInvalidField {
			t.Errorf("cleanName(%q) = %v", bad, err)
		}
	}
	if _, err := cleanName(strings.Repeat("ü", MaxNameChars)); err != nil {
		t.Errorf("64 non-ASCII characters refused: %v", err)
	}
}

// TestCleanNameDropsWhatThePageDrops: a name keeps no character the page drops from it
// (web/static/js/name-text.js plainName: bidi controls, invisible characters, the Hangul
// fillers), and one with nothing visible left is refused, as a blank one always was.
func TestCleanNameDropsWhatThePageDrops(t *testing.T) {
	for in, want := range map[string]string{
		"An\u200bna":             "Anna",
		"\u00adAnna\ufeff":       "Anna",
		"Eve\u202e":              "Eve",
		"\u2067Eve\u2069":        "Eve",
		"Ann\u2060a\u2064":       "Anna",
		"\u3164Anna\u115f\u1160": "Anna",
		"Bo\uffa0":               "Bo",
		" \u200b Anna \u200b ":   "Anna",
		strings.Repeat("n", MaxNameChars) + "\u200b":       strings.Repeat("n", MaxNameChars),
		"\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", // ZWNJ stays
		"\U0001f469\u200d\U0001f467":                       "\U0001f469\u200d\U0001f467",                       // ZWJ stays
		"\u05d3\u05e0\u05d4\u200f":                         "\u05d3\u05e0\u05d4\u200f",                         // RLM stays
	} {
		got, err := cleanName(in)
		if err != nil || got != want {
			t.Errorf("cleanName(%+q) = %+q, %v; want %+q", in, got, err, want)
		}
	}
	for _, blank := range []string{"\u200b", "\u3164", "\u3164 \u3164", "\u115f\u1160", "\uffa0", "\u2800", " \u2800 \u202e ", "\ufeff\u00ad", "\u3000\u2066"} {
		if got, err := cleanName(blank); err == nil || err.Code != CodeInvalidField {
			t.Errorf("cleanName(%+q) = %+q, %v; want invalid_field", blank, got, err)
		}
	}
	if err := checkChat(strings.Repeat("€", MaxChatChars)); err != nil {
		t.Errorf("2000 characters refused: %v", err)
	}
	for _, bad := range []string{"", " \n ", strings.Repeat("x", maxChatWireChars+1)} {
		if err := checkChat(bad); err == nil {
			t.Errorf("checkChat(%d chars) accepted", len(bad))
		}
	}
	bad := [][]TrackSpec{
		{{Mid: "", Source: "camera"}},
		{{Mid: "0", Source: "speaker"}},
		{{Mid: "0", Source: "camera"}, {Mid: "0", Source: "screen"}},
		{{Mid: strings.Repeat("m", 33), Source: "camera"}},
		make([]TrackSpec, maxTracks+1),
		// Not SDP tokens: each would reach every subscriber's offer (a=msid).
		{{Mid: "0 x", Source: "camera"}},
		{{Mid: "0\r\na=x", Source: "camera"}},
		{{Mid: "a\"b", Source: "camera"}},
		{{Mid: "ü", Source: "camera"}},
	}
	for _, tr := range bad {
		if _, err := checkTracks(tr); err == nil {
			t.Errorf("checkTracks(%v) accepted", tr)
		}
	}
	if m, err := checkTracks([]TrackSpec{{Mid: "0", Source: "microphone"}, {Mid: "video-1", Source: "camera"}, {Mid: "{a1~b2}", Source: "screen"}}); err != nil || len(m) != 3 {
		t.Errorf("valid tracks: %v %v", m, err)
	}
}

// FuzzDecode feeds arbitrary bytes through everything that parses a client message.
// Nothing may panic, every refusal is a typed bad_message or invalid_field error, and an
// accepted envelope re-encodes to one that decodes the same.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"type":"join","id":"1","payload":{"version":1,"meetingId":"q3Vx8yJ2kVx0mL1c7rT9Aw","name":"Alice","media":{"mic":true,"camera":true,"screen":false}}}`,
		`{"type":"publish_offer","id":"2","payload":{"sdp":"v=0\r\n","tracks":[{"mid":"0","source":"microphone"},{"mid":"1","source":"camera"}]}}`,
		`{"type":"subscribe_answer","payload":{"sdp":"v=0\r\n"}}`,
		`{"type":"ice","payload":{"pc":"subscribe","candidate":{"candidate":"candidate:1 1 udp 2122260223 192.168.1.20 53011 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"aB3d"}}}`,
		`{"type":"media_state","payload":{"mic":false,"camera":true,"screen":true}}`,
		`{"type":"chat","id":"3","payload":{"text":"Hi Bob"}}`,
		`{"type":"leave"}`,
		`{"type":"join","payload":{"version":1,"meetingId":"x","name":"An\u200bna \u3164\u202e"}}`,
		`{"type":"join","payload":{"version":1,"meetingId":"x","name":"\u115f\u1160\uffa0 \u2800"}}`,
		`{"type":"join","payload":{"version":1,"meetingId":"x","name":"A","password":"pw","moderatorSecret":"s"}}`,
		`{"type":"admit","payload":{"participantId":"p-0a9b8c7d6e5f4a3b"}}`,
		`{"type":"set_role","payload":{"participantId":"p-1","role":"presenter"}}`,
		`{"type":"mute","payload":{"participantId":"p-1","source":"microphone"}}`,
		`{"type":"update_settings","payload":{"locked":true,"password":"","chat":false}}`,
		`{"type":"update_settings","id":"9","payload":{"password":"Kiefer","revision":3}}`,
		`{"type":"update_settings","payload":{"locked":false,"revision":18446744073709551615}}`,
		`{"type":"update_settings","payload":{"revision":18446744073709551616}}`,
		`{"type":"update_settings","payload":{"revision":-1}}`, `{"type":"update_settings","payload":{"revision":1.5}}`,
		`{"type":"update_settings","payload":{"revision":"3"}}`, `{"type":"update_settings","payload":{"revision":null,"chat":true}}`,
		`{"type":"update_settings","payload":{"revision":1e2}}`,
		`{"type":"end_meeting"}`,
		`{"type":"e2ee","payload":{"to":"p-1","data":"eyJrIjoxfQ"}}`,
		`{"type":"chat","payload":null}`,
		`{"type":"chat","payload":"x"}`,
		`{"type":`, `[]`, `null`, `"str"`, `{}`, "\xff\xfe",
		`{"type":5,"id":"x"}`, `{"type":{"a":1},"id":"y","payload":{}}`, `{"type":"chat","id":"z","ref":[1]}`,
		`{"type":"ping","id":"41","payload":{"n":7}}`, `{"type":"ping","payload":{"n":65535}}`,
		`{"type":"ping","payload":{"n":65536}}`, `{"type":"ping","payload":{"n":-1}}`, `{"type":"ping","payload":{"n":1.5}}`,
		`{"type":"ping","payload":{"n":"7"}}`, `{"type":"ping","payload":{}}`, `{"type":"ping"}`,
		`{"type":"ping","payload":{"n":1,"pad":"` + strings.Repeat("x", 120) + `"}}`,
		`{"type":"deny_all","id":"d","payload":{"participantIds":["p-1","p-2"]}}`, `{"type":"deny_all","payload":{"participantIds":["p-1","x y"]}}`,
		`{"type":"deny_all","payload":{"participantIds":null}}`, `{"type":"deny_all","payload":{"participantIds":"p-1"}}`,
		`{"type":"admit_all","payload":{"participantIds":[]}}`,
		`{"type":"resume","id":"1","payload":{"version":1,"meetingId":"q3Vx8yJ2kVx0mL1c7rT9Aw","participantId":"p-5f2c9a0e1b7d4c33","secret":"Zk3q0xT8v2mWJ4pLr7cN1aYb9sE6dHf5uG0iKoQzXw8","media":{"mic":true,"camera":true,"screen":false}}}`,
		`{"type":"resume","payload":{"version":1,"meetingId":"m","participantId":"p","secret":"Zk3q0xT8v2mWJ4pLr7cN1aYb9sE6dHf5uG0iKoQzXw"}}`,
		`{"type":"resume","payload":{"version":1,"meetingId":"m/x","participantId":"p","secret":"Zk3q0xT8v2mWJ4pLr7cN1aYb9sE6dHf5uG0iKoQzXw8"}}`,
		`{"type":"resume","payload":{"version":2,"meetingId":"m","participantId":"p","secret":"Zk3q0xT8v2mWJ4pLr7cN1aYb9sE6dHf5uG0iKoQzXw8"}}`, `{"type":"resume","payload":null}`,
		`{"type":"resume","payload":{"version":1,"meetingId":"m","participantId":"p","secret":"Zk3q0xT8v2mWJ4pLr7cN1aYb9sE6dHf5uG0iKoQzXw8","media":"on"}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := DecodeEnvelope(data)
		if err != nil {
			if err.Code != CodeBadMessage || err.Close != 0 {
				t.Fatalf("decode error %v", err)
			}
			// A refusal names the message whenever it had a usable id.
			var withID struct {
				ID string `json:"id"`
			}
			if utf8.Valid(data) && json.NewDecoder(bytes.NewReader(data)).Decode(&withID) == nil &&
				len(withID.ID) <= maxIDBytes && env.ID != withID.ID {
				t.Fatalf("refusal of a message with id %q names %q", withID.ID, env.ID)
			}
			return
		}
		checkPayload(t, env)
		var raw json.RawMessage
		if len(env.Payload) > 0 {
			raw = env.Payload
		}
		again, err := DecodeEnvelope(encode(env.Type, env.ID, raw))
		if err != nil || again.Type != env.Type || again.Ref != env.ID {
			t.Fatalf("re-encode: %+v %v", again, err)
		}
	})
}

func checkPayload(t *testing.T, env Envelope) {
	ok := func(err *Error) {
		if err != nil && err.Code != CodeBadMessage && err.Code != CodeInvalidField {
			t.Fatalf("%s: unexpected error %v", env.Type, err)
		}
	}
	switch env.Type {
	case TypeJoin:
		p, err := decodePayload[JoinPayload](env)
		ok(err)
		name, err := cleanName(p.Name)
		ok(err)
		if err == nil {
			// The name as the page shows it (name-text.js plainName): nothing it drops, trimmed.
			if strings.ContainsFunc(name, droppedFromName) || strings.TrimSpace(name) != name || utf8.RuneCountInString(name) > MaxNameChars {
				t.Fatalf("cleanName(%+q) = %+q", p.Name, name)
			}
		}
	case TypePublishOffer:
		p, err := decodePayload[PublishOfferPayload](env)
		ok(err)
		_, err = checkTracks(p.Tracks)
		ok(err)
	case TypeSubscribeAnswer:
		_, err := decodePayload[SDPPayload](env)
		ok(err)
	case TypeICE:
		_, err := decodePayload[ICEPayload](env)
		ok(err)
	case TypeMediaState:
		_, err := decodePayload[MediaState](env)
		ok(err)
	case TypeChat:
		p, err := decodePayload[ChatPayload](env)
		ok(err)
		ok(checkChat(p.Text))
	case TypeAdmit, TypeDeny, TypeSendToLobby, TypeRemove, TypeSetRole, TypeMute, TypeAskUnmute, TypeStopScreenShare, TypeEndMeeting:
		_, err := decodePayload[TargetPayload](env)
		ok(err)
	case TypeAdmitAll, TypeDenyAll:
		p, err := decodePayload[TargetPayload](env)
		ok(err)
		if err != nil {
			return
		}
		ids, err := chosenKnocks(p.ParticipantIDs, lobby.DefaultMaxWaiting)
		ok(err)
		if err == nil && len(ids) != len(p.ParticipantIDs) {
			t.Fatalf("%s: %d participantIds taken as %d", env.Type, len(p.ParticipantIDs), len(ids))
		}
		if err == nil && len(ids) > lobby.DefaultMaxWaiting {
			t.Fatalf("%s: %d participantIds taken, more than a waiting room holds", env.Type, len(ids))
		}
	case TypeResume:
		checkResume(t, env)
	case TypeUpdateSettings:
		_, err := decodePayload[UpdateSettingsPayload](env)
		ok(err)
	case TypeE2EE:
		_, err := decodePayload[E2EEPayload](env)
		ok(err)
	case TypePing:
		n, err := parsePing(env)
		ok(err)
		if err != nil {
			return
		}
		if n < 0 || n > maxPingNumber || len(env.Payload) > maxPingPayload {
			t.Fatalf("ping accepted with n %d, payload of %d bytes", n, len(env.Payload))
		}
		// The pong echoes the number, and is small whatever the ping carried.
		pong, perr := DecodeEnvelope(encode(TypePong, env.ID, PongPayload{N: n}))
		if perr != nil || len(pong.Payload) > len(`{"n":65535}`) {
			t.Fatalf("pong %s: %v", pong.Payload, perr)
		}
		var back PongPayload
		if json.Unmarshal(pong.Payload, &back) != nil || back.N != n {
			t.Fatalf("pong %s does not echo %d", pong.Payload, n)
		}
	}
}

// checkResume: a resume the server takes names a meeting and a member by valid ids and
// carries a secret of a resumption secret's length; anything else is refused with a
// typed error that closes the connection only where PROTOCOL.md says so (a version
// this server does not speak, or a secret that cannot be anyone's: resume_failed,
// refused before anything is looked up).
func checkResume(t *testing.T, env Envelope) {
	p, err := parseResume(env)
	if err == nil {
		if !validID(p.MeetingID) || !validID(p.ParticipantID) || len(p.Secret) != resumeSecretChars || p.Version != ProtocolVersion {
			t.Fatalf("resume taken: %+v", p)
		}
		return
	}
	want := map[Code]int{CodeBadMessage: 0, CodeInvalidField: 0, CodeUnsupportedVersion: CloseUnsupportedVersion, CodeResumeFailed: CloseWrongPassword}
	if close, known := want[err.Code]; !known || err.Close != close {
		t.Fatalf("resume refused with %v (close %d)", err, err.Close)
	}
	if err.Code == CodeResumeFailed && len(p.Secret) == resumeSecretChars {
		t.Fatalf("a secret of the right length refused before it was looked up: %v", err)
	}
}

// TestParsePing: a ping's number is an integer 0–65535 in a payload of at most 128
// bytes; anything else is refused with a typed error (a wrong JSON shape bad_message,
// the rest invalid_field).
func TestParsePing(t *testing.T) {
	for in, want := range map[string]Code{
		`{"type":"ping","payload":{"n":0}}`:                  "",
		`{"type":"ping","payload":{"n":65535,"later":true}}`: "",
		`{"type":"ping"}`:                                                          CodeInvalidField,
		`{"type":"ping","payload":null}`:                                           CodeInvalidField,
		`{"type":"ping","payload":{}}`:                                             CodeInvalidField,
		`{"type":"ping","payload":{"n":-1}}`:                                       CodeInvalidField,
		`{"type":"ping","payload":{"n":65536}}`:                                    CodeInvalidField,
		`{"type":"ping","payload":{"n":0,"p":"` + strings.Repeat("x", 121) + `"}}`: CodeInvalidField,
		`{"type":"ping","payload":{"n":"1"}}`:                                      CodeBadMessage,
		`{"type":"ping","payload":{"n":2.5}}`:                                      CodeBadMessage,
		`{"type":"ping","payload":{"n":1e400}}`:                                    CodeBadMessage,
		`{"type":"ping","payload":{"n":true}}`:                                     CodeBadMessage,
	} {
		env, derr := DecodeEnvelope([]byte(in))
		if derr != nil {
			t.Fatalf("%s: %v", in, derr)
		}
		_, err := parsePing(env)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s refused: %v", in, err)
		case want != "" && (err == nil || err.Code != want):
			t.Errorf("%s: %v, want %s", in, err, want)
		}
	}
}
