package secret

import (
	"context"
	"errors"
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

// clock is a settable time source for Attempts.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// guess makes one guess from addr at scope; it reports the refusal, if any.
func guess(t *testing.T, a *Attempts, addr, scope string, right bool) *Refused {
	t.Helper()
	turn, err := a.Begin(context.Background(), addr, scope)
	if err != nil {
		var r *Refused
		if !errors.As(err, &r) {
			t.Fatalf("Begin: %v", err)
		}
		return r
	}
	if right {
		turn.Succeeded()
	} else {
		turn.Failed()
	}
	return nil
}

func TestAttemptsSchedule(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	for i := 1; i <= FreeFailures; i++ {
		if r := guess(t, a, "192.0.2.1", "m", false); r != nil {
			t.Fatalf("free attempt %d refused", i)
		}
	}
	var last, total time.Duration
	for i := FreeFailures + 1; i < LockoutAfter; i++ {
		if r := guess(t, a, "192.0.2.1", "m", false); r != nil {
			t.Fatalf("attempt %d refused after waiting: %+v", i, r)
		}
		r := guess(t, a, "192.0.2.1", "m", true) // even the right one waits
		if r == nil || r.LockedOut || r.RetryAfter < last || r.RetryAfter > MaxDelay {
			t.Fatalf("after failure %d: %+v (previous delay %v)", i, r, last)
		}
		last = r.RetryAfter
		total += r.RetryAfter
		// Other addresses, even in the same meeting, are not delayed.
		if r := guess(t, a, "192.0.2.2", "m", true); r != nil {
			t.Fatalf("another address throttled by the first one's failures: %+v", r)
		}
		c.add(r.RetryAfter)
	}
	if total != 331500*time.Millisecond {
		t.Fatalf("the first %d guesses take %v of waits; the documented figure is 331.5 s", LockoutAfter, total)
	}
	if r := guess(t, a, "192.0.2.1", "m", false); r != nil {
		t.Fatal("attempt 20 refused")
	}
	// Locked out: everywhere, not only in that meeting, and with any secret.
	for _, scope := range []string{"m", "other-meeting", "host-key"} {
		if r := guess(t, a, "192.0.2.1", scope, true); r == nil || !r.LockedOut || r.RetryAfter != LockoutFor {
			t.Fatalf("after %d failures, at %s: %+v", LockoutAfter, scope, r)
		}
	}
	c.add(LockoutFor)
	if r := guess(t, a, "192.0.2.1", "m", false); r != nil {
		t.Fatal("still locked out after the lockout")
	}
	if r := guess(t, a, "192.0.2.1", "m", true); r == nil || !r.LockedOut {
		t.Fatalf("a wrong guess after a lockout does not lock out again: %+v", r)
	}
	c.add(LockoutFor)
	if r := guess(t, a, "192.0.2.1", "m", true); r != nil {
		t.Fatalf("right secret after the lockout: %+v", r)
	}
	// The right secret forgave everything done against m.
	for i := 0; i < FreeFailures; i++ {
		if r := guess(t, a, "192.0.2.1", "m", false); r != nil {
			t.Fatalf("failures not forgiven: %+v", r)
		}
	}
}

// TestAttemptsOneBudget: one address spreading its guesses over many meetings runs into
// one budget, and knowing another meeting's password does not refill it.
func TestAttemptsOneBudget(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	for i := 0; i <= FreeFailures; i++ {
		if r := guess(t, a, "192.0.2.9", fmt.Sprintf("meeting-%d", i), false); r != nil {
			t.Fatalf("guess %d refused: %+v", i, r)
		}
	}
	if r := guess(t, a, "192.0.2.9", "own-meeting", true); r == nil {
		t.Fatal("a fifth meeting gave a fresh budget")
	}
	c.add(BaseDelay)
	if r := guess(t, a, "192.0.2.9", "own-meeting", true); r != nil {
		t.Fatalf("right password refused after the wait: %+v", r)
	}
	if r := guess(t, a, "192.0.2.9", "meeting-9", false); r != nil {
		t.Fatal(r)
	}
	if r := guess(t, a, "192.0.2.9", "meeting-10", false); r == nil || r.RetryAfter != 2*BaseDelay {
		t.Fatalf("a right password elsewhere forgave the failures: %+v", r)
	}
	// The /64 is one address; the next /64 another.
	for i := 0; i <= FreeFailures; i++ {
		_ = guess(t, a, fmt.Sprintf("2001:db8:0:1::%x", i+1), "m", false)
	}
	if r := guess(t, a, "2001:db8:0:1:ffff::1", "m", true); r == nil {
		t.Fatal("another address of the same /64 is not throttled")
	}
	if r := guess(t, a, "2001:db8:0:2::1", "m", true); r != nil {
		t.Fatalf("the neighbouring /64 is throttled: %+v", r)
	}
}

// TestAttemptsSerialized: concurrent guesses from one address are checked one at a time,
// in arrival order, each after the previous verdict; a full line is refused.
func TestAttemptsSerialized(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	first, err := a.Begin(context.Background(), "192.0.2.5", "m")
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan error, MaxQueued+1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < MaxQueued+1; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			turn, err := a.Begin(ctx, "192.0.2.5", "m")
			if err == nil {
				turn.Failed()
			}
			results <- err
		}()
	}
	// One of them found the line full.
	var r *Refused
	if err := <-results; !errors.As(err, &r) || r.RetryAfter <= 0 {
		t.Fatalf("line of %d: %v", MaxQueued+1, err)
	}
	// Another address is not held up.
	if rr := guess(t, a, "192.0.2.6", "m", true); rr != nil {
		t.Fatal(rr)
	}
	first.Failed()
	wg.Wait()
	close(results)
	ok, refused := 0, 0
	for err := range results {
		if err == nil {
			ok++
		} else if errors.As(err, &r) {
			refused++
		}
	}
	// With no time passing: the free failures, then one more that sets a wait.
	if ok != FreeFailures || refused != MaxQueued-FreeFailures {
		t.Fatalf("%d checked, %d refused; want %d checked", ok+1, refused, FreeFailures+1)
	}
	// A guess whose connection ends while it waits leaves the line.
	hold, err := a.Begin(context.Background(), "192.0.2.7", "m")
	if err != nil {
		t.Fatal(err)
	}
	gone, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := a.Begin(gone, "192.0.2.7", "m"); done <- err }()
	for {
		a.mu.Lock()
		n := len(a.records[AddrGroup("192.0.2.7")].queue)
		a.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned wait: %v", err)
	}
	hold.Succeeded()
	hold.Failed() // a second verdict is ignored
	if rr := guess(t, a, "192.0.2.7", "m", true); rr != nil {
		t.Fatalf("the turn was not passed on: %+v", rr)
	}
}

