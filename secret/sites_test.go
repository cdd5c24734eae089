package secret

import (
	"fmt"
	"testing"
	"time"
)

// tryUntil makes one guess from addr at scope, waiting out any wait the throttle sets
// (never a lockout), and reports whether it ever got checked.
func tryUntil(t *testing.T, c *clock, a *Attempts, addr, scope string, right bool) bool {
	t.Helper()
	for i := 0; i < 100; i++ {
		r := guess(t, a, addr, scope, right)
		if r == nil {
			return true
		}
		if r.LockedOut {
			return false
		}
		c.add(r.RetryAfter)
	}
	return false
}

// TestSiteForgivesTyposItsGroupsForgave: what a /64 forgives (a typo, then the right
// password) its /48 forgives too, however many secrets were guessed at there before
// (four wrong guesses nobody followed up fill a table of secrets a site kept at first):
// 320 people of one /48 each mistyping once and then entering their own meeting do not
// lock the /48 out.
func TestSiteForgivesTyposItsGroupsForgave(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	for i := 0; i < maxScopes; i++ { // four wrong guesses nobody followed up
		if r := guess(t, a, fmt.Sprintf("2001:db8:5:%x::1", 0xf000+i), fmt.Sprintf("gone%d", i), false); r != nil {
			t.Fatal(r)
		}
	}
	for i := 1; i <= LockoutAfter*SiteFactor; i++ {
		addr, scope := fmt.Sprintf("2001:db8:5:%x::1", i), fmt.Sprintf("password/m%d", i)
		if !tryUntil(t, c, a, addr, scope, false) {
			t.Fatalf("person %d locked out before the typo", i)
		}
		if !tryUntil(t, c, a, addr, scope, true) {
			t.Fatalf("person %d (one typo, forgiven in the /64) locked out of her own meeting: the /48 holds %d failures", i, a.records["2001:db8:5::/48"].failures)
		}
	}
	if r := guess(t, a, "2001:db8:5:ffff::1", "password/x", true); r != nil {
		t.Fatalf("a fresh /64 with the right password refused after its neighbours' forgiven typos: %+v", r)
	}
}

// TestSiteNotForgivenByAnotherGroup: one /64's right password at a meeting forgives its
// /48 that /64's failures only, never the other /64s' wrong guesses at that meeting (an
// attacker's): the site's budget does not refill each time a member of the meeting
// joins from the same /48.
func TestSiteNotForgivenByAnotherGroup(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	n := 0
	attack := func() *Refused {
		n++
		return guess(t, a, fmt.Sprintf("2001:db8:6:%x::1", n), "password/V", false)
	}
	for i := 0; i < 10*LockoutAfter*SiteFactor; i++ {
		r := attack()
		if r != nil && r.LockedOut {
			break
		}
		if r != nil {
			c.add(r.RetryAfter)
		}
	}
	c.add(LockoutFor)
	if r := guess(t, a, "2001:db8:6:ffff::1", "password/V", true); r != nil { // a member of V joins
		t.Fatal(r)
	}
	free := 0
	for free < 100 && attack() == nil {
		free++
	}
	if free > 1 {
		t.Fatalf("after a member's right password, the attacker's /64s of the same /48 got %d more wrong guesses without a wait (the site had %d failures from them)", free, LockoutAfter*SiteFactor)
	}
}

// TestSiteForgetsWhatItsGroupsForget: a /48 forgets the failures of a /64 that is
// forgotten for its age, so that a busy network's abandoned typos (one every four
// hours, each from another /64, never followed by the right password) do not pile up
// in it for as long as any of its /64s guesses wrong once a day.
func TestSiteForgetsWhatItsGroupsForget(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	for i := 1; i <= LockoutAfter*SiteFactor; i++ {
		if !tryUntil(t, c, a, fmt.Sprintf("2001:db8:8:%x::1", i), fmt.Sprintf("password/m%d", i), false) {
			t.Fatalf("typo %d refused", i)
		}
		c.add(4 * time.Hour)
		a.Sweep()
	}
	if st := a.records["2001:db8:8::/48"]; st == nil || st.failures > int(ForgetAfter/(4*time.Hour))+1 {
		t.Fatalf("the /48 after %d abandoned typos, one every 4 hours: %+v", LockoutAfter*SiteFactor, st)
	}
	if r := guess(t, a, "2001:db8:8:ffff::1", "password/x", true); r != nil {
		t.Fatalf("a fresh /64 with the right password: %+v", r)
	}
}

// TestLatestSecretsStayForgivable: an address that guessed wrong at four secrets it
// never got right, then mistypes its own meeting's password and gets it right, is
// forgiven that typo, and so is its /48 (the secret guessed at longest ago gave up its
// place).
func TestLatestSecretsStayForgivable(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	addr := "2001:db8:b:1::1"
	for i := 0; i < maxScopes; i++ {
		tryUntil(t, c, a, addr, fmt.Sprintf("password/gone%d", i), false)
	}
	tryUntil(t, c, a, addr, "password/mine", false)
	tryUntil(t, c, a, addr, "password/mine", true)
	if g, st := a.records["2001:db8:b:1::/64"], a.records["2001:db8:b::/48"]; g.failures != maxScopes || st.failures != maxScopes {
		t.Fatalf("after the typo was put right: /64 %d, /48 %d failures, want %d", g.failures, st.failures, maxScopes)
	}
}

