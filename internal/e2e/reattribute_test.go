package e2e

import (
	"bytes"
	"testing"

	"conclave/internal/browsertest"
	"conclave/internal/hostile"
)

// TestReattributedFramesDecodeNowhere: the server tells Cara that Ann's tracks are
// Ben's and Ben's are Ann's (it swaps their ids in Cara's subscribe offers). Cara
// holds both senders' keys, but every frame is bound to its sender's id and her
// receivers decrypt only as the participant the server named: she decodes nothing,
// no picture and no sound, instead of showing Ben's camera in Ann's tile. Ann and
// Ben, told the truth, see each other.
func TestReattributedFramesDecodeNowhere(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	proxy := startHostile(t, srv)
	ctx, cancel := testContext()
	defer cancel()

	ann := joinWithOptions(ctx, t, browsertest.KindChromium, srv.pageURL(links, links.moderatorFragment()), "Ann", joinOptions{})
	ben := joinWithOptions(ctx, t, browsertest.KindFirefox, srv.pageURL(links, links.fragment()), "Ben", joinOptions{})
	waitSameColour(ctx, t, ann, ben, "camera")

	// Only Cara's connection goes through the proxy: swap Ann's and Ben's ids in every
	// subscribe offer it relays to her.
	const hold = "\x00swap\x00"
	proxy.Rewrite(func(m hostile.Message) ([]byte, bool) {
		env, err := hostile.ParseEnvelope(m.Data)
		if err != nil || m.Dir != hostile.ToClient || env.Type != "subscribe_offer" {
			return nil, false
		}
		d := bytes.ReplaceAll(m.Data, []byte(ann.id), []byte(hold))
		d = bytes.ReplaceAll(d, []byte(ben.id), []byte(ann.id))
		return bytes.ReplaceAll(d, []byte(hold), []byte(ben.id)), true
	})
	cara := joinWithOptions(ctx, t, browsertest.KindChromium, proxy.Via(srv.pageURL(links, links.fragment())), "Cara", joinOptions{})
	if err := cara.tab.WaitFor(ctx, `window.conclave.e2ee.verified().length === 2`); err != nil {
		t.Fatalf("Cara did not verify Ann and Ben: %v", err)
	}
	if len(proxy.Find(func(m hostile.Message) bool { return m.Original != nil })) == 0 {
		t.Fatal("no subscribe offer to Cara was rewritten; the test would prove nothing")
	}
	// Frames of both arrive (under keys Cara holds); every one must fail.
	if err := cara.tab.WaitFor(ctx, `(s => s.decryptFailed + s.decrypted > 200)(window.conclave.e2ee.stats())`); err != nil {
		t.Fatalf("no frames reached Cara: %v", err)
	}
	var sees struct {
		Decrypted int     `json:"decrypted"`
		Frames    int     `json:"frames"`
		Pictures  int     `json:"pictures"`
		Samples   int     `json:"samples"`
		Energy    float64 `json:"energy"`
	}
	if err := cara.tab.Eval(ctx, `window.conclave.stats().then(s => ({
		decrypted: window.conclave.e2ee.stats().decrypted,
		frames: s.video.reduce((n, v) => n + v.framesDecoded, 0),
		pictures: [...document.querySelectorAll('.tile[data-self="false"] video')].filter(v => v.videoWidth > 0).length,
		samples: s.audio.reduce((n, a) => n + (a.totalSamplesReceived || 0), 0),
		energy: s.audio.reduce((n, a) => n + (a.totalAudioEnergy || 0), 0),
	}))`, &sees); err != nil {
		t.Fatal(err)
	}
	if sees.Decrypted != 0 || sees.Frames != 0 || sees.Pictures != 0 || sees.Samples != 0 || sees.Energy != 0 {
		t.Fatalf("Cara decoded re-attributed media: %+v", sees)
	}
	// The meeting itself works: Ben still sees Ann.
	waitSameColour(ctx, t, ben, ann, "camera")
}