// TestAttemptsMemoryBound: idle records are forgotten, and a flood of addresses cannot
// grow the table past MaxRecords.
func TestAttemptsMemoryBound(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	for i := 0; i < MaxRecords+1000; i++ {
		_ = guess(t, a, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "m", false)
		if i%4096 == 0 {
			c.add(time.Second)
		}
	}
	if n := a.Len(); n > MaxRecords {
		t.Fatalf("%d records, cap %d", n, MaxRecords)
	}
	c.add(ForgetAfter + time.Minute)
	_ = guess(t, a, "192.0.2.1", "m", false)
	if n := a.Len(); n != 1 {
		t.Fatalf("%d records after everything went idle and one more wrong guess", n)
	}
}

// TestAttemptsKeepOnlyWrongGuesses: an address that only ever gave right secrets (or
// whose check failed) is not kept; one with a wrong guess is, until ForgetAfter after
// its last guess, and a quiet server forgets it then too (Sweep, without a new guess);
// a right guess that forgives every wrong one lets it go at once.
func TestAttemptsKeepOnlyWrongGuesses(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	if r := guess(t, a, "198.51.100.7", "password/m", true); r != nil || a.Len() != 0 {
		t.Fatalf("a right guess: %v, %d records", r, a.Len())
	}
	turn, err := a.Begin(context.Background(), "198.51.100.8", "password/m")
	if err != nil {
		t.Fatal(err)
	}
	turn.Release()
	if a.Len() != 0 {
		t.Fatalf("a check that failed: %d records", a.Len())
	}
	_ = guess(t, a, "203.0.113.9", "password/m", false)
	_ = guess(t, a, "203.0.113.10", "password/m", false)
	_ = guess(t, a, "203.0.113.11", "password/m", false)
	c.add(ForgetAfter - 2*time.Minute)
	a.Sweep()
	if a.Len() != 3 {
		t.Fatalf("%d records before ForgetAfter, want 3", a.Len())
	}
	_ = guess(t, a, "203.0.113.10", "password/m", true) // forgiven: nothing left to keep
	if a.Len() != 2 {
		t.Fatalf("%d records after a right guess forgave the only wrong one, want 2", a.Len())
	}
	// A right guess at another secret forgives nothing, and does not keep the record
	// longer: ForgetAfter counts from the last wrong guess.
	_ = guess(t, a, "203.0.113.11", "password/other", true)
	c.add(time.Minute)
	a.Sweep() // every few seconds, as the server's janitor: within ForgetAfter
	if a.Len() != 0 {
		t.Fatalf("%d records ForgetAfter after the last wrong guess, on a quiet server", a.Len())
	}
}

