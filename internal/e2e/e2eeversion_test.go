package e2e

import (
	"testing"

	"conclave/internal/browsertest"
	"conclave/internal/hostile"
)

// TestOutdatedE2EEPageIsTold: a page that speaks another end-to-end encryption format
// (made here by a proxy that rewrites the version its join names) is refused before it
// knocks, and the person reads that the page is out of date and must be reloaded, not
// a generic failure.
func TestOutdatedE2EEPageIsTold(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	srv := startServer(t)
	links := srv.createMeeting(t)
	proxy := startHostile(t, srv)
	proxy.Rewrite(func(m hostile.Message) ([]byte, bool) {
		env, err := hostile.ParseEnvelope(m.Data)
		if err != nil || m.Dir != hostile.ToServer || env.Type != "join" {
			return nil, false
		}
		return env.With("e2ee", 1).Marshal(), true
	})
	ctx, cancel := testContext()
	defer cancel()

	tab, err := browsertest.Shared(t, browsertest.KindChromium).NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := tab.Navigate(ctx, proxy.Via(srv.pageURL(links, links.fragment()))); err != nil {
		t.Fatal(err)
	}
	knock(ctx, t, tab, "Olga")
	if err := tab.WaitFor(ctx, `document.body.dataset.state === "error" && document.querySelector("#meeting-error").dataset.code === "e2ee_version" &&
		/older version/.test(document.querySelector("#meeting-error").textContent) && /[Rr]eload/.test(document.body.textContent)`); err != nil {
		t.Fatalf("the outdated page was not told: %v", err)
	}
}
