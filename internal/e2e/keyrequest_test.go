package e2e

import (
	"fmt"
	"sync/atomic"
	"testing"

	"conclave/internal/browsertest"
	"conclave/internal/hostile"
)

// TestDroppedRotationIsAskedFor plays the hostile server of issue 14 that drops key
// messages: Ann (Chromium) sends to Ben (Firefox, through the man in the middle) and
// Cara (Chromium). When Cara leaves, Ann rotates her key; the proxy drops every key
// message from Ann to Ben, the rotation and the answers to Ben's key requests alike.
// Ben's tile of Ann then says "Waiting for keys…" instead of going black. Once the
// proxy lets Ann's key messages through again, Ben's next key request is answered and
// his tile shows Ann's camera again, without anyone doing anything.
func TestDroppedRotationIsAskedFor(t *testing.T) {
	t.Parallel()
	srv, links, proxy := hostileMeeting(t)
	ctx, cancel := testContext()
	defer cancel()
	waiting := str(t, readCatalogue(t, "en"), "e2ee14.keys.waiting")

	ann := joinWithOptions(ctx, t, browsertest.KindChromium, srv.pageURL(links, links.moderatorFragment()), "Ann", joinOptions{})
	// Ann's camera is what Ben must decode; his and Cara's (who only leaves) stay off
	// (cameraOffURL).
	ben := joinWithOptions(ctx, t, browsertest.KindFirefox, proxy.Via(srv.cameraOffURL(links, links.fragment())), "Ben", joinOptions{})
	cara := joinWithOptions(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.fragment()), "Cara", joinOptions{})
	for _, p := range []*participant{ann, ben, cara} {
		if err := p.tab.WaitFor(ctx, `window.conclave.e2ee.verified().length === 2`); err != nil {
			t.Fatalf("%s did not verify the other two: %v", p.name, err)
		}
	}
	waitSameColour(ctx, t, ben, ann, "camera")
	benConn, ok := proxy.ConnOf(ben.id)
	if !ok {
		t.Fatal("Ben's websocket does not go through the proxy")
	}
	isKeyFromAnn := func(m hostile.Message) bool {
		k, ok := hostile.ParseE2EE(m.Data)
		return ok && m.Conn == benConn.ID() && m.Dir == hostile.ToClient && k.From == ann.id && k.KeyMessageKind() == "key"
	}
	isRequestToAnn := func(m hostile.Message) bool {
		k, ok := hostile.ParseE2EE(m.Data)
		return ok && m.Conn == benConn.ID() && m.Dir == hostile.ToServer && k.To == ann.id && k.KeyMessageKind() == "key-request"
	}
	stopDropping := proxy.Drop(isKeyFromAnn)
	from := len(proxy.Messages())

	// Cara leaves: Ann rotates, and the proxy keeps the new key from Ben.
	if err := cara.tab.Eval(ctx, `document.querySelector("#btn-leave").click()`, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := proxy.Wait(ctx, from, func(m hostile.Message) bool { return isKeyFromAnn(m) && m.Dropped }); err != nil {
		t.Fatalf("Ann's rotated key never came for Ben: %v", err)
	}
	waitingJS := fmt.Sprintf(`(() => { const w = document.querySelector('.tile[data-participant-id="%s"][data-source="camera"] .keys-waiting');
		return !!w && w.textContent === %q; })()`, ann.id, waiting)
	if err := ben.tab.WaitFor(ctx, waitingJS); err != nil {
		t.Fatalf("Ben's tile of Ann never said %q: %v", waiting, err)
	}
	if _, err := proxy.Wait(ctx, from, isRequestToAnn); err != nil {
		t.Fatalf("Ben never asked Ann for her key: %v", err)
	}
	// Ann's frames keep reaching Ben (Cara is gone: they are all his media) and every
	// one fails: nothing is decrypted, nothing unencrypted is passed on.
	var before struct{ Decrypted, DecryptFailed int }
	if err := ben.tab.Eval(ctx, `window.conclave.e2ee.stats()`, &before); err != nil {
		t.Fatal(err)
	}
	if err := ben.tab.WaitFor(ctx, fmt.Sprintf(`window.conclave.e2ee.stats().decryptFailed > %d`, before.DecryptFailed+100)); err != nil {
		t.Fatalf("Ann's frames stopped reaching Ben: %v", err)
	}
	var during struct{ Decrypted int }
	if err := ben.tab.Eval(ctx, `window.conclave.e2ee.stats()`, &during); err != nil {
		t.Fatal(err)
	}
	if during.Decrypted != before.Decrypted {
		t.Fatalf("Ben decrypted %d frames without Ann's key", during.Decrypted-before.Decrypted)
	}
	var still bool
	if err := ben.tab.Eval(ctx, waitingJS, &still); err != nil || !still {
		t.Fatalf("Ben's tile of Ann stopped saying %q while no key reached him (%v)", waiting, err)
	}
	// Until now no key of Ann's reached Ben: what he reads next came through a request.
	for _, m := range proxy.Find(isKeyFromAnn) {
		if m.Seq >= from && !m.Dropped {
			t.Fatal("a key message of Ann's reached Ben while the proxy dropped them")
		}
	}

	stopDropping()
	resumed := len(proxy.Messages())
	if _, err := proxy.Wait(ctx, resumed, isRequestToAnn); err != nil {
		t.Fatalf("Ben stopped asking Ann for her key: %v", err)
	}
	if _, err := proxy.Wait(ctx, resumed, func(m hostile.Message) bool { return isKeyFromAnn(m) && !m.Dropped }); err != nil {
		t.Fatalf("Ann never answered Ben's key request: %v", err)
	}
	if err := ben.tab.WaitFor(ctx, fmt.Sprintf(`!document.querySelector('.tile[data-participant-id="%s"] .keys-waiting')`, ann.id)); err != nil {
		t.Fatalf("Ben's tile of Ann still waits for keys: %v", err)
	}
	waitSameColour(ctx, t, ben, ann, "camera")
}

