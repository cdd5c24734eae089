package signaling

import (
	"strings"
	"testing"
)

// FuzzParseHostKey: whatever Authorization header a client sends, the host-key parser
// never panics, refuses with nothing, and what it accepts is the documented form
// (PROTOCOL.md, "Rooms API"): "Bearer <id>.<secret>" (the scheme in any case), the id
// 1 to 64 characters of base64url, the secret 1 to 256, and nothing else but spaces
// around them. A key of another form is never looked up, hashed or counted as a guess
// (checkHostKey).
func FuzzParseHostKey(f *testing.F) {
	for _, seed := range []string{
		"", "Bearer", "Bearer ", "Bearer .", "Bearer x.", "Bearer .x", "bearer 0123456789ab.c2Vj",
		"Bearer 0123456789ab." + strings.Repeat("A", 43), "Bearer  testhost.c2VjcmV0 ",
		"Bearer " + strings.Repeat("h", 64) + ".s", "Bearer " + strings.Repeat("h", 65) + ".s",
		"Bearer " + strings.Repeat("h", 1<<12) + ".s", "Bearer h." + strings.Repeat("s", 256),
		"Bearer h." + strings.Repeat("s", 257), "Bearer a b.c", "Bearer a.b.c", "Bearer ä.b",
		"Bearer a.b c", "Bearer a.b\x00", "Bearer a%2e.b", "Basic dXNlcjpwdw==",
		"BEARER a.b", "bearer\ta.b", "bearer:a.b", "Bearers a.b",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		id, sec, ok := parseHostKey(header)
		if !ok {
			if id != "" || sec != "" {
				t.Fatalf("a refusal with a result: %q %q", id, sec)
			}
			return
		}
		if len(id) == 0 || len(id) > maxHostIDChars || !isBase64URL(id) {
			t.Fatalf("accepted host id %.80q (%d characters)", id, len(id))
		}
		if len(sec) == 0 || len(sec) > maxSecretChars || !isBase64URL(sec) {
			t.Fatalf("accepted secret %.80q (%d characters)", sec, len(sec))
		}
		if !strings.EqualFold(header[:len("Bearer ")], "Bearer ") || strings.TrimSpace(header[len("Bearer "):]) != id+"."+sec {
			t.Fatalf("accepted %.80q as %.80q.%.80q", header, id, sec)
		}
	})
}
