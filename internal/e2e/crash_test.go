package e2e

import (
	"context"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// TestKilledTabComesBack: a meeting page whose renderer the browser kills (a crash, a
// background tab killed for memory) gets no pagehide, and the tab brought back takes
// over from it: Maria, the moderator, comes back into the meeting as herself, under her
// own id and with her role, from the page's start, without the pre-join screen or a
// knock. Chromium only: Page.crash kills the renderer as a crash does (Target.closeTarget
// would close the tab); Firefox has no such call over BiDi. The tab comes back two ways:
// the crashed page's Reload, which Chromium reports as a reload; and a history
// navigation to the meeting's entry, back_forward, which is how a browser loads a killed
// or restored tab again. CDP cannot make Chromium load the current entry of a crashed
// tab again (Page.navigateToHistoryEntry of it loads nothing), so Back from another page
// opened in the crashed tab stands in: the same navigation type, the page before with
// no pagehide; TestBackToTheMeetingDoesNotResume is the same Back after a pagehide, which
// must forget. Discarding a tab cannot be done here: CDP has no call for it and headless
// Chromium serves no chrome:// page (chrome://discards fails with ERR_INVALID_URL).
func TestKilledTabComesBack(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	srv := startServerWith(t, serverOptions{resumeGrace: 10 * time.Minute})
	links := srv.createMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	for _, way := range []struct {
		name, navType string
		bringBack     func(context.Context, *testing.T, *participant)
	}{
		{"reload", "reload", func(ctx context.Context, t *testing.T, p *participant) {
			if err := browsertest.ReloadPage(ctx, p.tab); err != nil {
				t.Fatal(err)
			}
		}},
		{"history", "back_forward", func(ctx context.Context, t *testing.T, p *participant) {
			if err := p.tab.Navigate(ctx, srv.url+"/privacy"); err != nil {
				t.Fatal(err)
			}
			goBack(ctx, t, p)
		}},
	} {
		t.Run(way.name, func(t *testing.T) {
			// Her way back is checked, not her picture: the camera stays off (cameraOffURL).
			maria := joinWithOptions(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.moderatorFragment()), "Maria Muster", joinOptions{})
			waitOK(ctx, t, maria, `document.body.dataset.state === "joined" && document.body.dataset.role === "moderator" && sessionStorage.getItem("conclave.resume") !== null`, "join as the moderator, her secret kept")
			evalOK(ctx, t, maria, `window.conclave.participantId`, &maria.id)
			if err := browsertest.CrashPage(ctx, maria.tab); err != nil {
				t.Fatal(err)
			}
			way.bringBack(ctx, t, maria)
			// A resume shows the meeting screen (state joined) at once, under "Reconnecting…";
			// it is settled with the welcome, which gives the id and the role.
			waitOK(ctx, t, maria, `location.pathname.startsWith("/m/") && (["prejoin", "lobby", "error"].includes(document.body.dataset.state) ||
				document.body.dataset.state === "joined" && !!window.conclave.participantId && !!document.body.dataset.role)`, "the tab brought back shows the meeting page, settled")
			var got struct {
				NavType, State, Role, ID, Typed string
				Kept                            []string
			}
			evalOK(ctx, t, maria, `({navType: performance.getEntriesByType("navigation")[0]?.type, state: document.body.dataset.state,
				role: document.body.dataset.role || "", id: window.conclave.participantId || "", typed: document.querySelector("#prejoin-name")?.value || "",
				kept: Object.keys(sessionStorage).filter(k => k.startsWith("conclave.")).sort()})`, &got)
			t.Logf("the tab brought back by %s: navigation %q, %q as %q, keeps %q", way.name, got.NavType, got.State, got.ID, got.Kept)
			if got.NavType != way.navType {
				t.Fatalf("the tab brought back by %s was loaded as %q, want %q", way.name, got.NavType, way.navType)
			}
			if got.State != "joined" || got.ID != maria.id || got.Role != "moderator" || got.Typed != "" {
				t.Fatalf("the tab brought back by %s (%s) is %q as %q (role %q, name typed %q), want joined as %q, the moderator, without the pre-join screen",
					way.name, got.NavType, got.State, got.ID, got.Role, got.Typed, maria.id)
			}
		})
	}
}
