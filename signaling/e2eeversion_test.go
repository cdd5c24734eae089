package signaling_test

import (
	"fmt"
	"strings"
	"testing"

	"conclave/internal/conntest"
	"conclave/signaling"
)

// TestE2EEVersionRefused: a page of another end-to-end encryption format cannot join an
// encrypted meeting. A join without the field, or with another version, is refused with
// e2ee_version and close 4400 before it knocks: the moderator is asked about nobody.
// The same page with the server's version knocks; a meeting without E2EE asks for no
// version.
func TestE2EEVersionRefused(t *testing.T) {
	srv := newTestServer(t)
	mt := srv.createMeetingWith(t, `{}`)
	mod := srv.joinModerator(t, mt, "Mod")
	for _, v := range []any{nil, 1, 2, 3, 4, 5, 7, "6"} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			c := srv.dial(t)
			if err := c.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "Old page", "e2ee": v}); err != nil {
				t.Fatal(err)
			}
			code, _ := expectError(t, c)
			want := "e2ee_version"
			if _, isString := v.(string); isString {
				want = "bad_message" // a payload of the wrong shape
			}
			if code != want {
				t.Fatalf("code %s, want %s", code, want)
			}
			if want == "e2ee_version" {
				if got := waitClosed(t, c); got != signaling.CloseUnsupportedVersion {
					t.Fatalf("close code %d", got)
				}
			}
		})
	}
	c := srv.dial(t)
	if err := c.SendJoin(map[string]any{"meetingId": mt.MeetingID, "name": "New page"}); err != nil {
		t.Fatal(err)
	}
	expectType(t, c, "lobby")
	// The moderator's waiting lists, in order: the new page is the first anyone knocked.
	conntest.Eventually(t, "the new page on the waiting list", func() bool {
		names, _ := lastWaiting(mod)
		return len(names) == 1
	})
	for _, m := range mod.All() {
		if m.Type == "waiting_list" && strings.Contains(string(m.Payload), "Old page") {
			t.Fatalf("the moderator was asked about an old page: %s", m.Payload)
		}
	}

	plain := srv.createMeetingWith(t, `{"e2ee":false,"settings":{"lobby":false}}`)
	p := srv.dial(t)
	if err := p.SendJoin(map[string]any{"meetingId": plain.MeetingID, "name": "Any page", "e2ee": nil}); err != nil {
		t.Fatal(err)
	}
	expectType(t, p, "welcome")
}
