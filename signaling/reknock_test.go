package signaling_test

import (
	"context"
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// knockSecretOf is the knockSecret in c's last lobby message.
func knockSecretOf(t *testing.T, c *testclient.Client) string {
	t.Helper()
	var secret string
	for _, m := range c.All() {
		if m.Type == "lobby" {
			var p struct{ KnockSecret string }
			_ = json.Unmarshal(m.Payload, &p)
			secret = p.KnockSecret
		}
	}
	if len(secret) != 43 {
		t.Fatalf("lobby messages carry no knock secret: %q", secret)
	}
	return secret
}

// continued reports whether c's lobby messages say its knock continued another.
func continued(c *testclient.Client) bool {
	for _, m := range c.All() {
		if m.Type == "lobby" && strings.Contains(string(m.Payload), `"knockContinued":true`) {
			return true
		}
	}
	return false
}

// waitingEntry is an entry of a waiting_list, as these tests read it.
type waitingEntry struct{ ParticipantID, Since, Continues string }

// lastWaitingList is the last waiting_list c received.
func lastWaitingList(c *testclient.Client) []waitingEntry {
	var out []waitingEntry
	for _, m := range c.All() {
		if m.Type == "waiting_list" {
			var p struct{ Waiting []waitingEntry }
			_ = json.Unmarshal(m.Payload, &p)
			out = p.Waiting
		}
	}
	return out
}

// continuesOf is the last waiting_list c received: participant id -> the knock it continues.
func continuesOf(c *testclient.Client) map[string]string {
	out := map[string]string{}
	for _, w := range lastWaitingList(c) {
		out[w.ParticipantID] = w.Continues
	}
	return out
}

// waitingEntries is the last waiting_list c received: participant id -> since.
func waitingEntries(c *testclient.Client) map[string]string {
	out := map[string]string{}
	for _, w := range lastWaitingList(c) {
		out[w.ParticipantID] = w.Since
	}
	return out
}

// TestKnockAgainReplacesTheDroppedKnock: a waiting page whose path died without a close
// knocks again before the server noticed. Its new knock, presenting the old one's
// secret, replaces it: the old connection is told "replaced" and closed, and the
// moderators see one knock, in the old one's place and time — also after the meeting was
// locked and its password changed while the person waited. Before, both knocks stood
// (until the server's heartbeat timeout) and a moderator could admit the one nobody was
// behind while the person's real knock waited.
func TestKnockAgainReplacesTheDroppedKnock(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{"e2ee":false,"password":"first password"}`)
	mod := srv.joinModerator(t, mt, "Mod")
	early := srv.knock(t, mt.MeetingID, "Early", map[string]any{"password": "first password"})
	waitingID(t, mod, "Early")
	kim := srv.knock(t, mt.MeetingID, "Kim", map[string]any{"password": "first password"})
	kimID := waitingID(t, mod, "Kim")
	since := waitingEntries(mod)[kimID]
	secret := knockSecretOf(t, kim)
	if other := knockSecretOf(t, early); other == secret {
		t.Fatal("two knocks have the same secret")
	}

	// While Kim waits the meeting is locked and its password changed.
	if _, err := mod.Send("update_settings", map[string]any{"locked": true, "password": "second password"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, mod, "settings")

	// Kim's page knocks again on a new connection; the old one is still open.
	kim2 := srv.knock(t, mt.MeetingID, "Kim", map[string]any{"password": "first password", "replaceKnock": secret})
	if reason, code := byeReason(t, kim); reason != "replaced" || code != signaling.CloseEjected {
		t.Fatalf("the old knock: bye %q close %d", reason, code)
	}
	var kim2ID string
	conntest.Eventually(t, "one knock of Kim's in the waiting list", func() bool {
		names, ids := lastWaiting(mod)
		n := 0
		for i, name := range names {
			if name == "Kim" {
				n++
				kim2ID = ids[i]
			}
		}
		return n == 1 && kim2ID != kimID
	})
	entries := waitingEntries(mod)
	if entries[kim2ID] != since || len(entries) != 2 {
		t.Fatalf("waiting list %v: want Early and Kim's new knock since %s", entries, since)
	}
	if names, _ := lastWaiting(mod); strings.Join(names, ",") != "Early,Kim" {
		t.Fatalf("waiting order %v", names)
	}
	if !continued(kim2) {
		t.Fatal("the new knock's lobby message does not say it continues one")
	}
	// The moderators' pages are told which knock it continues, so as not to announce
	// (chime) it as someone new.
	if cont := continuesOf(mod); cont[kim2ID] != kimID || cont[waitingID(t, mod, "Early")] != "" {
		t.Fatalf("the waiting list says %v continue; want %s for %s only", cont, kimID, kim2ID)
	}
	if knockSecretOf(t, kim2) != secret {
		t.Fatal("the new knock did not keep the old one's secret") // TestKnockAgainWhoseLobbyWasLost
	}

	// The new knock is let in and its page speaks; the old secret replaces nothing any
	// more, and the locked meeting refuses a knock presenting it.
	if _, err := mod.Send("admit", map[string]any{"participantId": kim2ID}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kim2.AwaitWelcome(ctx); err != nil {
		t.Fatal(err)
	}
	// Its page speaks on the membership: the secret can no longer take it over
	// (TestKnockSecretTakesOverOnlyAnUnusedMembership).
	if _, err := kim2.Send("media_state", map[string]any{"mic": false, "camera": true, "screen": false}); err != nil {
		t.Fatal(err)
	}
	expectType(t, mod, "participant_updated")
	again := srv.dial(t)
	_ = again.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Kim", "password": "first password", "replaceKnock": secret})
	if reason, code := byeReason(t, again); reason != "locked" || code != signaling.CloseRefused {
		t.Fatalf("a spent secret in a locked meeting: bye %q close %d", reason, code)
	}
	if _, ok := waitingEntries(mod)[kimID]; ok {
		t.Fatal("the replaced knock is back")
	}
}

// TestKnockSecretReplacesOnlyItsOwnKnock: a secret that is not a waiting knock's of
// this meeting (made up, another meeting's) replaces nothing and gets past nothing: the
// join is a new knock, judged as one; a malformed one is refused and changes nothing.
func TestKnockSecretReplacesOnlyItsOwnKnock(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{"e2ee":false,"password":"the password"}`)
	other := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModerator(t, mt, "Mod")
	kim := srv.knock(t, mt.MeetingID, "Kim", map[string]any{"password": "the password"})
	kimID := waitingID(t, mod, "Kim")
	elsewhere := srv.knock(t, other.MeetingID, "Elsewhere", nil)

	for _, tc := range []struct{ name, secret string }{
		{"made up", strings.Repeat("A", 43)},
		{"another meeting's", knockSecretOf(t, elsewhere)},
	} {
		// Without the password: refused as any knock without it.
		c := srv.dial(t)
		_ = c.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Mallory", "replaceKnock": tc.secret})
		if code, _ := expectError(t, c); code != "password_required" {
			t.Fatalf("%s: %s", tc.name, code)
		}
		// With it: a knock of its own beside Kim's.
		c2 := srv.knock(t, mt.MeetingID, "Mallory "+tc.name, map[string]any{"password": "the password", "replaceKnock": tc.secret})
		waitingID(t, mod, "Mallory "+tc.name)
		if continued(c2) {
			t.Fatalf("%s: the knock is told it continues one", tc.name)
		}
		if _, ok := waitingEntries(mod)[kimID]; !ok {
			t.Fatalf("%s: Kim's knock was replaced", tc.name)
		}
		c2.Close()
	}
	for _, bad := range []string{"short", strings.Repeat("A", 42) + "=", strings.Repeat("/", 43), strings.Repeat("A", 44)} {
		c := srv.dial(t)
		_ = c.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Kim", "password": "the password", "replaceKnock": bad})
		if code, _ := expectError(t, c); code != "invalid_field" {
			t.Fatalf("replaceKnock %q: %s", bad, code)
		}
	}
	settled(t, srv, kim, mod)
	if _, ok := waitingEntries(mod)[kimID]; !ok {
		t.Fatal("Kim's knock went")
	}
	for _, m := range kim.All() {
		if m.Type == "bye" {
			t.Fatalf("Kim's knock was told %s", m.Raw)
		}
	}
}

