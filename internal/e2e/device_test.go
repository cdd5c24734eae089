package e2e

import (
	"context"
	"testing"
	"time"

	"conclave/internal/browsertest"
)

// TestBackToTheMeetingDoesNotResume: what a tab keeps of a meeting (the resumption
// secret, the moderator secret, the own name, the microphone and camera) serves a
// reload only. Maria joins as a moderator, then goes to another page of the site without
// Leave (as someone does who opens a bookmark and walks away from a shared computer);
// the server keeps her membership for its grace. Back to the meeting, within that grace,
// must show the pre-join screen with nothing of hers: no resume into the meeting as
// Maria, with her role and whoever now sits at the camera, and nothing of the meeting in
// the tab's storage.
func TestBackToTheMeetingDoesNotResume(t *testing.T) {
	t.Parallel()
	srv := startServerWith(t, serverOptions{resumeGrace: 10 * time.Minute})
	links := srv.createMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	for _, k := range browsertest.Kinds() {
		t.Run(k.String(), func(t *testing.T) {
			maria := joinWithOptions(ctx, t, k, srv.cameraOffURL(links, links.moderatorFragment()), "Maria Muster", joinOptions{})
			waitOK(ctx, t, maria, `document.body.dataset.role === "moderator" && sessionStorage.getItem("conclave.resume") !== null`, "join as the moderator, her secret kept for a reload")
			if err := maria.tab.Navigate(ctx, srv.url+"/privacy"); err != nil {
				t.Fatal(err)
			}
			goBack(ctx, t, maria)
			waitOK(ctx, t, maria, `location.pathname.startsWith("/m/") && performance.getEntriesByType("navigation")[0]?.type === "back_forward" && ["prejoin", "joined", "error"].includes(document.body.dataset.state)`, "come back to the meeting page")
			var got struct {
				State, Name, ID string
				Kept            []string
			}
			evalOK(ctx, t, maria, `({state: document.body.dataset.state, name: document.querySelector("#prejoin-name").value,
				id: window.conclave.participantId || "", kept: Object.keys(sessionStorage).filter(k => k.startsWith("conclave."))})`, &got)
			if got.State != "prejoin" || got.ID != "" {
				t.Fatalf("Back to the meeting page is %q as %q, want the pre-join screen and no membership", got.State, got.ID)
			}
			if got.Name != "" || len(got.Kept) != 0 {
				t.Fatalf("Back to the meeting page keeps the name %q and the tab's %q, want none", got.Name, got.Kept)
			}
		})
	}
}

// goBack is the browser's Back in p's tab, taken a moment after the evaluation returns:
// history.back() inside the evaluation can start the navigation before Chromium answers
// it, and the evaluation then fails with "Inspected target navigated or closed" (seen
// once in CI). The waits that follow poll through the navigation.
func goBack(ctx context.Context, t *testing.T, p *participant) {
	t.Helper()
	evalOK(ctx, t, p, `(setTimeout(() => history.back(), 10), true)`, nil)
}
