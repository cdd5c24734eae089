package signaling

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// marshalled is what encode wrote before it put the payload in itself: the JSON of an
// Envelope holding the marshalled payload, as an encoder without HTML escaping writes it.
func marshalled(t testing.TB, typ, ref string, payload any) []byte {
	enc := func(v any) []byte {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		if err := e.Encode(v); err != nil {
			t.Fatal(err)
		}
		return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	}
	var raw json.RawMessage
	if payload != nil {
		raw = enc(payload)
	}
	return enc(Envelope{Type: typ, Ref: ref, Payload: raw})
}

// TestEncodeWritesHTMLCharactersAsThey: <, > and & go out as one byte each, not as
// json.Marshal's six (\u003c): a chat text or a name of them is not multiplied on its way
// to every member; what a client parses is the same.
func TestEncodeWritesHTMLCharactersAsThey(t *testing.T) {
	text := strings.Repeat("<>&", 1000)
	b := encode("chat", "", map[string]string{"text": text})
	if len(b) > len(text)+64 {
		t.Fatalf("%d characters went out as %d bytes", len(text), len(b))
	}
	var got struct{ Payload struct{ Text string } }
	if err := json.Unmarshal(b, &got); err != nil || got.Payload.Text != text {
		t.Fatalf("parsed as %.20q (%v)", got.Payload.Text, err)
	}
}

// TestEncodeAsMarshal: encode writes the same bytes as the JSON of the Envelope, with
// and without ref and payload, whatever the strings hold.
func TestEncodeAsMarshal(t *testing.T) {
	for _, tc := range []struct {
		typ, ref string
		payload  any
	}{
		{TypeE2EE, "", E2EEOutPayload{From: "p-1", Data: `{"v":2,"t":"key","wrapped":"abc"}`}},
		{"welcome", "7", map[string]any{"a": []int{1, 2}, "b": "<&>"}},
		{"error", `r"\<` + "\u2028é", ErrorPayload{Code: string(CodeBadMessage), Message: "x"}},
		{"pong", "", nil},
		{"bye", "9", ByePayload{Reason: "ended"}},
	} {
		got := encode(tc.typ, tc.ref, tc.payload)
		if want := marshalled(t, tc.typ, tc.ref, tc.payload); !bytes.Equal(got, want) {
			t.Errorf("encode(%q, %q, %v) = %s, want %s", tc.typ, tc.ref, tc.payload, got, want)
		}
	}
}

// FuzzEncode: for any type, ref and relayed key data (strings a client chose), encode
// writes what the JSON of the Envelope is (marshalled).
func FuzzEncode(f *testing.F) {
	f.Add("e2ee", "", "p-1", `{"v":2}`)
	f.Add("chat", "12", "p-\x00", "\xff\"\\</script>")
	f.Fuzz(func(t *testing.T, typ, ref, from, data string) {
		payload := E2EEOutPayload{From: from, Data: data}
		if got, want := encode(typ, ref, payload), marshalled(t, typ, ref, payload); !bytes.Equal(got, want) {
			t.Fatalf("encode = %s, want %s", got, want)
		}
	})
}

// BenchmarkRelayEncode: one relayed key envelope (a rotation's share for one member).
func BenchmarkRelayEncode(b *testing.B) {
	data := `{"v":2,"t":"key","wrapped":"` + string(bytes.Repeat([]byte("A"), 260)) + `"}`
	b.ReportAllocs()
	for b.Loop() {
		_ = encode(TypeE2EE, "", E2EEOutPayload{From: "p-0123456789abcdef", Data: data})
	}
}