// TestKnockAgainRacesAnAdmit: a moderator admits the old knock while the page's knock
// again is on its way. Whichever comes first, the person is let in once, on the new
// connection: the knock again replaces the old knock and the admit, naming the old
// one, lets in the knock in its place (TestAdmitOfAReplacedKnock); or the admit comes
// first and the knock again takes over the membership (TestKnockAgainTakesOverTheAdmittedKnock),
// or, in the moment between the admit and the old connection's welcome, the admission
// (TestKnockAgainInTheMomentBeforeTheWelcome). Never is it a new knock, and never does
// the old knock wait beside the new one.
func TestKnockAgainRacesAnAdmit(t *testing.T) {
	srv := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 20 {
		mt := srv.createMeetingWith(t, `{"e2ee":false}`)
		mod := srv.joinModerator(t, mt, "Mod")
		kim := srv.knock(t, mt.MeetingID, "Kim", nil)
		kimID := waitingID(t, mod, "Kim")
		secret := knockSecretOf(t, kim)
		kim2 := srv.dial(t)
		go func() { _, _ = mod.Send("admit", map[string]any{"participantId": kimID}) }()
		_ = kim2.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Kim", "replaceKnock": secret})
		m := nextOf(t, kim2, "welcome", "lobby")
		switch {
		case m.Type == "welcome":
			// The admit first: the knock again took the membership or the admission over.
			if !strings.Contains(string(m.Payload), `"participantId":"`+kimID+`"`) {
				t.Fatalf("round %d: welcome %s; want the admitted knock's membership", i, m.Payload)
			}
			if reason, _ := byeReason(t, kim); reason != "replaced" {
				t.Fatalf("round %d: the old connection: bye %q", i, reason)
			}
		case continued(kim2):
			// The knock again first: the admit of the old knock lets this one in.
			if reason, _ := byeReason(t, kim); reason != "replaced" {
				t.Fatalf("round %d: the old knock: bye %q", i, reason)
			}
			if err := kim2.AwaitWelcome(ctx); err != nil {
				t.Fatalf("round %d: the admit of the replaced knock: %v", i, err)
			}
		default:
			t.Fatalf("round %d: the knock again is a new knock: %s", i, m.Raw)
		}
		conntest.Eventually(t, "the old knock gone from the waiting list", func() bool {
			_, ok := waitingEntries(mod)[kimID]
			return !ok
		})
		_ = mod.Leave(ctx)
		kim.Close()
		kim2.Close()
	}
}

