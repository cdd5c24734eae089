package e2e

import (
	"strings"
	"testing"

	"conclave/internal/browsertest"
)

// TestMeetingOverHTTPS: every deployment serves Conclave over HTTPS (a browser gives a
// camera and WebCrypto only to a secure context, and 127.0.0.1 is one by exception),
// while the other browser tests use plain HTTP on loopback. Here the server speaks
// TLS only: the pages load over https, the signaling websocket must be wss (a ws://
// handshake on a TLS port fails, and the page's CSP allows connect-src 'self' only),
// and a Chromium and a Firefox member meet end to end encrypted, each verified by the
// other and decoding the other's camera.
func TestMeetingOverHTTPS(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServerWith(t, serverOptions{tls: true})
	if !strings.HasPrefix(srv.url, "https://") {
		t.Fatalf("the server is at %s, want https", srv.url)
	}
	meeting := srv.createMeeting(t)
	ctx, cancel := testContext()
	defer cancel()

	ann := joinTab(ctx, t, srv, browsertest.KindChromium, meeting, "Ann", false)
	fay := joinTab(ctx, t, srv, browsertest.KindFirefox, meeting, "Fay", false)
	for _, p := range []*participant{ann, fay} {
		waitOK(ctx, t, p, `location.protocol === "https:" && window.isSecureContext`, "not an https page in a secure context")
		waitOK(ctx, t, p, `document.querySelector("#e2ee-status")?.dataset.state === "on" &&
			window.conclave.e2ee.verified().length === 1 && window.conclave.e2ee.unverified().length === 0`,
			"not encrypting with the other verified")
	}
	waitSameColour(ctx, t, ann, fay, "camera")
	waitSameColour(ctx, t, fay, ann, "camera")
}