// TestEvictionTakesAGroupBeforeItsSite: when the table is full, a /64 and its /48 with
// as many failures go /64 first (the /48 holds the /64's failures too; losing it first
// would refill the budget of every /64 of it).
func TestEvictionTakesAGroupBeforeItsSite(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	if r := guess(t, a, "2001:db8:c:1::1", "password/m", false); r != nil {
		t.Fatal(r)
	}
	for i := 0; len(a.records) < MaxRecords; i++ { // as many failures, seen later
		c.add(time.Millisecond)
		_ = guess(t, a, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "password/x", false)
	}
	a.mu.Lock()
	a.makeRoomLocked()
	_, group := a.records["2001:db8:c:1::/64"]
	_, site := a.records["2001:db8:c::/48"]
	a.mu.Unlock()
	if group || !site {
		t.Fatalf("after making room: the /64 kept %v, the /48 kept %v", group, site)
	}
}

// TestSiteStaysLockedWhileAttacked: an attacker with a /48 guesses at one
// meeting's password from a fresh /64 each time, as fast as the /48 lets it, for two
// days. PROTOCOL.md: the /48's lockout is kept "with a wrong guess every 15 minutes",
// so on the second day it gets the lockout's four guesses an hour (about 96), as an
// IPv4 address or a single /64 does. Each /64 forgotten 24 h after its own guess must
// not hand its failures back to a /48 the attacker is still guessing from.
func TestSiteStaysLockedWhileAttacked(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	start := c.now()
	n, perDay := 0, map[int]int{}
	for c.now().Sub(start) < 48*time.Hour {
		n++
		r := guess(t, a, fmt.Sprintf("2001:db8:7:%x::1", n), "password/V", false)
		if r != nil {
			c.add(r.RetryAfter)
		} else {
			perDay[int(c.now().Sub(start)/(24*time.Hour))]++
		}
		a.Sweep()
	}
	t.Logf("wrong guesses checked: day 1 %d, day 2 %d; the /48 holds %d failures", perDay[0], perDay[1], a.records["2001:db8:7::/48"].failures)
	if perDay[1] > 24*4+LockoutAfter { // the lockout's 4 an hour, give or take
		t.Fatalf("on the second day of an attack the /48 got %d wrong guesses checked (the lockout allows about %d): its /64s' failures were handed back while it was still guessing", perDay[1], 24*4)
	}
}

// TestLatestGuessedSecretKeepsItsPlace: the secret guessed at longest ago gives up its
// place in a record's four, not the one first guessed at. An address mistypes its
// own meeting's password, guesses wrong at three others, mistypes its own again (now the
// latest secret it guessed at), then guesses wrong once at a fifth: its own password's
// failures must stay forgivable.
func TestLatestGuessedSecretKeepsItsPlace(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	addr := "192.0.2.55"
	tryUntil(t, c, a, addr, "password/mine", false)
	for i := 0; i < maxScopes-1; i++ {
		tryUntil(t, c, a, addr, fmt.Sprintf("password/other%d", i), false)
	}
	tryUntil(t, c, a, addr, "password/mine", false) // the latest
	tryUntil(t, c, a, addr, "password/fifth", false)
	tryUntil(t, c, a, addr, "password/mine", true)
	if r := a.records[addr]; r.failures != maxScopes {
		t.Fatalf("after the right password: %d failures left, want %d (the three others and the fifth); table %+v", r.failures, maxScopes, r.byScope)
	}
}

// TestTranslatedIPv4ClientsHaveTheirOwnBudgets: behind a stateless translator (SIIT,
// NAT64 in front of an IPv6-only server) every IPv4 client comes from 64:ff9b::/96
// with its IPv4 address in the last 32 bits. Each counts as that address: one
// guesser locked out through the translator locks out its own IPv4 address (natively
// too), not the other clients of the translator, and the translated addresses share no
// site. Before, they were all one /64 and one /48: the guesser's lockout was theirs.
func TestTranslatedIPv4ClientsHaveTheirOwnBudgets(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	const guesser, client = "64:ff9b::198.51.100.1", "[64:ff9b::203.0.113.9]:40000"
	for i := 0; i < 10*LockoutAfter; i++ {
		r := guess(t, a, guesser, "m", false)
		if r != nil && r.LockedOut {
			break
		}
		if r != nil {
			c.add(r.RetryAfter)
		}
	}
	if r := guess(t, a, guesser, "m", true); r == nil || !r.LockedOut {
		t.Fatalf("the guesser is not locked out: %+v", r)
	}
	if r := guess(t, a, client, "m", true); r != nil {
		t.Fatalf("another IPv4 client through the translator was refused its right secret: %+v", r)
	}
	if r := guess(t, a, "198.51.100.1", "other", true); r == nil || !r.LockedOut {
		t.Fatalf("the guesser's IPv4 address, native, is not locked out with it: %+v", r)
	}
	// Its own typos are its own budget's: FreeFailures free, then a wait.
	for i := 1; i <= FreeFailures; i++ {
		if r := guess(t, a, client, "m", false); r != nil {
			t.Fatalf("the client's free failure %d refused: %+v", i, r)
		}
	}
	if r := guess(t, a, client, "m", false); r != nil {
		t.Fatalf("the client's failure that starts its wait refused: %+v", r)
	}
	if r := guess(t, a, client, "m", true); r == nil || r.RetryAfter != BaseDelay || r.LockedOut {
		t.Fatalf("the client after its own %d failures: %+v, want a wait of %v", FreeFailures+1, r, BaseDelay)
	}
}
