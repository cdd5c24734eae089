package e2e

import (
	"strings"
	"testing"

	"conclave/internal/browsertest"
	"conclave/web"
)

// TestInvitationKeepsPasswordOut: a host creates a meeting with a password on the
// landing page (Chromium), types a title and a time, and the invitation it offers holds
// them, the participant link and the operator's privacy link, says that the password
// comes separately, and does not contain the password. The landing page's notice line
// names the operator, and /privacy shows the operator's contacts as text.
func TestInvitationKeepsPasswordOut(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	const privacyURL = "https://school.example/privacy"
	srv := startServerWith(t, serverOptions{notice: web.Notice{Organisation: "Example <b>School</b>", DataProtectionContact: "dpo@school.example", PrivacyURL: privacyURL}})
	ctx, cancel := testContext()
	defer cancel()

	tab, err := browsertest.Shared(t, browsertest.KindChromium).NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := tab.Navigate(ctx, srv.url+"/#host=e2ehost."+hostSecret); err != nil {
		t.Fatal(err)
	}
	const password = "pw-Zebra-4711"
	if err := tab.Eval(ctx, `(() => {
		document.querySelector("#new-password").value = "`+password+`";
		document.querySelector("#btn-new-meeting").click();
		return true;
	})()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `!document.querySelector("#create-result").hidden && document.querySelector("#invitation").value.includes("Privacy notice")`); err != nil {
		t.Fatalf("no invitation: %v", err)
	}
	if err := tab.Eval(ctx, `(() => {
		for (const [sel, v] of [["#invitation-title", "Maths, class 7b"], ["#invitation-time", "Monday 10:00"]]) {
			const f = document.querySelector(sel);
			f.value = v;
			f.dispatchEvent(new Event("input", { bubbles: true }));
		}
		return true;
	})()`, nil); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Invitation  string `json:"invitation"`
		Participant string `json:"participant"`
		Moderator   string `json:"moderator"`
		Hint        bool   `json:"hint"`
		Line        string `json:"line"`
	}
	if err := tab.Eval(ctx, `({invitation: document.querySelector("#invitation").value,
		participant: document.querySelector("#link-participant").value,
		moderator: document.querySelector("#link-moderator").value,
		hint: !document.querySelector("#invitation-password-hint").hidden,
		line: document.querySelector("#notice-line").textContent})`, &got); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Participant, "/m/") || !strings.Contains(got.Participant, "#k=") {
		t.Fatalf("participant link %q", got.Participant)
	}
	for _, want := range []string{got.Participant, "Maths, class 7b", "When: Monday 10:00", "Privacy notice: " + privacyURL, "password"} {
		if !strings.Contains(got.Invitation, want) {
			t.Errorf("the invitation lacks %q:\n%s", want, got.Invitation)
		}
	}
	if strings.Contains(got.Invitation, password) || strings.Contains(got.Invitation, "mod=") || strings.Contains(got.Invitation, got.Moderator) {
		t.Errorf("the invitation gives away the password or the moderator link:\n%s", got.Invitation)
	}
	if !got.Hint {
		t.Error("no hint to send the password separately")
	}
	if !strings.Contains(got.Line, "Provided by Example <b>School</b>") || !strings.Contains(got.Line, "Privacy") {
		t.Errorf("notice line %q", got.Line)
	}

	// The privacy page shows the operator's contacts as text, never as markup.
	if err := tab.Navigate(ctx, srv.url+"/privacy"); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `(() => {
		const c = document.querySelector('.notice-section[data-part="controller"]');
		return !!c && c.textContent.includes("Example <b>School</b>") && c.textContent.includes("dpo@school.example") &&
			!c.querySelector("b") && document.querySelector(".notice-privacy-url").href === "`+privacyURL+`";
	})()`); err != nil {
		t.Fatalf("the privacy page does not show the notice: %v", err)
	}
}

// TestUnknownMeetingBeforeName: a link to a meeting that does not exist (Firefox)
// says so at once: the page never shows the pre-join screen, never asks for a name and
// never asks for the camera or microphone.
func TestUnknownMeetingBeforeName(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()

	tab, err := browsertest.Shared(t, browsertest.KindFirefox).NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	// Record every state the page passes through and every request for media.
	if err := browsertest.OnNewDocument(ctx, tab, `(() => {
		window.__states = [];
		window.__media = 0;
		const gum = navigator.mediaDevices && navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
		if (gum) navigator.mediaDevices.getUserMedia = (c) => { window.__media++; return gum(c); };
		new MutationObserver(() => window.__states.push(document.body.dataset.state))
			.observe(document.documentElement, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
	})()`); err != nil {
		t.Fatal(err)
	}
	if err := tab.Navigate(ctx, srv.url+"/m/AAAAAAAAAAAAAAAAAAAAAA"); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "error" && document.querySelector("#meeting-error").dataset.code === "unknown_meeting"`); err != nil {
		t.Fatalf("no unknown-meeting message: %v", err)
	}
	var got struct {
		Text   string   `json:"text"`
		States []string `json:"states"`
		Media  int      `json:"media"`
		Name   bool     `json:"name"`
	}
	if err := tab.Eval(ctx, `({text: document.querySelector("#meeting-error").textContent, states: window.__states,
		media: window.__media, name: document.querySelector("#prejoin-name").checkVisibility()})`, &got); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Text, "does not lead to a meeting") || got.Name || got.Media != 0 {
		t.Fatalf("page: %+v", got)
	}
	for _, s := range got.States {
		if s == "prejoin" || s == "joining" {
			t.Fatalf("the page showed the pre-join screen: states %v", got.States)
		}
	}
}
