package signaling_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"

	"conclave/internal/conntest"
	"conclave/secret"
	"conclave/signaling"
)

// A server behind a stateless translator (SIIT, or NAT64 in front of an IPv6-only
// server) sees each IPv4 client at an address of 64:ff9b::/96 whose last 32 bits are
// the client's IPv4 address. The tests here come in through a trusted proxy, whose
// X-Forwarded-For names such addresses: loopback has none of them.
const (
	translatedGuesser = "64:ff9b::198.51.100.1" // 198.51.100.1 through the translator
	translatedClient  = "64:ff9b::203.0.113.9"  // 203.0.113.9 through the translator
)

func forwardedFor(client string) http.Header { return http.Header{"X-Forwarded-For": {client}} }

// TestTranslatedIPv4ClientsKnockOnTheirOwn: one IPv4 client through the translator
// knocks and leaves until it is told to wait, and then holds every connection its
// address may; another IPv4 client through the same translator still connects and
// knocks. The first one's IPv4 address, native, shares its budgets. Before, every
// translated client was one IPv6 /64, and the first one's knocks and connections
// were everyone's.
func TestTranslatedIPv4ClientsKnockOnTheirOwn(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{Clock: newClock(), MaxConnsPerAddr: 2, TrustForwardedFor: true})
	mt := srv.createMeetingWith(t, `{}`)
	srv.joinModerator(t, mt, "Mod")
	knock := func(client string) string {
		t.Helper()
		code := guessJoin(t, srv, loop(1), forwardedFor(client), map[string]any{"meetingId": mt.MeetingID})
		// Its connection gone (the moderator's alone is held), so that the next
		// knock is judged by the knocks' budget, not refused for the connections'.
		conntest.Eventually(t, "the knock's connection let go", func() bool {
			sessions, _ := signaling.ConnsHeld(srv.sig)
			return sessions == 1
		})
		return code
	}
	for i := range 2 {
		if code := knock(translatedGuesser); code != "" {
			t.Fatalf("the first client's knock %d refused: %q", i+1, code)
		}
	}
	if code := knock(translatedGuesser); code != "too_many_attempts" {
		t.Fatalf("the first client's third knock at once: %q, want too_many_attempts", code)
	}
	if code := knock(translatedClient); code != "" {
		t.Fatalf("another IPv4 client through the translator was refused its knock for the first one's: %q", code)
	}
	if code := knock("198.51.100.1"); code != "too_many_attempts" {
		t.Fatalf("the first client's IPv4 address, native, knocked on a budget of its own: %q", code)
	}

	// The first client holds the connections its address may.
	dial := func(client string) (*websocket.Conn, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
		defer cancel()
		ws, resp, err := websocket.DefaultDialer.DialContext(ctx, srv.wsURL, forwardedFor(client))
		if err != nil {
			if resp == nil {
				t.Fatalf("dial as %s: %v", client, err)
			}
			return nil, resp.StatusCode
		}
		t.Cleanup(func() { _ = ws.Close() })
		return ws, http.StatusSwitchingProtocols
	}
	for i := range 2 {
		if _, status := dial(translatedGuesser); status != http.StatusSwitchingProtocols {
			t.Fatalf("the first client's connection %d refused: %d", i+1, status)
		}
	}
	if _, status := dial(translatedGuesser); status != http.StatusTooManyRequests {
		t.Fatalf("the first client's third connection: %d, want %d", status, http.StatusTooManyRequests)
	}
	if _, status := dial(translatedClient); status != http.StatusSwitchingProtocols {
		t.Fatalf("another IPv4 client through the translator was refused a connection for the first one's: %d", status)
	}
}

// TestTranslatedIPv4ClientsGuessOnTheirOwn: one IPv4 client through the translator
// guesses a meeting's password until it must wait; another IPv4 client through the
// same translator gets in with the right password at once. Before, both were one /64
// and the guesser's wait was the other's.
func TestTranslatedIPv4ClientsGuessOnTheirOwn(t *testing.T) {
	srv := newTestServerWith(t, signaling.Config{Clock: newClock(), TrustForwardedFor: true})
	mt := srv.createMeetingWith(t, `{"password":"correct horse battery"}`)
	srv.joinModerator(t, mt, "Mod")
	for i := 0; i <= secret.FreeFailures; i++ {
		if code := guessJoin(t, srv, loop(1), forwardedFor(translatedGuesser), withPassword(mt.MeetingID, "guess")); code != "wrong_password" {
			t.Fatalf("the guesser's guess %d: %q", i+1, code)
		}
	}
	if code := guessJoin(t, srv, loop(1), forwardedFor(translatedGuesser), withPassword(mt.MeetingID, "correct horse battery")); code != "too_many_attempts" {
		t.Fatalf("the guesser after %d wrong guesses: %q, want too_many_attempts", secret.FreeFailures+1, code)
	}
	if code := guessJoin(t, srv, loop(1), forwardedFor(translatedClient), withPassword(mt.MeetingID, "correct horse battery")); code != "" {
		t.Fatalf("another IPv4 client through the translator was refused its right password for the guesser's: %q", code)
	}
}
