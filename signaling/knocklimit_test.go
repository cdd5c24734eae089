package signaling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"conclave/internal/conntest"
	"conclave/secret"
	"conclave/signaling"
)

// TestKnocksAreRateLimitedPerAddress: one address knocks as many times at once as it
// may hold connections, then once every two seconds: a knock and leave loop is told to
// try again later (too_many_attempts with a retry time). Another address knocks as
// before, and the first one again once the clock has moved on.
func TestKnocksAreRateLimitedPerAddress(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, MaxConnsPerAddr: 3})
	mt := srv.createMeetingWith(t, `{}`)
	srv.joinModerator(t, mt, "Mod")
	loop := net.ParseIP("127.0.0.2")
	knockAndLeave := func(from net.IP) (code string, retry time.Duration) {
		t.Helper()
		c := srv.dialFrom(t, from)
		if err := c.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Looper"}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for {
			m, err := c.Next(ctx)
			if err != nil {
				t.Fatalf("no answer to the knock: %v", err)
			}
			switch m.Type {
			case "lobby":
				_ = c.Leave(ctx)
				c.Close()
				return "", 0
			case "error":
				var p struct {
					Code         string
					RetryAfterMs int64
				}
				_ = json.Unmarshal(m.Payload, &p)
				c.Close()
				return p.Code, time.Duration(p.RetryAfterMs) * time.Millisecond
			}
		}
	}
	for i := range 3 {
		if code, _ := knockAndLeave(loop); code != "" {
			t.Fatalf("knock %d refused: %s", i+1, code)
		}
	}
	code, retry := knockAndLeave(loop)
	if code != "too_many_attempts" || retry < time.Second || retry > 2*time.Second {
		t.Fatalf("the fourth knock at once: %q, retry after %v; want too_many_attempts within 2 s", code, retry)
	}
	if code, _ := knockAndLeave(net.ParseIP("127.0.0.3")); code != "" {
		t.Fatalf("another address was refused: %s", code)
	}
	clock.Advance(2 * time.Second)
	if code, _ := knockAndLeave(loop); code != "" {
		t.Fatalf("a knock two seconds later refused: %s", code)
	}
	if code, _ := knockAndLeave(loop); code != "too_many_attempts" {
		t.Fatalf("the next one at once: %q", code)
	}
	// A moderator with its secret comes in from that address all the same.
	host := srv.dialFrom(t, loop)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := host.JoinWith(ctx, map[string]any{"meetingId": mt.MeetingID, "name": "Host", "moderatorSecret": mt.ModeratorSecret}); err != nil {
		t.Fatalf("the moderator was held back by the knocks of its address: %v", err)
	}
}

// TestAddressesForgottenOnAQuietServer: the address of a moderator who joined with the
// right secret is not kept for it, and the knock limit forgets it within KnockMemory;
// one wrong password is kept ForgetAfter after it, and then forgotten as well, though
// nobody knocks or guesses meanwhile (the janitor sweeps).
func TestAddressesForgottenOnAQuietServer(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, MaxConnsPerAddr: 3})
	mt := srv.createMeetingWith(t, `{"password":"right one"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := srv.joinModeratorFrom(t, mt, "Mod", net.ParseIP("127.0.0.77"))
	_ = c.Leave(ctx)
	c.Close()
	wrong := srv.dialFrom(t, net.ParseIP("127.0.0.78"))
	_ = wrong.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Typo", "password": "wrong"})
	if _, err := wrong.Next(ctx); err != nil {
		t.Fatal(err)
	}
	wrong.Close()
	held := func(after time.Duration, want int) {
		t.Helper()
		for step := time.Duration(0); step < after; step += time.Minute {
			clock.Advance(time.Minute) // the janitor runs every 5 s of it
		}
		// A janitor round the steps outran read the clock before the last of them and
		// arms the next round after it, where no step fires it: the clock moves on a
		// second at a time, ten at most (two rounds), until a round swept at the time
		// the steps reached. (Without, the wait timed out once on a loaded machine.)
		extra := 0
		conntest.Eventually(t, fmt.Sprintf("%d address groups held after %v", want, after), func() bool {
			if signaling.HeldAddressGroups(srv.sig) == want {
				return true
			}
			if extra < 10 {
				clock.Advance(time.Second)
				extra++
			}
			return false
		})
	}
	held(signaling.KnockMemory(3), 1) // the wrong password's
	held(secret.ForgetAfter, 0)
}

// TestKnocksOfOneIPv6SiteAreLimitedTogether: the /64s of one IPv6 /48 share a budget of
// knocks 16 times a /64's (secret.SiteFactor), as their password guesses do: with 2 at
// once a /64, 17 /64s of one /48 knock 32 times at once, not 34, while a /64 of
// another /48 still knocks, and the first /48 again once the clock has moved on. (Behind
// a trusted proxy, whose X-Forwarded-For names the client: loopback has one IPv6 address.)
func TestKnocksOfOneIPv6SiteAreLimitedTogether(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServerWith(t, signaling.Config{Clock: clock, MaxConnsPerAddr: 2, TrustForwardedFor: true})
	mt := srv.createMeetingWith(t, `{"e2ee":false}`)
	srv.joinModerator(t, mt, "Mod")
	knock := func(client string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
		defer cancel()
		ws, _, err := websocket.DefaultDialer.DialContext(ctx, srv.wsURL, http.Header{"X-Forwarded-For": {client}})
		if err != nil {
			t.Fatalf("dial as %s: %v", client, err)
		}
		defer ws.Close()
		join := map[string]any{"type": "join", "payload": map[string]any{"version": 1, "meetingId": mt.MeetingID, "name": "Knocker"}}
		if err := ws.WriteJSON(join); err != nil {
			t.Fatal(err)
		}
		for {
			var m struct {
				Type    string
				Payload struct{ Code string }
			}
			if err := ws.ReadJSON(&m); err != nil {
				t.Fatalf("knock as %s: %v", client, err)
			}
			switch m.Type {
			case "lobby":
				return ""
			case "error":
				return m.Payload.Code
			}
		}
	}
	let := 0
	for i := range 17 {
		for range 2 {
			if knock(fmt.Sprintf("2001:db8:1:%x::7", i)) == "" {
				let++
			}
		}
	}
	if let != 32 {
		t.Fatalf("17 /64s of one /48 knocked %d times at once, want 32 (16 times a /64's 2)", let)
	}
	if code := knock("2001:db8:2::7"); code != "" {
		t.Fatalf("a /64 of another /48 was refused: %s", code)
	}
	clock.Advance(time.Second / secret.SiteFactor * 2) // one knock more for the site
	if code := knock("2001:db8:1:ff::7"); code != "" {
		t.Fatalf("the /48 once the clock moved on: %s", code)
	}
	if code := knock("2001:db8:1:fe::7"); code != "too_many_attempts" {
		t.Fatalf("the /48's next knock at once: %q, want too_many_attempts", code)
	}
}
