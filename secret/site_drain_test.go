package secret

import (
	"fmt"
	"math/rand"
	"testing"
	"time"
)

// TestSiteDrainsADayAtATime: a /48 whose abandoned typos once passed its free budget (one
// busy day: 70 typos from 70 /64s, none followed by the right password) drains again,
// a day's share at a time, while its /64s go on at the low rate of one abandoned typo
// every 4 hours: it is never forgotten whole (a quiet day never comes), so what its
// forgotten /64s give back must not stop at its free budget.
func TestSiteDrainsADayAtATime(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	n := 0
	typo := func() {
		n++
		if !tryUntil(t, c, a, fmt.Sprintf("2001:db8:9:%x::1", n), fmt.Sprintf("password/m%d", n), false) {
			t.Fatalf("typo %d locked out: the /48 holds %d", n, a.records["2001:db8:9::/48"].failures)
		}
	}
	for i := 0; i < 70; i++ { // a busy day
		typo()
		c.add(10 * time.Minute)
		a.Sweep()
	}
	for day := 0; day < 30; day++ {
		for i := 0; i < 6; i++ {
			typo()
			c.add(4 * time.Hour)
			a.Sweep()
		}
	}
	st := a.records["2001:db8:9::/48"]
	t.Logf("after the busy day and 30 days of one abandoned typo every 4 h: the /48 holds %d failures (wait %v)", st.failures, delayAfter(st.failures/SiteFactor))
	if st.failures > int(ForgetAfter/(4*time.Hour))+1 {
		t.Fatalf("the /48 still holds %d failures 30 days after its busy day", st.failures)
	}
}

// TestScopeTableConsistent: random wrong/right guesses over six secrets from
// two /64s of one /48: each group's failures equal what it failed less what it was
// forgiven, the table never holds more than that, and the site holds the sum.
func TestScopeTableConsistent(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAttempts(c.now)
	addrs := []string{"2001:db8:a:1::1", "2001:db8:a:2::1"}
	groups := []string{"2001:db8:a:1::/64", "2001:db8:a:2::/64"}
	want := []int{0, 0}
	for i := 0; i < 3000; i++ {
		g := rng.Intn(2)
		scope := fmt.Sprintf("s%d", rng.Intn(6))
		right := rng.Intn(4) == 0
		var forgiven int
		if r := a.records[groups[g]]; r != nil && right {
			if j := r.scopeIndex(scope); j >= 0 {
				forgiven = r.byScope[j].n
			}
		}
		c.add(time.Hour) // every wait is over
		if r := guess(t, a, addrs[g], scope, right); r != nil {
			t.Fatalf("refused: %+v", r)
		}
		if right {
			want[g] -= forgiven
		} else {
			want[g]++
		}
		sum := 0
		for k, gr := range groups {
			r := a.records[gr]
			got := 0
			if r != nil {
				got = r.failures
				tab := 0
				seen := map[string]bool{}
				for _, f := range r.byScope {
					if seen[f.scope] || f.n <= 0 {
						t.Fatalf("table %+v", r.byScope)
					}
					seen[f.scope] = true
					tab += f.n
				}
				if tab > got || len(r.byScope) > maxScopes {
					t.Fatalf("group %s: table %+v holds %d of %d failures", gr, r.byScope, tab, got)
				}
			}
			if got != want[k] {
				t.Fatalf("step %d group %s: %d failures, want %d", i, gr, got, want[k])
			}
			sum += got
		}
		st := a.records["2001:db8:a::/48"]
		sg := 0
		if st != nil {
			sg = st.failures
		}
		if sg != sum {
			t.Fatalf("step %d: site %d, groups %d", i, sg, sum)
		}
	}
}