// TestLockoutSurvivesAFlood: a group locked out stays locked out however many other
// groups (the /64s of one /48, a wrong host key each) guess once meanwhile and fill the
// table: those make room for each other, not for it.
func TestLockoutSurvivesAFlood(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	const attacker = "2001:db8:aaaa:0::1"
	for range LockoutAfter {
		for guess(t, a, attacker, "password/victim", false) != nil {
			c.add(time.Minute)
		}
	}
	if r := guess(t, a, attacker, "password/victim", false); r == nil || !r.LockedOut {
		t.Fatalf("not locked out after %d failures: %+v", LockoutAfter, r)
	}
	c.add(time.Second) // the flood comes after the attacker's last try
	for i := 1; i <= MaxRecords+MaxRecords/8+1; i++ {
		_ = guess(t, a, fmt.Sprintf("2001:db8:%x:%x::1", 0xaaaa+(i>>16), i&0xffff), "host-key", false)
	}
	if n := a.Len(); n > MaxRecords {
		t.Fatalf("%d records, cap %d", n, MaxRecords)
	}
	if r := guess(t, a, attacker, "password/victim", false); r == nil || !r.LockedOut {
		t.Fatalf("the locked-out group guesses again after the flood: %+v", r)
	}
}

// TestCancelledWaiterKeepsNoRecord: a guess that waited behind a right one and gave up
// (its context ended) just as the turn came to it leaves no record of an address that
// made no wrong guess.
func TestCancelledWaiterKeepsNoRecord(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	for i := range 200 { // the turn and the end of the context race: many rounds
		turn, err := a.Begin(context.Background(), "198.51.100.7", "password/m")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := a.Begin(ctx, "198.51.100.7", "password/m")
			done <- err
		}()
		for queued := false; !queued; { // bounded by the test's timeout
			a.mu.Lock()
			queued = len(turn.r.queue) == 1
			a.mu.Unlock()
			time.Sleep(time.Microsecond)
		}
		cancel()
		turn.Succeeded()
		if err := <-done; err == nil {
			t.Fatal("the cancelled guess got a turn")
		}
		if n := a.Len(); n != 0 {
			t.Fatalf("round %d: %d records kept for an address with no wrong guess", i, n)
		}
	}
}

// TestForgiveIsARightGuessWithoutATurn: Forgive drops the group's wrong guesses at one
// scope, as a right guess there does, and only there; a group left clean is forgotten.
func TestForgiveIsARightGuessWithoutATurn(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	for range LockoutAfter {
		if r := guess(t, a, "192.0.2.1", "host", false); r != nil {
			c.add(r.RetryAfter)
			guess(t, a, "192.0.2.1", "host", false)
		}
	}
	if r := guess(t, a, "192.0.2.1", "host", false); r == nil || !r.LockedOut {
		t.Fatalf("not locked out after %d wrong guesses: %+v", LockoutAfter, r)
	}
	a.Forgive("192.0.2.1", "moderator/m") // another scope: nothing to forgive
	if r := guess(t, a, "192.0.2.1", "host", false); r == nil {
		t.Fatal("forgiving another scope lifted the lockout")
	}
	a.Forgive("192.0.2.1", "host")
	if r := guess(t, a, "192.0.2.1", "host", true); r != nil {
		t.Fatalf("still refused after Forgive: %+v", r)
	}
	if n := a.Len(); n != 0 {
		t.Fatalf("%d records kept of a group with nothing left to remember", n)
	}
	a.Forgive("198.51.100.1", "host") // a group never seen: nothing made
	if n := a.Len(); n != 0 {
		t.Fatalf("Forgive of an unknown group made %d records", n)
	}
}

