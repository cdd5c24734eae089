package e2ee

import (
	"crypto/ecdh"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

const knockVectorsPath = "testdata/knock.json"

// knockVectors are the knock-proof vectors both implementations check: this package
// (TestKnockVectors) and web/jstest/knock.test.mjs. Regenerate with
// go test ./e2ee -run TestKnockVectors -update.
type knockVectors struct {
	Comment     string           `json:"comment"`
	Secret      string           `json:"secret"`
	IdentityKey string           `json:"identityKey"`
	Proofs      []knockVector    `json:"proofs"`
	Refused     []badKnockVector `json:"refused"`
	BadFields   []string         `json:"badFields"`
	LobbyKeys   []lobbyKeyVector `json:"lobbyKeys"`
	// The knock's ephemeral key pair (proofs are over nonce and ephPub) and names
	// sealed with it to a moderator's lobby key (FORMAT.md, "Names").
	EphPrivate   string            `json:"ephPrivate"`
	EphPub       string            `json:"ephPub"`
	ModPrivate   string            `json:"modPrivate"`
	ModPub       string            `json:"modPub"`
	Names        []knockNameVector `json:"names"`
	RefusedNames []badKnockName    `json:"refusedNames"`
}

// lobbyKeyVector is a moderator's lobby key; Valid says whether its tag verifies under
// the vectors' secret.
type lobbyKeyVector struct {
	Why         string `json:"why"`
	ModeratorID string `json:"moderatorId"`
	Pub         string `json:"pub"`
	Tag         string `json:"tag"`
	Valid       bool   `json:"valid"`
}

type knockNameVector struct {
	ModeratorID string `json:"moderatorId"`
	Nonce       string `json:"nonce"`
	Name        string `json:"name"`
	IV          string `json:"iv"`
	Shared      string `json:"shared"` // X25519(eph, modPub) = X25519(mod, ephPub)
	Key         string `json:"key"`    // K = HKDF(shared, salt = nonce, info = "conclave/v2 knock" 0 moderatorId)
	Sealed      string `json:"sealed"`
}

// badKnockName: opened by modPrivate with ephPub, for moderatorId and nonce; error is
// the E2EEError code the browser gives.
type badKnockName struct {
	Why         string `json:"why"`
	ModeratorID string `json:"moderatorId"`
	Nonce       string `json:"nonce"`
	Sealed      string `json:"sealed"`
	Error       string `json:"error"`
}

type knockVector struct {
	Nonce string `json:"nonce"`
	Proof string `json:"proof"`
}

// badKnockVector is a nonce and proof that must not verify under the secret.
type badKnockVector struct {
	Why   string `json:"why"`
	Nonce string `json:"nonce"`
	Proof string `json:"proof"`
}

func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func generateKnock(t *testing.T) knockVectors {
	t.Helper()
	secret := seq(16, 0xa0)
	ki, _ := DeriveMeetingKeys(secret)
	otherKI, _ := DeriveMeetingKeys(seq(16, 0xb0))
	v := knockVectors{
		Comment: "Knock proofs (e2ee/FORMAT.md, \"Knock proof\"; e2ee/knock.go, web/static/js/e2ee/knock.js). " +
			"Byte strings are unpadded base64url. Regenerate: go test ./e2ee -run TestKnockVectors -update",
		Secret:      b64.EncodeToString(secret),
		IdentityKey: b64.EncodeToString(ki),
	}
	ephPriv := must(ecdh.X25519().NewPrivateKey(seq(32, 0x11)))
	eph := ephPriv.PublicKey().Bytes()
	modPriv := must(ecdh.X25519().NewPrivateKey(seq(32, 0x21)))
	modPub := modPriv.PublicKey().Bytes()
	v.EphPrivate, v.EphPub = b64.EncodeToString(ephPriv.Bytes()), b64.EncodeToString(eph)
	v.ModPrivate, v.ModPub = b64.EncodeToString(modPriv.Bytes()), b64.EncodeToString(modPub)
	nonces := [][]byte{make([]byte, KnockNonceSize), seq(KnockNonceSize, 0), seq(KnockNonceSize, 0xe0)}
	for _, n := range nonces {
		v.Proofs = append(v.Proofs, knockVector{Nonce: b64.EncodeToString(n), Proof: b64.EncodeToString(KnockProof(ki, n, eph))})
	}
	n := nonces[1]
	good := KnockProof(ki, n, eph)
	flipped := append([]byte(nil), good...)
	flipped[31] ^= 1
	tag := IdentityTag(ki, "p-alice", n) // an identity tag over the same bytes is no proof
	v.Refused = []badKnockVector{
		{Why: "another link's secret", Nonce: b64.EncodeToString(n), Proof: b64.EncodeToString(KnockProof(otherKI, n, eph))},
		{Why: "another ephemeral key", Nonce: b64.EncodeToString(n), Proof: b64.EncodeToString(KnockProof(ki, n, modPub))},
		{Why: "one bit changed", Nonce: b64.EncodeToString(n), Proof: b64.EncodeToString(flipped)},
		{Why: "the proof of another nonce", Nonce: b64.EncodeToString(nonces[2]), Proof: b64.EncodeToString(good)},
		{Why: "an identity tag is not a proof", Nonce: b64.EncodeToString(n), Proof: b64.EncodeToString(tag)},
		{Why: "a short nonce", Nonce: b64.EncodeToString(n[:31]), Proof: b64.EncodeToString(KnockProof(ki, n[:31], eph))},
		{Why: "a short proof", Nonce: b64.EncodeToString(n), Proof: b64.EncodeToString(good[:31])},
	}
	enc := b64.EncodeToString(good)
	pub := seq(32, 0x40)
	lk := LobbyKeyTag(ki, "p-mod", pub)
	v.LobbyKeys = []lobbyKeyVector{
		{Why: "right", ModeratorID: "p-mod", Pub: b64.EncodeToString(pub), Tag: b64.EncodeToString(lk), Valid: true},
		{Why: "ids beyond ASCII", ModeratorID: "p-ü€😀", Pub: b64.EncodeToString(pub), Tag: b64.EncodeToString(LobbyKeyTag(ki, "p-ü€😀", pub)), Valid: true},
		{Why: "another link's secret", ModeratorID: "p-mod", Pub: b64.EncodeToString(pub), Tag: b64.EncodeToString(LobbyKeyTag(otherKI, "p-mod", pub)), Valid: false},
		{Why: "another moderator's id", ModeratorID: "p-other", Pub: b64.EncodeToString(pub), Tag: b64.EncodeToString(lk), Valid: false},
		{Why: "an identity tag is not a lobby key", ModeratorID: "p-mod", Pub: b64.EncodeToString(pub), Tag: b64.EncodeToString(IdentityTag(ki, "p-mod", pub)), Valid: false},
		{Why: "a short key", ModeratorID: "p-mod", Pub: b64.EncodeToString(pub[:31]), Tag: b64.EncodeToString(LobbyKeyTag(ki, "p-mod", pub[:31])), Valid: false},
		{Why: "an empty id", ModeratorID: "", Pub: b64.EncodeToString(pub), Tag: b64.EncodeToString(LobbyKeyTag(ki, "", pub)), Valid: false},
	}
	iv := seq(IVSize, 0x70)
	longest := strings.Repeat("Zoë ", 39) + "Zoë!" // 200 bytes
	for _, c := range []struct{ mod, name string }{{"p-mod", "Knocking Kim"}, {"p-ü€😀", "Zoë 🦊"}, {"p-mod", ""}, {"p-mod", longest}} {
		sealed := must(SealKnockName(ephPriv, modPub, n, c.mod, c.name, iv))
		shared := must(ephPriv.ECDH(must(ecdh.X25519().NewPublicKey(modPub))))
		k := must(knockNameKey(ephPriv, modPub, n, c.mod))
		v.Names = append(v.Names, knockNameVector{c.mod, b64.EncodeToString(n), c.name, b64.EncodeToString(iv),
			b64.EncodeToString(shared), b64.EncodeToString(k), b64.EncodeToString(sealed)})
	}
	sealed := must(SealKnockName(ephPriv, modPub, n, "p-mod", "Knocking Kim", iv))
	flippedName := append([]byte(nil), sealed...)
	flippedName[IVSize] ^= 1
	enc64 := b64.EncodeToString
	// A name that authenticates but is not UTF-8, sealed by hand: SealKnockName refuses to make one.
	notUTF8 := sealRaw(must(knockNameKey(ephPriv, modPub, n, "p-mod")), iv, []byte{'K', 0xff, 0xfe}, []byte(knockNameAAD))
	v.RefusedNames = []badKnockName{
		{Why: "sealed to another moderator", ModeratorID: "p-other", Nonce: enc64(n), Sealed: enc64(sealed), Error: "auth"},
		{Why: "another knock's nonce", ModeratorID: "p-mod", Nonce: enc64(nonces[2]), Sealed: enc64(sealed), Error: "auth"},
		{Why: "one bit changed", ModeratorID: "p-mod", Nonce: enc64(n), Sealed: enc64(flippedName), Error: "auth"},
		{Why: "shorter than iv and tag", ModeratorID: "p-mod", Nonce: enc64(n), Sealed: enc64(sealed[:MinSealedNameSize-1]), Error: "malformed"},
		{Why: "a name that is not UTF-8", ModeratorID: "p-mod", Nonce: enc64(n), Sealed: enc64(notUTF8), Error: "malformed"},
		{Why: "longer than a 200-byte name", ModeratorID: "p-mod", Nonce: enc64(n), Sealed: enc64(append(must(SealKnockName(ephPriv, modPub, n, "p-mod", longest, iv)), 0)), Error: "malformed"},
	}
	v.BadFields = []string{"", enc[:42], enc + "A", enc + "=", strings.Replace(enc, enc[:1], "+", 1), enc[:42] + "B",
		b64.EncodeToString(seq(33, 0))}
	return v
}

func eph(v knockVectors) []byte {
	b, _ := b64.DecodeString(v.EphPub)
	return b
}

// TestKnockVectors: the vector file is what the generator makes, every proof in it
// verifies, every refused one does not, and every bad field is refused by the parser.
func TestKnockVectors(t *testing.T) {
	gen := generateKnock(t)
	// An independent known answer (Python's hmac over the same bytes).
	if got := gen.Proofs[0].Proof; got != knownZeroNonceProof {
		t.Fatalf("proof for the zero nonce: %s", got)
	}
	file := golden(t, knockVectorsPath, "TestKnockVectors", gen)
	secret, _ := b64.DecodeString(file.Secret)
	ki, _ := DeriveMeetingKeys(secret)
	if b64.EncodeToString(ki) != file.IdentityKey {
		t.Fatal("identity key differs")
	}
	for _, p := range file.Proofs {
		nonce, err := ParseKnockField(p.Nonce)
		if err != nil {
			t.Fatal(err)
		}
		proof, err := ParseKnockField(p.Proof)
		if err != nil {
			t.Fatal(err)
		}
		if !VerifyKnockProof(ki, nonce, eph(file), proof) {
			t.Errorf("proof for %s does not verify", p.Nonce)
		}
	}
	for _, r := range file.Refused {
		nonce, _ := b64.DecodeString(r.Nonce)
		proof, _ := b64.DecodeString(r.Proof)
		if VerifyKnockProof(ki, nonce, eph(file), proof) {
			t.Errorf("%s: verifies", r.Why)
		}
	}
	for _, k := range file.LobbyKeys {
		pub, _ := b64.DecodeString(k.Pub)
		tag, _ := b64.DecodeString(k.Tag)
		if VerifyLobbyKey(ki, k.ModeratorID, pub, tag) != k.Valid {
			t.Errorf("lobby key %q: verifies %v", k.Why, !k.Valid)
		}
	}
	modPriv, _ := b64.DecodeString(file.ModPrivate)
	mod := must(ecdh.X25519().NewPrivateKey(modPriv))
	for _, c := range file.Names {
		nonce, _ := b64.DecodeString(c.Nonce)
		sealed, _ := b64.DecodeString(c.Sealed)
		if got, err := OpenKnockName(mod, eph(file), nonce, c.ModeratorID, sealed); err != nil || got != c.Name {
			t.Errorf("knock name %q for %s opens as %q, %v", c.Name, c.ModeratorID, got, err)
		}
		if shared := must(mod.ECDH(must(ecdh.X25519().NewPublicKey(eph(file))))); b64.EncodeToString(shared) != c.Shared {
			t.Errorf("knock name %q: shared secret %x", c.Name, shared)
		}
		if k := must(knockNameKey(mod, eph(file), nonce, c.ModeratorID)); b64.EncodeToString(k) != c.Key {
			t.Errorf("knock name %q: key %x", c.Name, k)
		}
	}
	for _, c := range file.RefusedNames {
		nonce, _ := b64.DecodeString(c.Nonce)
		sealed, _ := b64.DecodeString(c.Sealed)
		if got, err := OpenKnockName(mod, eph(file), nonce, c.ModeratorID, sealed); errCode(err) != c.Error {
			t.Errorf("refused knock name %q: %q, %v", c.Why, got, err)
		}
	}
	for _, f := range file.BadFields {
		if b, err := ParseKnockField(f); !errors.Is(err, ErrKnockField) || b != nil {
			t.Errorf("ParseKnockField(%q) = %x, %v", f, b, err)
		}
	}
}

// FuzzParseKnockField: the parser never panics, and whatever it takes is 32 bytes that
// encode back to the same text (one spelling per value).
func FuzzParseKnockField(f *testing.F) {
	for _, s := range generateKnock(&testing.T{}).BadFields {
		f.Add(s)
	}
	f.Add(b64.EncodeToString(seq(32, 0)))
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseKnockField(s)
		if err != nil {
			if !errors.Is(err, ErrKnockField) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(b) != KnockProofSize || EncodeKnockField(b) != s {
			t.Fatalf("%q took as %x", s, b)
		}
	})
}

