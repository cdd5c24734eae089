package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
)

// TestWebinarKnocksFromOneAddress: the real server with only -max-participants 150 set,
// the people of a webinar behind one address (a school's NAT) all knocking at the hour:
// 60 wait at once from that address, past a meeting of 100's bounds (40 from one
// address), and the 61st is told the waiting room is full: one address still cannot
// fill it.
func TestWebinarKnocksFromOneAddress(t *testing.T) {
	srv := start(t, "-max-participants", "150")
	key := regexp.MustCompile(`#host=(\S+)`).FindStringSubmatch(srv.stdout)
	if key == nil {
		t.Fatalf("no one-time key in %q", srv.stdout)
	}
	var made struct {
		MeetingID string `json:"meetingId"`
	}
	if code := srv.api(t, http.MethodPost, "/api/meetings", key[1], `{"e2ee":false}`, &made); code != http.StatusCreated {
		t.Fatalf("create meeting: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait) // a bound on hanging
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(srv.url, "http") + "ws"
	knock := func(i int) *testclient.Client {
		t.Helper()
		c, err := testclient.Dial(ctx, wsURL)
		if err != nil {
			t.Fatalf("knock %d: %v", i, err)
		}
		t.Cleanup(c.Close)
		if err := c.SendJoin(map[string]any{"meetingId": made.MeetingID, "name": "Pupil"}); err != nil {
			t.Fatalf("knock %d: %v", i, err)
		}
		return c
	}
	// Two fifths of a waiting room of 150 from one address.
	const fromOneAddress = 60
	for i := range fromOneAddress {
		if m, err := knock(i).Next(ctx); err != nil || m.Type != "lobby" {
			t.Fatalf("knock %d of %d from one address: %+v, %v; want lobby", i+1, fromOneAddress, m, err)
		}
	}
	c := knock(fromOneAddress)
	m, err := c.Next(ctx)
	if err != nil || m.Type != "bye" || !strings.Contains(string(m.Payload), `"lobby_full"`) {
		t.Fatalf("knock %d from one address: %+v, %v; want bye lobby_full", fromOneAddress+1, m, err)
	}
}
