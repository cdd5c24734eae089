package e2ee

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The safety code, version 2 (FORMAT.md, "Safety code"): a slow hash of the
// verified roster, shown as ten words. Its length and slowness together make two
// rosters with the same code cost a link holder about 2^68 SHA-256 compressions.
const (
	safetyLabel = "conclave/v2 safety code"
	// SafetyCodeIterations is the PBKDF2-HMAC-SHA-256 iteration count.
	SafetyCodeIterations = 1 << 17
	// SafetyCodeWords is how many words the code has, 10 bits each.
	SafetyCodeWords = 10
	// safetyCodeBytes is the PBKDF2 output: 104 bits, of which the first 100 are used.
	safetyCodeBytes = 13
	pubSize         = 32
)

// ErrRoster means a roster the safety code is not defined for: empty, an invalid
// id (ErrBadID is wrapped then), a public key that is not 32 bytes, or an id twice.
var ErrRoster = errors.New("e2ee: invalid roster")

// RosterEntry is one verified member: its participant id and X25519 public key.
type RosterEntry struct {
	ID  string
	Pub []byte
}

// RosterDigest returns D = SHA-256("conclave/v2 safety code" || 0x00 || the
// entries id || 0x00 || pub || 0x00 in id byte order). The order of entries
// does not matter; a bad roster gives ErrRoster.
func RosterDigest(entries []RosterEntry) ([]byte, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("%w: no entries", ErrRoster)
	}
	sorted := slices.Clone(entries)
	// Go compares strings byte by byte: the UTF-8 byte order the format asks for.
	slices.SortFunc(sorted, func(a, b RosterEntry) int { return strings.Compare(a.ID, b.ID) })
	h := sha256.New()
	h.Write([]byte(safetyLabel + "\x00"))
	for i, e := range sorted {
		if !ValidID(e.ID) {
			return nil, fmt.Errorf("%w: %w", ErrRoster, ErrBadID)
		}
		if len(e.Pub) != pubSize {
			return nil, fmt.Errorf("%w: public key of %d bytes", ErrRoster, len(e.Pub))
		}
		if i > 0 && sorted[i-1].ID == e.ID {
			return nil, fmt.Errorf("%w: an id twice", ErrRoster)
		}
		h.Write([]byte(e.ID + "\x00"))
		h.Write(e.Pub)
		h.Write([]byte{0})
	}
	return h.Sum(nil), nil
}

// SafetyCodeBytes returns the 13 bytes PBKDF2-HMAC-SHA-256(password D, salt
// "conclave/v2 safety code", 2^17 iterations) of a roster.
func SafetyCodeBytes(entries []RosterEntry) ([]byte, error) {
	d, err := RosterDigest(entries)
	if err != nil {
		return nil, err
	}
	return pbkdf2.Key(sha256.New, string(d), []byte(safetyLabel), SafetyCodeIterations, safetyCodeBytes)
}

// SafetyCodeIndices returns the ten word indexes (0–1023) of a roster's code.
func SafetyCodeIndices(entries []RosterEntry) ([]int, error) {
	c, err := SafetyCodeBytes(entries)
	if err != nil {
		return nil, err
	}
	return codeIndices(c), nil
}

// SafetyCode returns the ten words of a roster's safety code, in reading order.
func SafetyCode(entries []RosterEntry) ([]string, error) {
	idx, err := SafetyCodeIndices(entries)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(idx))
	for i, n := range idx {
		out[i] = safetyWords[n]
	}
	return out, nil
}

// codeIndices reads the first 100 bits of c big-endian (the most significant bit
// of c[0] first), 10 bits per word.
func codeIndices(c []byte) []int {
	out := make([]int, SafetyCodeWords)
	for i := range out {
		n := 0
		for b := 10 * i; b < 10*i+10; b++ {
			n = n<<1 | int(c[b/8]>>(7-b%8)&1)
		}
		out[i] = n
	}
	return out
}
