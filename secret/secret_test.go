package secret

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var cheap = Params{MemoryKiB: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	h := NewHasher(cheap, 2)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(enc, "correct") {
		t.Fatalf("encoded hash %q", enc)
	}
	again, _ := h.Hash(ctx, "correct horse")
	if again == enc {
		t.Fatal("two hashes of one secret are equal: no salt")
	}
	for secret, want := range map[string]bool{"correct horse": true, "correct hors": false, "": false, "correct horse ": false} {
		ok, err := h.Verify(ctx, secret, enc)
		if err != nil || ok != want {
			t.Errorf("Verify(%q) = %v, %v; want %v", secret, ok, err, want)
		}
	}
}

func TestMalformedHashes(t *testing.T) {
	h := NewHasher(cheap, 1)
	good, _ := h.Hash(context.Background(), "x")
	parts := strings.Split(good, "$")
	bad := []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		strings.Replace(good, "v=19", "v=18", 1),
		strings.Replace(good, "m=64", "m=99999999", 1), // cost bomb
		strings.Replace(good, "t=1", "t=0", 1),
		"$argon2id$v=19$m=64,t=1,p=1$!!!$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$short",
	}
	for _, b := range bad {
		if ok, err := h.Verify(context.Background(), "x", b); err != ErrMalformedHash || ok {
			t.Errorf("Verify(%q) = %v, %v", b, ok, err)
		}
	}
}

// TestSemaphoreBoundsHashing: no more than the configured number of hashes run at once.
func TestSemaphoreBoundsHashing(t *testing.T) {
	h := NewHasher(Params{MemoryKiB: 1024, Time: 1, Threads: 1}, 2)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			_ = h.acquire(ctx)
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			h.release()
		}()
	}
	wg.Wait()
	if peak.Load() > 2 {
		t.Fatalf("%d hashes ran at once, limit 2", peak.Load())
	}
	// A full semaphore gives up when the context ends.
	_ = h.acquire(context.Background())
	_ = h.acquire(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "x"); err == nil {
		t.Fatal("hash ran past a full semaphore")
	}
}

func TestAttemptsSchedule(t *testing.T) {
	now := time.Unix(1000, 0)
	a := NewAttempts(func() time.Time { return now })
	for i := 1; i <= FreeFailures; i++ {
		if v := a.Allow("m", "a"); !v.OK {
			t.Fatalf("free attempt %d refused", i)
		}
		a.Failed("m", "a")
	}
	var last time.Duration
	for i := FreeFailures + 1; i < LockoutAfter; i++ {
		if v := a.Allow("m", "a"); !v.OK {
			t.Fatalf("attempt %d refused after waiting", i)
		}
		a.Failed("m", "a")
		v := a.Allow("m", "a")
		if v.OK || v.LockedOut || v.RetryAfter < last || v.RetryAfter > MaxDelay {
			t.Fatalf("after failure %d: %+v (previous delay %v)", i, v, last)
		}
		last = v.RetryAfter
		if b := a.Allow("m", "b"); !b.OK { // another address is not delayed
			t.Fatalf("address b throttled by a's failures: %+v", b)
		}
		a.Succeeded("m", "b")
		now = now.Add(v.RetryAfter)
	}
	if !a.Allow("m", "a").OK {
		t.Fatal("attempt 20 refused")
	}
	a.Failed("m", "a")
	if v := a.Allow("m", "a"); v.OK || !v.LockedOut || v.RetryAfter != LockoutFor {
		t.Fatalf("after %d failures: %+v", LockoutAfter, v)
	}
	if v := a.Allow("other-meeting", "a"); !v.OK {
		t.Fatal("the lockout spilled into another meeting")
	}
	now = now.Add(LockoutFor)
	if !a.Allow("m", "a").OK {
		t.Fatal("still locked out after the lockout")
	}
	a.Succeeded("m", "a")
	// Many addresses together hit the meeting's overall rate.
	refused := 0
	for i := 0; i < 100; i++ {
		if !a.Allow("busy", string(rune('A'+i))).OK {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no overall rate per meeting")
	}
	a.Forget("m")
}
