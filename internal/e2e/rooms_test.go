package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"conclave/internal/browsertest"
)

type roomLinksShown struct {
	Title       string `json:"title"`
	Participant string `json:"participant"`
	Moderator   string `json:"moderator"`
}

// roomsPage opens the landing page with a host link (fragment after #) and waits
// until its rooms card has listed n rooms.
func roomsPage(ctx context.Context, t *testing.T, srv *server, fragment string, n int) browsertest.Tab {
	t.Helper()
	tab, err := browsertest.Shared(t, browsertest.KindChromium).NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := browsertest.OnNewDocument(ctx, tab, recordFetchJS); err != nil {
		t.Fatal(err)
	}
	if err := tab.Navigate(ctx, srv.url+"/#"+fragment); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `!document.querySelector("#rooms-body").hidden && document.querySelectorAll("#room-list .room-item").length === `+jsNumber(n)+
		` && (`+jsNumber(n)+` > 0 || !document.querySelector("#rooms-empty").hidden)`); err != nil {
		t.Fatalf("the rooms card did not list %d rooms: %v", n, err)
	}
	return tab
}

func jsNumber(n int) string { return strconv.Itoa(n) }

func firstRoom(ctx context.Context, t *testing.T, tab browsertest.Tab) roomLinksShown {
	t.Helper()
	var got roomLinksShown
	if err := tab.Eval(ctx, `(() => { const li = document.querySelector("#room-list .room-item");
		const v = (s) => { const e = li.querySelector(s); return e ? e.value : ""; };
		return {title: li.querySelector(".room-title").textContent, participant: v(".room-participant"), moderator: v(".room-moderator")}; })()`, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestRoomLinksShownAgain: a host link with rk creates a room with a title on the
// landing page; the server gets only ciphertext; after a reload the list shows the
// decrypted title and the very same links, and a tab opening the participant link
// joins. Without rk the title is unreadable and the page offers a host link with a
// new rk. Rotating (confirmed) gives new links, and the old one then leads nowhere.
func TestRoomLinksShownAgain(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()

	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	rk := base64.RawURLEncoding.EncodeToString(b)
	host := "host=e2ehost." + hostSecret + "&rk=" + rk

	tab := roomsPage(ctx, t, srv, host, 0)
	if err := tab.Eval(ctx, `(() => {
		document.querySelector("#room-new").open = true;
		document.querySelector("#room-title").value = "Board meeting";
		document.querySelector("#room-lobby").checked = false;
		document.querySelector("#btn-create-room").click();
		return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `document.querySelectorAll("#room-list .room-item").length === 1`); err != nil {
		t.Fatalf("the room was not listed: %v", err)
	}
	first := firstRoom(ctx, t, tab)
	if first.Title != "Board meeting" || !strings.Contains(first.Participant, "/m/") || !strings.Contains(first.Participant, "#k=") ||
		!strings.HasPrefix(first.Moderator, first.Participant+"&mod=") {
		t.Fatalf("first view: %+v", first)
	}
	var bodies []string
	if err := tab.Eval(ctx, `window.__bodies`, &bodies); err != nil {
		t.Fatal(err)
	}
	for _, body := range bodies {
		if strings.Contains(body, "Board") || strings.Contains(body, rk) || strings.Contains(body, fragmentOf(first.Participant)[2:]) {
			t.Fatalf("a request carried the title, rk or the room key: %s", body)
		}
	}

	again := firstRoom(ctx, t, roomsPage(ctx, t, srv, host, 1))
	if again != first {
		t.Fatalf("after a reload the room shows %+v, first %+v", again, first)
	}

	// The room's invitation: its title, the time typed for this meeting, the participant
	// link, and never the moderator link.
	if err := tab.Eval(ctx, `document.querySelector("#room-list .room-invite").click()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `!!document.querySelector("#room-list .room-invitation-time")`); err != nil {
		t.Fatalf("no invitation box: %v", err)
	}
	if err := tab.Eval(ctx, `(() => {
		const time = document.querySelector("#room-list .room-invitation-time");
		time.value = "Friday 9:30";
		time.dispatchEvent(new Event("input", { bubbles: true }));
		return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
	var invitation string
	if err := tab.Eval(ctx, `document.querySelector("#room-list .room-invitation-text").value`, &invitation); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Board meeting", "Friday 9:30", first.Participant} {
		if !strings.Contains(invitation, want) {
			t.Errorf("the room's invitation lacks %q:\n%s", want, invitation)
		}
	}
	if strings.Contains(invitation, "mod=") {
		t.Errorf("the room's invitation carries the moderator link:\n%s", invitation)
	}

	// Without rk: the title cannot be read, no links, and a host link with a new rk to bookmark.
	noRk := roomsPage(ctx, t, srv, "host=e2ehost."+hostSecret, 1)
	var blind struct {
		Title string `json:"title"`
		Links int    `json:"links"`
		Host  string `json:"host"`
	}
	if err := noRk.Eval(ctx, `({title: document.querySelector(".room-title").textContent, links: document.querySelectorAll(".room-participant").length,
		host: document.querySelector("#rk-new").hidden ? "" : document.querySelector("#host-link").value})`, &blind); err != nil {
		t.Fatal(err)
	}
	if blind.Title != "(title unreadable)" || blind.Links != 0 || !strings.Contains(blind.Host, "#host=e2ehost.") || !strings.Contains(blind.Host, "&rk=") || strings.Contains(blind.Host, rk) {
		t.Fatalf("without rk: %+v", blind)
	}

	joinURL(ctx, t, browsertest.KindChromium, first.Participant, "Ada", false)

	if err := tab.Eval(ctx, `document.querySelector("#room-list .room-rotate").click()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `document.querySelector("#confirm-dialog").open`); err != nil {
		t.Fatalf("rotating did not ask first: %v", err)
	}
	if err := tab.Eval(ctx, `document.querySelector("#confirm-ok").click()`, nil); err != nil {
		t.Fatal(err)
	}
	quoted := jsString(first.Participant)
	if err := tab.WaitFor(ctx, `(() => { const e = document.querySelector("#room-list .room-participant"); return !!e && e.value !== `+quoted+`; })()`); err != nil {
		t.Fatalf("no new links after rotating: %v", err)
	}
	rotated := firstRoom(ctx, t, tab)
	if rotated.Title != "Board meeting" || rotated.Participant == first.Participant || rotated.Moderator == first.Moderator {
		t.Fatalf("after rotating: %+v", rotated)
	}

	// Change the title and make it one-off: the list shows the new title and an expiry.
	if err := tab.Eval(ctx, `(() => {
		const li = document.querySelector("#room-list .room-item");
		li.querySelector(".room-edit").click();
		const f = li.querySelector(".room-edit-form");
		f.querySelector(".room-title").value = "Board meeting (moved)";
		f.querySelector(".room-oneoff").checked = true;
		const d = new Date(Date.now() + 3 * 86400000);
		const p = (n) => String(n).padStart(2, "0");
		f.querySelector(".room-expires").value = d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T10:30";
		f.querySelector(".room-save").click();
		return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := tab.WaitFor(ctx, `(() => { const li = document.querySelector("#room-list .room-item");
		return li.querySelector(".room-title").textContent === "Board meeting (moved)" && li.querySelector(".room-facts").textContent.startsWith("Until "); })()`); err != nil {
		t.Fatalf("the change did not show: %v", err)
	}
	if changed := firstRoom(ctx, t, tab); changed.Participant != rotated.Participant {
		t.Fatalf("a change altered the links: %+v", changed)
	}

	old := openMeeting(ctx, t, browsertest.KindChromium, first.Participant)
	if err := old.WaitFor(ctx, `document.body.dataset.state === "error" && document.querySelector("#meeting-error").dataset.code === "unknown_meeting"`); err != nil {
		t.Fatalf("the old link still leads somewhere: %v", err)
	}
	var text string
	if err := old.Eval(ctx, `document.querySelector("#meeting-error").textContent`, &text); err != nil || !strings.Contains(text, "does not lead to a meeting") {
		t.Fatalf("old link's page says %q (%v)", text, err)
	}
}
