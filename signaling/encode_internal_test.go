package signaling

import (
	"bytes"
	"encoding/json"
	"testing"
)

// marshalled is what encode wrote before it put the payload in itself: json.Marshal of
// an Envelope holding the marshalled payload.
func marshalled(t testing.TB, typ, ref string, payload any) []byte {
	var raw json.RawMessage
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			t.Fatal(err)
		}
		raw = b
	}
	b, err := json.Marshal(Envelope{Type: typ, Ref: ref, Payload: raw})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncodeAsMarshal: encode writes the same bytes as json.Marshal of the Envelope,
// with and without ref and payload, whatever the strings hold.
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
// writes what json.Marshal of the Envelope writes.
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