// TestKnockAgainLoopIsBounded: replacing a knock is not a knock from its address (a
// neighbour's knocks must not cost the person its place), but each replacement is a
// new knock to every moderator's page (a new id in the waiting list, its link to check
// again, a chime): one knock's holder who replaces it in a loop was held back by
// nothing, past the address's knock limit. A knock and the knocks that replace it share
// a small budget of their own; beyond it a join with the secret is judged as a new
// knock, which its address's limit holds back.
func TestKnockAgainLoopIsBounded(t *testing.T) {
	clock := newFakeClock() // it never moves: no budget fills up again
	srv := newTestServerWith(t, signaling.Config{Clock: clock, MaxConnsPerAddr: 3})
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModerator(t, mt, "Mod")
	from := net.ParseIP("127.0.0.2") // the moderator's address is another
	loop := srv.dialFrom(t, from)
	_ = loop.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Looper"})
	expectType(t, loop, "lobby")
	waitingID(t, mod, "Looper")
	secret := knockSecretOf(t, loop)
	replaced, refused := 0, 0
	for range 20 {
		c := redial(t, srv, from) // the last one's slot is given back as its session ends
		_ = c.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Looper", "replaceKnock": secret})
		m := nextOf(t, c, "lobby", "error")
		if m.Type == "error" {
			refused++
			c.Close()
			continue
		}
		if !continued(c) {
			c.Close() // a new knock: the address's limit counted it
			continue
		}
		replaced++
		if reason, _ := byeReason(t, loop); reason != "replaced" {
			t.Fatalf("the replaced knock: bye %q", reason)
		}
		loop.Close()
		loop, secret = c, knockSecretOf(t, c)
	}
	if replaced > 5 || refused == 0 {
		t.Fatalf("a knock replaced %d times in a row and %d joins held back, at one instant", replaced, refused)
	}
}

// nextOf is the next message c receives of one of the types.
func nextOf(t *testing.T, c *testclient.Client, types ...string) testclient.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %v: %v", types, err)
		}
		if slices.Contains(types, m.Type) {
			return m
		}
	}
}

// redial is dialFrom, tried again while the address's connections are all taken (one
// closing gives its slot back once its session has ended).
func redial(t *testing.T, srv *testServer, from net.IP) *testclient.Client {
	t.Helper()
	var c *testclient.Client
	conntest.Eventually(t, "a connection slot", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
		defer cancel()
		var err error
		c, err = testclient.DialFrom(ctx, srv.wsURL, from)
		return err == nil
	})
	c.UseKnockBook(srv.knockBook())
	t.Cleanup(c.Close)
	return c
}

