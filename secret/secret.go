// Package secret makes and checks Conclave's secrets: host keys, moderator secrets and
// meeting passwords, and throttles guesses at them (Attempts). Secrets are stored only
// as hashes and compared in constant time: people's passwords as argon2id hashes,
// computed under a first-come-first-served semaphore so that a flood of attempts cannot
// exhaust the CPU or memory; random high-entropy secrets as keyed hashes (keyed.go).
package secret

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultParams follow OWASP's argon2id minimum (19 MiB, 2 passes, 1 thread).
var DefaultParams = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// ErrMalformedHash is returned for a stored hash this package did not make.
var ErrMalformedHash = errors.New("secret: malformed hash")

const (
	saltLen = 16
	keyLen  = 32
)

// Hasher hashes and verifies secrets, running at most a fixed number of argon2id
// computations at a time. Callers wait for a slot in arrival order, so nobody is
// overtaken: together with Attempts (one guess per address at a time) one address holds
// at most one place in the line.
type Hasher struct {
	params Params
	runs   atomic.Int64 // argon2id computations started

	mu      sync.Mutex
	free    int             // slots not in use
	waiting []chan struct{} // oldest first; closed when handed a slot
}

// NewHasher makes a hasher running at most concurrency hashes at once.
func NewHasher(p Params, concurrency int) *Hasher {
	if concurrency < 1 {
		concurrency = 1
	}
	return &Hasher{params: p, free: concurrency}
}

// Runs is the number of argon2id computations started so far (tests, metrics).
func (h *Hasher) Runs() int64 { return h.runs.Load() }

// Waiting is the number of callers waiting for a slot now.
func (h *Hasher) Waiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.waiting)
}

// Hold takes a slot, in turn as a hash does, and keeps it until release is called:
// the hashes behind it wait meanwhile (as behind a slow one; tests of what happens
// while a hash waits for its turn).
func (h *Hasher) Hold(ctx context.Context) (release func(), err error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(h.release) }, nil
}

// acquire waits for a slot, first come first served, or until ctx ends.
func (h *Hasher) acquire(ctx context.Context) error {
	h.mu.Lock()
	if h.free > 0 && len(h.waiting) == 0 {
		h.free--
		h.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	h.waiting = append(h.waiting, ch)
	h.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		h.mu.Lock()
		for i, w := range h.waiting {
			if w == ch {
				h.waiting = append(h.waiting[:i], h.waiting[i+1:]...)
				h.mu.Unlock()
				return ctx.Err()
			}
		}
		h.mu.Unlock()
		h.release() // handed a slot just as ctx ended: pass it on
		return ctx.Err()
	}
}

// release hands the slot to the oldest waiter, or frees it.
func (h *Hasher) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.waiting) > 0 {
		close(h.waiting[0])
		h.waiting = h.waiting[1:]
		return
	}
	h.free++
}

// Hash returns the encoded argon2id hash of s, in the PHC string format.
func (h *Hasher) Hash(ctx context.Context, s string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	h.runs.Add(1)
	p := h.params
	key := argon2.IDKey([]byte(s), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether s matches the encoded hash, comparing in constant time: an
// argon2id hash (with the cost parameters stored in it) or a KeyedHash, which is checked
// at once without a slot.
func (h *Hasher) Verify(ctx context.Context, s, encoded string) (bool, error) {
	if IsKeyedHash(encoded) {
		return verifyKeyed(s, encoded)
	}
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	h.runs.Add(1)
	got := argon2.IDKey([]byte(s), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	// Bound the stored cost so a tampered config cannot make verification explode.
	if p.Time < 1 || p.Time > 16 || p.Threads < 1 || p.MemoryKiB < 8 || p.MemoryKiB > 1<<20 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}

// Random returns n random bytes as unpadded base64url.
func Random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
