package e2ee

import (
	"errors"
	"strings"
	"testing"
)

const roomVectorsPath = "testdata/rooms.json"

// roomVectors are the room-key vectors both implementations check: this package
// (TestRoomVectors) and web/jstest/rooms-keys.test.mjs. Regenerate with
// go test ./e2ee -run TestRoomVectors -update.
type roomVectors struct {
	Comment string       `json:"comment"`
	RK      string       `json:"rk"`
	Rooms   []roomVector `json:"rooms"`
	BadRKs  []string     `json:"badRks"`
	BadIDs  []string     `json:"badIds"`
}

type roomVector struct {
	ID              string `json:"id"`
	MeetingSecret   string `json:"meetingSecret"`
	ModeratorSecret string `json:"moderatorSecret"`
	Title           string `json:"title"`
	TitleIV         string `json:"titleIv"`
	TitleCipher     string `json:"titleCipher"`
}

func generateRooms(t *testing.T) roomVectors {
	t.Helper()
	rkBytes := make([]byte, RoomSecretSize)
	for i := range rkBytes {
		rkBytes[i] = byte(i)
	}
	v := roomVectors{
		Comment: "Room keys from a host's rk (e2ee/rooms.go, web/static/js/rooms-keys.js). Regenerate: go test ./e2ee -run TestRoomVectors -update",
		RK:      b64.EncodeToString(rkBytes),
		BadRKs:  []string{"", "short", b64.EncodeToString(rkBytes) + "=", b64.EncodeToString(rkBytes[:31]), strings.Repeat("A", 42) + "+"},
		BadIDs:  []string{"", "too/short", strings.Repeat("A", 21), strings.Repeat("A", 23), strings.Repeat("A", 21) + "+"},
	}
	for i, x := range []struct{ id, title string }{
		{"AAAAAAAAAAAAAAAAAAAAAA", ""},
		{"AAAAAAAAAAAAAAAAAAAAAQ", "Weekly sync ✓"},
		{"q3_-Zz09xYwVuTsRqPoN-m", "Elternabend 7b — Raum 12"},
	} {
		keys, err := DeriveRoomKeys(rkBytes, x.id)
		if err != nil {
			t.Fatal(err)
		}
		iv := make([]byte, IVSize)
		for j := range iv {
			iv[j] = byte(0xa0 + i + j)
		}
		cipher, err := EncryptTitle(keys.MeetingSecret, x.title, iv)
		if err != nil {
			t.Fatal(err)
		}
		v.Rooms = append(v.Rooms, roomVector{ID: x.id, MeetingSecret: keys.MeetingSecret, ModeratorSecret: keys.ModeratorSecret,
			Title: x.title, TitleIV: b64.EncodeToString(iv), TitleCipher: cipher})
	}
	return v
}

// TestRoomVectors: the derivation gives the answers computed independently for the
// browser's test (Python HKDF), the vector file is what the generator makes, and every
// room in it derives and decrypts as written.
func TestRoomVectors(t *testing.T) {
	gen := generateRooms(t)
	// Independent known answers (web/jstest/rooms-keys.test.mjs, "known answers").
	want := map[string]RoomKeys{
		"AAAAAAAAAAAAAAAAAAAAAA": {"R-3TNiAJgXR_cJ9DLBNAjQ", "vJuCEXaSZt4ngFVjuOQD6ZDzk1f0ORphwXFZS2atzzA"},
		"AAAAAAAAAAAAAAAAAAAAAQ": {"BHupOZzCxYjH1lit3x5BCQ", "rXSez_kIl1X4UQ-aKQsD75sjMBkvoKxoRk0b-GTcLqs"},
	}
	for _, r := range gen.Rooms {
		if w, ok := want[r.ID]; ok && (w.MeetingSecret != r.MeetingSecret || w.ModeratorSecret != r.ModeratorSecret) {
			t.Errorf("room %s: %s %s, want %+v", r.ID, r.MeetingSecret, r.ModeratorSecret, w)
		}
	}
	file := golden(t, roomVectorsPath, "TestRoomVectors", gen)
	rk, err := ParseRoomSecret(file.RK)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range file.Rooms {
		keys, err := DeriveRoomKeys(rk, r.ID)
		if err != nil || keys.MeetingSecret != r.MeetingSecret || keys.ModeratorSecret != r.ModeratorSecret {
			t.Errorf("room %s: %+v %v", r.ID, keys, err)
		}
		if got, err := DecryptTitle(r.MeetingSecret, r.TitleCipher); err != nil || got != r.Title {
			t.Errorf("room %s title: %q %v", r.ID, got, err)
		}
	}
	for _, bad := range file.BadRKs {
		if _, err := ParseRoomSecret(bad); !errors.Is(err, ErrBadRoomSecret) {
			t.Errorf("rk %q: %v, want ErrBadRoomSecret", bad, err)
		}
	}
	for _, bad := range file.BadIDs {
		if _, err := DeriveRoomKeys(rk, bad); !errors.Is(err, ErrBadRoomID) {
			t.Errorf("id %q: %v, want ErrBadRoomID", bad, err)
		}
	}
}

// TestRoomTitles: a title opens only under its own room's key; a random IV makes two
// sealings of one title differ.
func TestRoomTitles(t *testing.T) {
	rk := make([]byte, RoomSecretSize)
	a, _ := DeriveRoomKeys(rk, "AAAAAAAAAAAAAAAAAAAAAA")
	b, _ := DeriveRoomKeys(rk, "BBBBBBBBBBBBBBBBBBBBBB")
	c1, err := EncryptTitle(a.MeetingSecret, "Sprechstunde", nil)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := EncryptTitle(a.MeetingSecret, "Sprechstunde", nil)
	if c1 == c2 || strings.Contains(c1, "Sprech") {
		t.Fatalf("ciphertexts %q %q", c1, c2)
	}
	if got, err := DecryptTitle(a.MeetingSecret, c1); err != nil || got != "Sprechstunde" {
		t.Fatalf("own key: %q %v", got, err)
	}
	if _, err := DecryptTitle(b.MeetingSecret, c1); !errors.Is(err, ErrAuth) {
		t.Fatalf("another room's key: %v", err)
	}
	if _, err := DecryptTitle("short", c1); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad meeting secret: %v", err)
	}
}