// knownZeroNonceProof is an independent known answer for the proof of the zero nonce
// with the vectors' ephemeral key (Python's hmac and the cryptography package's X25519
// over the same bytes).
const knownZeroNonceProof = "crnWz0n0wRwWd5PmtvDs80_0tIJyMnUFZ4ugvP29Dd4"

// FuzzOpenKnockName: opening never panics, refuses with a typed error, and whatever it
// opens is a name an envelope may carry.
func FuzzOpenKnockName(f *testing.F) {
	v := generateKnock(&testing.T{})
	for _, c := range v.Names {
		s, _ := b64.DecodeString(c.Sealed)
		f.Add(s, c.ModeratorID)
	}
	for _, c := range v.RefusedNames {
		s, _ := b64.DecodeString(c.Sealed)
		f.Add(s, c.ModeratorID)
	}
	modPriv, _ := b64.DecodeString(v.ModPrivate)
	mod := must(ecdh.X25519().NewPrivateKey(modPriv))
	nonce, _ := b64.DecodeString(v.Names[0].Nonce)
	f.Fuzz(func(t *testing.T, sealed []byte, modID string) {
		name, err := OpenKnockName(mod, eph(v), nonce, modID, sealed)
		if err != nil {
			if c := errCode(err); c != "auth" && c != "malformed" && c != "bad-id" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(name) > MaxNameBytes || !utf8.ValidString(name) {
			t.Fatalf("opened %q", name)
		}
	})
}