// TestSiteBudget: an IPv6 customer with a /48 does not get 65,536 budgets. One wrong
// guess from each of its /64s (none of them delayed on its own) runs into the /48's
// budget: SiteFactor times a group's (63 free, then waits, a lockout after 320), after
// which a fresh /64 of the same /48 waits too, even with the right secret, and another
// /48 does not. A right guess forgives the site its failures at that secret.
func TestSiteBudget(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	n := 0
	wrong := func() *Refused {
		n++
		return guess(t, a, fmt.Sprintf("2001:db8:7:%x::1", n), "m", false)
	}
	for i := 1; i <= FreeFailures*SiteFactor; i++ {
		if r := wrong(); r != nil {
			t.Fatalf("free failure %d of the site refused: %+v", i, r)
		}
	}
	// The site's failures count SiteFactor times less: its first wait comes with its
	// (FreeFailures+1)·SiteFactor-th failure.
	for i := 0; i < SiteFactor-1; i++ {
		if r := wrong(); r != nil {
			t.Fatalf("failure %d refused: %+v", FreeFailures*SiteFactor+i+1, r)
		}
	}
	if r := wrong(); r != nil {
		t.Fatalf("the failure that starts the wait refused: %+v", r)
	}
	if r := guess(t, a, "2001:db8:7:ffff::1", "m", true); r == nil || r.RetryAfter != BaseDelay || r.LockedOut {
		t.Fatalf("a fresh /64 of the site after %d failures: %+v", n, r)
	}
	if r := guess(t, a, "2001:db8:8::1", "m", true); r != nil {
		t.Fatalf("another /48 throttled: %+v", r)
	}
	// On to the lockout, waiting out each wait.
	for i := 0; i < 10*LockoutAfter*SiteFactor; i++ {
		r := wrong()
		if r != nil && r.LockedOut {
			break
		}
		if r != nil {
			c.add(r.RetryAfter)
		}
	}
	if r := guess(t, a, "2001:db8:7:fffe::1", "other", true); r == nil || !r.LockedOut || r.RetryAfter != LockoutFor {
		t.Fatalf("the site after %d wrong guesses: %+v", n, r)
	}
	c.add(LockoutFor)
	if r := guess(t, a, "2001:db8:7:fffe::1", "m", true); r != nil {
		t.Fatalf("the right secret after the lockout: %+v", r)
	}
	if r := guess(t, a, "2001:db8:7:fffd::1", "m", false); r != nil {
		t.Fatalf("the site's failures at m were not forgiven by the right secret: %+v", r)
	}
}

// TestSiteChecksAtMostSiteFactorAtOnce: guesses from many /64s of one /48 do not run
// ahead of the verdicts: SiteFactor of them are checked at once, the next waits for a
// slot (and gives up with its context), another /48 does not.
func TestSiteChecksAtMostSiteFactorAtOnce(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	ctx := context.Background()
	var held []*Turn
	for i := 0; i < SiteFactor; i++ {
		turn, err := a.Begin(ctx, fmt.Sprintf("2001:db8:9:%x::1", i), "m")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, turn)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if turn, err := a.Begin(gone, "2001:db8:9:ff::1", "m"); err == nil {
		turn.Release()
		t.Fatalf("a %d-th guess of the site was checked at once", SiteFactor+1)
	} else if !errors.Is(err, context.Canceled) {
		t.Fatalf("the waiting guess: %v", err)
	}
	if turn, err := a.Begin(ctx, "2001:db8:a::1", "m"); err != nil {
		t.Fatalf("another /48: %v", err)
	} else {
		turn.Succeeded()
	}
	held[0].Failed()
	turn, err := a.Begin(ctx, "2001:db8:9:ff::1", "other") // right at another secret: m's failure stays
	if err != nil {
		t.Fatalf("after a verdict: %v", err)
	}
	turn.Succeeded()
	for _, h := range held[1:] {
		h.Release()
	}
	a.Sweep()
	if got := a.Len(); got != 2 { // the one wrong guess: its /64 and its site
		t.Fatalf("%d records left, want the failed /64's and its site's", got)
	}
}
