package secret

import (
	"context"
	"net/netip"
	"time"

	"conclave/addrgroup"
)

// An IPv6 address's guesses count twice: in its group (its /64, AddrGroup) and in its
// site, the /48 around it (SiteOf). A /48 is what an ISP gives a customer or an
// organisation, and holds 65,536 /64s: with budgets per /64 alone, one customer with a
// /48 (a tunnel broker hands them out for free) would get 65,536 budgets against a
// meeting's password, some 1.5 million guesses in the first hour. The site's budget is
// SiteFactor times a group's (its failures count SiteFactor times less: 63 free, a
// lockout after 320), so that the /64s of one site are not held back by each other's
// typing errors, and it checks at most SiteFactor of its guesses at once (one a group,
// groups in parallel), so that a burst from many /64s cannot run ahead of the
// verdicts. What a site's neighbours on a carrier's shared /48 risk from it is what
// the users behind one IPv4 address of a carrier's NAT risk from each other.
//
// A site is a record of the groups' map (its key a /48 prefix, theirs /64s and IPv4
// addresses), forgotten, swept and bounded with them.

// SiteFactor is how many of a group's budgets a site has, and how many of its guesses
// are checked at once (addrgroup's, which the connections' bounds use too).
const SiteFactor = addrgroup.SiteFactor

// SiteOf names the IPv6 /48 an address is in, as "2001:db8:1::/48" (addrgroup.Site);
// false for an address whose group is IPv4 (an IPv4-mapped or translated one too) and
// for anything that is not an address. A port and a zone are dropped, as in AddrGroup.
func SiteOf(addr string) (string, bool) {
	a, ok := parseAddr(addr)
	if !ok {
		return "", false
	}
	p, ok := addrgroup.Site(a)
	if !ok {
		return "", false
	}
	return p.String(), true
}

// takeSiteSlot gives t, which holds its group's turn, one of site key's slots (waiting
// for one while ctx lives) if the site's budget allows a guess now. Called under a.mu,
// which it unlocks. A *Refused error or ctx's is returned with no slot held; the caller
// then gives the group's turn back.
func (a *Attempts) takeSiteSlot(ctx context.Context, t *Turn, key string) error {
	st := a.records[key]
	if st == nil {
		a.makeRoomLocked()
		st = &record{site: true}
		a.records[key] = st
	}
	if st.slots == nil {
		st.slots = make(chan struct{}, SiteFactor)
	}
	st.users++ // not idle: neither swept nor pushed out while this turn uses it
	st.lastSeen = a.now()
	a.mu.Unlock()
	select {
	case st.slots <- struct{}{}:
	case <-ctx.Done():
		a.mu.Lock()
		st.users--
		a.forgetSiteLocked(key, st)
		a.mu.Unlock()
		return ctx.Err()
	}
	// The verdicts of the site's guesses before this one may have made it wait.
	a.mu.Lock()
	defer a.mu.Unlock()
	if wait := st.nextAllowed.Sub(a.now()); wait > 0 {
		<-st.slots
		st.users--
		return &Refused{RetryAfter: wait, LockedOut: st.lockedOut()}
	}
	t.site, t.siteKey = st, key
	return nil
}

// leaveSite gives back the turn's site slot, if it holds one (after its verdict is
// counted).
func (t *Turn) leaveSite() {
	st := t.site
	if st == nil {
		return
	}
	<-st.slots
	a := t.a
	a.mu.Lock()
	defer a.mu.Unlock()
	st.users--
	a.forgetSiteLocked(t.siteKey, st)
}

// forgetSiteLocked drops site key's record once nothing uses it and it has no wrong
// guess to remember; under a.mu.
func (a *Attempts) forgetSiteLocked(key string, st *record) {
	if a.records[key] == st && st.forgettable(a.now()) {
		delete(a.records, key)
	}
}

// giveBackLocked takes off r, a site, the n failures of one of its /64s forgotten for
// its age: otherwise it would keep the failures of every /64 it ever had for as long as
// any of them guesses wrong once a day. Over its free budget, at most
// FreeFailures·SiteFactor a day: an attacker rotating its /64s must not see a /48 it
// keeps locked drain a day after each /64 (48 more guesses a day than the lockout's 96
// at most), and a /48 a busy day put over its budget still drains, a day at a time.
// Under a.mu.
func (r *record) giveBackLocked(n int, now time.Time) {
	if delayAfter(r.failures/r.scale()) != 0 {
		if now.Sub(r.givenSince) >= ForgetAfter {
			r.given, r.givenSince = 0, now
		}
		n = min(n, FreeFailures*SiteFactor-r.given)
		r.given += n
	}
	r.dropLocked(n)
}

// siteOfGroup is the site of a group's key when it is an IPv6 /64 (AddrGroup's form).
func siteOfGroup(group string) (string, bool) {
	p, err := netip.ParsePrefix(group)
	if err != nil || p.Bits() != 64 || !p.Addr().Is6() {
		return "", false
	}
	site, err := p.Addr().Prefix(48)
	if err != nil {
		return "", false
	}
	return site.String(), true
}
