package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"conclave/internal/browsertest"
	"conclave/internal/testclient"
)

// TestStalePasswordFromAnotherBrowserIsRefused: two moderators of one meeting, Ada
// (Chromium) and Bo (Firefox), both have the settings panel open. Bo begins to type a
// password; Ada then sets hers and is told it is saved; Bo, whose password was begun on
// the settings before Ada's, presses Set after Ada's change has reached his page. The
// server refuses his (settings_changed, signaling/PROTOCOL.md "Two moderators at
// once"): his page says another moderator changed the password and never "Password
// saved", his typed password stays; Ada's password is the one in force (a Go client
// gets in with it and is refused with Bo's) and Ada's page is never told that her
// password was replaced. Without the server's revision check Bo is told "Password
// saved", his password holds and Ada is told hers no longer opens the meeting.
func TestStalePasswordFromAnotherBrowserIsRefused(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	ctx, cancel := testContext()
	defer cancel()
	en := readCatalogue(t, "en")
	text := func(key string) string {
		s, ok := en[key].(string)
		if !ok || s == "" {
			t.Fatalf("no English text %s", key)
		}
		return s
	}
	saved, refused, replaced := text("settings.password.saved"), text("settings.password.refused.changed"), text("settings.password.changed-elsewhere")
	const adaPassword, boPassword = "ada's correct horse", "bo's battery staple"

	ada := joinModerator(ctx, t, srv, links, browsertest.KindChromium, "Ada")
	bo := joinModerator(ctx, t, srv, links, browsertest.KindFirefox, "Bo")
	for _, p := range []*participant{ada, bo} {
		waitFor(ctx, t, p, "the page is in English", `document.documentElement.lang === "en"`)
		clickIn(ctx, t, p, "#btn-settings")
		waitFor(ctx, t, p, "the settings panel opens without a password", `!document.querySelector("#settings-panel").hidden
			&& document.querySelector("#setting-password-state").dataset.set === "false"`)
		watchToasts(ctx, t, p)
	}

	// Bo begins to type first: his password is based on the settings before Ada's.
	typeInto(ctx, t, bo, "#setting-password", boPassword)
	waitFor(ctx, t, bo, "Set is enabled for the typed password", `!document.querySelector("#setting-password-save").disabled`)

	// Ada sets hers and is told it is saved; Bo's panel shows it arrived.
	typeInto(ctx, t, ada, "#setting-password", adaPassword)
	clickIn(ctx, t, ada, "#setting-password-save")
	waitFor(ctx, t, ada, "Ada is told her password is saved", seenToastJS(saved)+
		` && document.querySelector("#setting-password-state").dataset.set === "true"`)
	waitFor(ctx, t, bo, "Ada's password reaches Bo's panel", `document.querySelector("#setting-password-state").dataset.set === "true"
		&& document.querySelector("#setting-password").value === `+jsString(boPassword))

	// Now Bo presses Set on the password he began before Ada's came.
	clickIn(ctx, t, bo, "#setting-password-save")
	waitFor(ctx, t, bo, "Bo's password is answered", `document.querySelector("#setting-password-save").dataset.pending === undefined
		&& (`+seenToastJS(refused)+` || `+seenToastJS(saved)+`)`)
	var boSeen []string
	evalOK(ctx, t, bo, `window.__seenToasts`, &boSeen)
	if !containsText(boSeen, refused) || containsText(boSeen, saved) {
		t.Errorf("Bo's stale password: his page said %q, want the refusal %q and never %q", boSeen, refused, saved)
	}
	var field string
	evalOK(ctx, t, bo, `document.querySelector("#setting-password").value`, &field)
	if field != boPassword {
		t.Errorf("Bo's typed password is gone after the refusal: the field holds %q", field)
	}

	// Ada's password is the one in force: Bo's is refused at the door, hers gets in.
	if code := joinWithPassword(ctx, t, srv, links, boPassword); code != "wrong_password" {
		t.Errorf("a join with Bo's refused password got %q, want wrong_password", code)
	}
	guest := dialGuest(ctx, t, srv)
	if err := guest.JoinWith(ctx, map[string]any{"meetingId": links.MeetingID, "name": "e1.R3Vlc3Q", "password": adaPassword}); err != nil {
		t.Fatalf("a join with Ada's password was not admitted: %v", err)
	}
	// The guest's join reached Ada's page after anything Bo's change sent her (one
	// connection's messages arrive in order): her toasts are complete for this check.
	waitFor(ctx, t, ada, "the guest shows in Ada's meeting", fmt.Sprintf(`window.conclave.participants().some((p) => p.id === %q)`, guest.ParticipantID))
	var adaSeen []string
	evalOK(ctx, t, ada, `window.__seenToasts`, &adaSeen)
	if containsText(adaSeen, replaced) || containsText(adaSeen, refused) {
		t.Fatalf("Ada was told her password was replaced or refused: %q", adaSeen)
	}
}

// joinModerator opens the moderator link in a tab of kind and joins as name.
func joinModerator(ctx context.Context, t *testing.T, srv *server, links meetingLinks, kind browsertest.Kind, name string) *participant {
	t.Helper()
	p := joinURL(ctx, t, kind, srv.cameraOffURL(links, links.moderatorFragment()), name, false)
	waitFor(ctx, t, p, "joined as a moderator", `window.conclave.role === "moderator"`)
	return p
}

// typeInto types value into the field sel of p's page, as a person does (one input event).
func typeInto(ctx context.Context, t *testing.T, p *participant, sel, value string) {
	t.Helper()
	q, _ := json.Marshal(sel)
	evalOK(ctx, t, p, fmt.Sprintf(`(() => { const f = document.querySelector(%s); f.focus(); f.value = %s;
		f.dispatchEvent(new Event("input", { bubbles: true })); return true; })()`, q, jsString(value)), nil)
}

// seenToastJS is the check that watchToasts recorded a toast saying exactly text.
func seenToastJS(text string) string {
	return `window.__seenToasts.some((s) => s.trim() === ` + jsString(text) + `)`
}

func containsText(seen []string, text string) bool {
	for _, s := range seen {
		if strings.TrimSpace(s) == text {
			return true
		}
	}
	return false
}

// dialGuest connects a Go client to srv's signaling.
func dialGuest(ctx context.Context, t *testing.T, srv *server) *testclient.Client {
	t.Helper()
	c, err := testclient.Dial(ctx, "ws"+strings.TrimPrefix(srv.url, "http")+"/ws")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// joinWithPassword has a Go client join with password; the error code of the answer,
// or "welcome" when it was let in.
func joinWithPassword(ctx context.Context, t *testing.T, srv *server, links meetingLinks, password string) string {
	t.Helper()
	c := dialGuest(ctx, t, srv)
	if err := c.SendJoin(map[string]any{"meetingId": links.MeetingID, "name": "e1.V3Jvbmc", "password": password}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("no answer to a join: %v", err)
		}
		switch m.Type {
		case "welcome":
			return "welcome"
		case "error":
			var e struct {
				Code string `json:"code"`
			}
			if err := json.Unmarshal(m.Payload, &e); err != nil {
				t.Fatal(err)
			}
			return e.Code
		}
	}
}
