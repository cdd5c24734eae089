package secret

import (
	"context"
	"fmt"
	"testing"
	"time"
)

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