// TestDroppedIdentityIsAskedFor: the server drops Ann's identity on its way to Ben, as it
// drops key messages for a member whose queue is long. Without it Ben can neither
// verify Ann nor unwrap the key she sends him, and she never sends it again unasked. Ann
// (Chromium) is in the meeting; Ben (Firefox, through the man in the middle) joins, and
// the proxy drops the identity Ann sends him. Ann's frames fail at Ben for want of a
// key, so he asks her for it, although he has not verified her; her answer is her
// identity and then her key, and Ben's tile shows her camera.
func TestDroppedIdentityIsAskedFor(t *testing.T) {
	t.Parallel()
	srv, links, proxy := hostileMeeting(t)
	ctx, cancel := testContext()
	defer cancel()

	ann := joinWithOptions(ctx, t, browsertest.KindChromium, srv.pageURL(links, links.moderatorFragment()), "Ann", joinOptions{})
	var dropped atomic.Bool
	isIdentityFromAnn := func(m hostile.Message) bool {
		k, ok := hostile.ParseE2EE(m.Data)
		return ok && m.Dir == hostile.ToClient && k.From == ann.id && k.KeyMessageKind() == "identity"
	}
	proxy.Drop(func(m hostile.Message) bool { return isIdentityFromAnn(m) && dropped.CompareAndSwap(false, true) })
	from := len(proxy.Messages())
	ben := joinWithOptions(ctx, t, browsertest.KindFirefox, proxy.Via(srv.cameraOffURL(links, links.fragment())), "Ben", joinOptions{})
	if _, err := proxy.Wait(ctx, from, func(m hostile.Message) bool { return isIdentityFromAnn(m) && m.Dropped }); err != nil {
		t.Fatalf("Ann's identity never came for Ben: %v", err)
	}
	if err := ann.tab.WaitFor(ctx, `window.conclave.e2ee.verified().length === 1`); err != nil {
		t.Fatalf("Ann did not verify Ben: %v", err)
	}
	if _, err := proxy.Wait(ctx, from, func(m hostile.Message) bool {
		k, ok := hostile.ParseE2EE(m.Data)
		return ok && m.Dir == hostile.ToServer && k.To == ann.id && k.KeyMessageKind() == "key-request"
	}); err != nil {
		t.Fatalf("Ben never asked Ann: %v", err)
	}
	if _, err := proxy.Wait(ctx, from, func(m hostile.Message) bool { return isIdentityFromAnn(m) && !m.Dropped }); err != nil {
		t.Fatalf("Ann never sent Ben her identity again: %v", err)
	}
	if err := ben.tab.WaitFor(ctx, `window.conclave.e2ee.verified().length === 1`); err != nil {
		t.Fatalf("Ben never verified Ann: %v", err)
	}
	waitSameColour(ctx, t, ben, ann, "camera")
}
