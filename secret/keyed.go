package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Secrets of 128 random bits or more (host keys, moderator secrets) cannot be guessed,
// so a slow hash protects nothing for them and only hands an attacker a way to burn CPU
// and memory. They are compared by HMAC-SHA256 instead, in constant time; argon2id is
// kept for the meeting passwords people choose.

// keyedPrefix starts the stored form of a keyed hash: $hmac-sha256$<key>$<mac>.
const keyedPrefix = "$hmac-sha256$"

// KeyedHash returns the stored form of a high-entropy secret s: its HMAC-SHA256 under a
// fresh random 32-byte key, "$hmac-sha256$<key>$<mac>" in unpadded base64. Hasher.Verify
// checks it without touching the argon2 pool.
func KeyedHash(s string) string {
	key := make([]byte, keyLen)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
	b64 := base64.RawStdEncoding
	return keyedPrefix + b64.EncodeToString(key) + "$" + b64.EncodeToString(mac(key, s))
}

// IsKeyedHash reports whether encoded is KeyedHash's form (rather than argon2id's).
func IsKeyedHash(encoded string) bool { return strings.HasPrefix(encoded, keyedPrefix) }

// verifyKeyed checks s against KeyedHash's form in constant time.
func verifyKeyed(s, encoded string) (bool, error) {
	parts := strings.Split(strings.TrimPrefix(encoded, keyedPrefix), "$")
	if len(parts) != 2 {
		return false, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	key, err := b64.DecodeString(parts[0])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return false, ErrMalformedHash
	}
	want, err := b64.DecodeString(parts[1])
	if err != nil || len(want) != sha256.Size {
		return false, ErrMalformedHash
	}
	return hmac.Equal(mac(key, s), want), nil
}

func mac(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}