// TestKnockAgainWhoseLobbyWasLost: a page's knock again replaced its old knock, but the
// page never got the new knock's lobby message (its path died right after the join, or
// the page gave the join up first) and so not its secret either. Its next knock again
// presents the secret it has, the first knock's: that must replace the knock standing
// for it now. With a new secret for each replacement it made a new knock beside that
// one, the ghost knock the replacement is there to prevent (and a new knock, so none at
// all in a meeting locked meanwhile).
func TestKnockAgainWhoseLobbyWasLost(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	mod := srv.joinModerator(t, mt, "Mod")
	kim := srv.knock(t, mt.MeetingID, "Kim", nil)
	kimID := waitingID(t, mod, "Kim")
	secret := knockSecretOf(t, kim)

	// The page's first knock again: the server replaces the knock; the page is not
	// behind this connection any more (it stays open: the server does not know).
	lost := srv.knock(t, mt.MeetingID, "Kim", map[string]any{"replaceKnock": secret})
	if reason, _ := byeReason(t, kim); reason != "replaced" {
		t.Fatalf("the first knock: bye %q", reason)
	}
	var lostID string
	conntest.Eventually(t, "the knock again in the waiting list", func() bool {
		for id := range waitingEntries(mod) {
			if id != kimID {
				lostID = id
			}
		}
		return lostID != ""
	})

	// The next knock again, with the only secret the page has.
	if _, err := mod.Send("update_settings", map[string]any{"locked": true}); err != nil {
		t.Fatal(err)
	}
	expectType(t, mod, "settings")
	kim3 := srv.dial(t)
	_ = kim3.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Kim", "replaceKnock": secret})
	if m := nextOf(t, kim3, "lobby", "bye", "error"); m.Type != "lobby" || !continued(kim3) {
		t.Fatalf("the page's next knock again: %s", m.Raw)
	}
	if reason, _ := byeReason(t, lost); reason != "replaced" {
		t.Fatalf("the knock whose lobby was lost: bye %q", reason)
	}
	conntest.Eventually(t, "one knock of Kim's", func() bool {
		entries := waitingEntries(mod)
		_, stands := entries[lostID]
		return len(entries) == 1 && !stands
	})
	for id, first := range continuesOf(mod) {
		if first != kimID {
			t.Fatalf("the third knock %s continues %q; want the first, %s", id, first, kimID)
		}
	}
}

// TestTwoKnocksAgainAtOnce: two joins with the same secret on their way at once (a
// page that gave the first up, its path stuck, and knocked again) end with one knock
// standing for the person: the later one replaces the knock the earlier one put in the
// old one's place, though it had found the old one.
func TestTwoKnocksAgainAtOnce(t *testing.T) {
	srv := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 20 {
		mt := srv.createMeetingWith(t, `{"e2ee":false,"password":"pw"}`)
		mod := srv.joinModerator(t, mt, "Mod")
		kim := srv.knock(t, mt.MeetingID, "Kim", map[string]any{"password": "pw"})
		waitingID(t, mod, "Kim")
		secret := knockSecretOf(t, kim)
		a, b := srv.dial(t), srv.dial(t)
		// Both joins wait behind the meeting's lock (opening the meeting takes it), so
		// that both are likely to find the old knock before either takes its place.
		release := signaling.HoldMeeting(srv.sig, mt.MeetingID)
		_ = a.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Kim", "password": "pw", "replaceKnock": secret})
		_ = b.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Kim", "password": "pw", "replaceKnock": secret})
		conntest.Eventually(t, "both joins waiting behind the meeting's lock", func() bool {
			return goroutinesWaiting("[sync.Mutex.Lock", "signaling.(*Session).join(") == 2
		})
		release()
		expectType(t, a, "lobby")
		expectType(t, b, "lobby")
		if !continued(a) || !continued(b) {
			t.Fatalf("round %d: a knock again was judged as a new knock, beside the other", i)
		}
		byeReason(t, kim)
		conntest.Eventually(t, "one knock of Kim's", func() bool { return len(waitingEntries(mod)) == 1 })
		_ = mod.Leave(ctx)
		a.Close()
		b.Close()
	}
}
