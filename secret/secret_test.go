package secret

import (
	"context"
	"fmt"
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

// TestHasherFIFO: waiters get slots in the order they asked, and a waiter whose context
// ends leaves the line without taking a slot.
func TestHasherFIFO(t *testing.T) {
	h := NewHasher(cheap, 1)
	ctx := context.Background()
	if err := h.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 5)
	gone, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		c := ctx
		if i == 2 {
			c = gone
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if h.acquire(c) != nil {
				return
			}
			order <- i
			h.release()
		}()
		// Wait until it is in line, so the order of arrival is known.
		for {
			h.mu.Lock()
			n := len(h.waiting)
			h.mu.Unlock()
			if n == i+1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	cancel()
	for {
		h.mu.Lock()
		n := len(h.waiting)
		h.mu.Unlock()
		if n == 4 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	h.release()
	wg.Wait()
	close(order)
	var got []int
	for i := range order {
		got = append(got, i)
	}
	if fmt.Sprint(got) != "[0 1 3 4]" {
		t.Fatalf("slots given in order %v, want [0 1 3 4]", got)
	}
	if h.free != 1 {
		t.Fatalf("%d free slots after everyone left, want 1", h.free)
	}
}

func TestKeyedHash(t *testing.T) {
	h := NewHasher(cheap, 1)
	sec := Random(32)
	enc := KeyedHash(sec)
	if !strings.HasPrefix(enc, "$hmac-sha256$") || strings.Contains(enc, sec) || enc == KeyedHash(sec) {
		t.Fatalf("keyed hash %q: wrong form, holds the secret, or has no per-entry key", enc)
	}
	for guess, want := range map[string]bool{sec: true, sec + "x": false, sec[1:]: false, "": false} {
		if ok, err := h.Verify(context.Background(), guess, enc); err != nil || ok != want {
			t.Errorf("Verify(%q) = %v, %v; want %v", guess, ok, err, want)
		}
	}
	if h.Runs() != 0 {
		t.Fatalf("a keyed hash ran argon2 %d times", h.Runs())
	}
	parts := strings.Split(enc, "$")
	for _, bad := range []string{"$hmac-sha256$", "$hmac-sha256$" + parts[2], "$hmac-sha256$!!$" + parts[3], "$hmac-sha256$" + parts[2] + "$AAAA", enc + "$x", "$hmac-sha256$c2hvcnQ$" + parts[3]} {
		if ok, err := h.Verify(context.Background(), sec, bad); err != ErrMalformedHash || ok {
			t.Errorf("Verify(%q) = %v, %v", bad, ok, err)
		}
	}
	// Legacy argon2id entries still verify, and do run argon2.
	old, _ := h.Hash(context.Background(), sec)
	if ok, err := h.Verify(context.Background(), sec, old); !ok || err != nil || h.Runs() != 2 {
		t.Fatalf("argon2id entry: %v %v, %d runs", ok, err, h.Runs())
	}
}
