package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"conclave/e2ee"
	"conclave/internal/browsertest"
	"conclave/sfu"
)

// serverFrames reassembles, on the server, the VP8 frames each publisher's camera sends,
// exactly as they leave the browser's transform.
type serverFrames struct {
	mu     sync.Mutex
	asm    map[string]*e2ee.FrameAssembler
	frames map[string][]capturedFrame
}

type capturedFrame struct {
	data []byte
}

func newServerFrames() *serverFrames {
	return &serverFrames{asm: map[string]*e2ee.FrameAssembler{}, frames: map[string][]capturedFrame{}}
}

func (s *serverFrames) tap(p sfu.TapPacket) {
	if p.Source != sfu.SourceCamera {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// One assembler per simulcast layer: the layers' packets interleave, each with its
	// own sequence numbers and timestamps.
	key := p.ParticipantID + "/" + p.RID
	a := s.asm[key]
	if a == nil {
		a = &e2ee.FrameAssembler{}
		s.asm[key] = a
	}
	if f, ok := a.Push(p.SequenceNumber, p.Timestamp, p.Marker, p.Payload); ok {
		s.frames[p.ParticipantID] = append(s.frames[p.ParticipantID], capturedFrame{data: f})
	}
}

func (s *serverFrames) of(id string) []capturedFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]capturedFrame(nil), s.frames[id]...)
}

// wait waits until the server reassembled at least n of id's camera frames.
func (s *serverFrames) wait(ctx context.Context, t *testing.T, id string, n int) {
	t.Helper()
	for len(s.of(id)) < n {
		select {
		case <-ctx.Done():
			t.Fatalf("the server reassembled only %d of %d frames of %s", len(s.of(id)), n, id)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// joinAt opens the meeting page with fragment, joins as name and waits until it joined;
// with testHooks the page gets the test-only hooks first (loadTestHooks).
func joinAt(ctx context.Context, t *testing.T, srv *server, kind browsertest.Kind, m meetingLinks, name, fragment string, testHooks bool) *participant {
	t.Helper()
	return joinWithOptions(ctx, t, kind, srv.pageURL(m, fragment), name, joinOptions{testHooks: testHooks})
}

type frameHashes struct {
	Plain  []string `json:"plain"`
	Cipher []string `json:"cipher"`
}

// askWorker evaluates one of the test hooks' questions to p's E2EE worker (js) into out
// until the worker answers: the hooks give null for a question the worker left
// unanswered for five seconds, which a worker busy with a loaded machine's frames
// may, and null must not read as an empty answer.
func askWorker[T any](ctx context.Context, t *testing.T, p *participant, js string, out *T) {
	t.Helper()
	for {
		var got *T
		err := p.tab.Eval(ctx, js, &got)
		if err != nil {
			t.Fatalf("%s (%s): %s: %v", p.name, p.kind, js, err)
		}
		if got != nil {
			*out = *got
			return
		}
		t.Logf("%s (%s): the E2EE worker did not answer %s in time; asking again", p.name, p.kind, js)
		select {
		case <-ctx.Done():
			t.Fatalf("%s (%s): the E2EE worker never answered %s", p.name, p.kind, js)
		case <-time.After(time.Second):
		}
	}
}

// TestServerSeesOnlyCiphertext: in an E2EE meeting every VP8 frame the server forwards
// is one the publisher's transform emitted as ciphertext, and none is a plaintext frame.
// The control: decrypted with the publisher's own keys, every server frame is one of
// the recorded plaintext frames, so the plaintext check compares the right frames and
// could fail.
func TestServerSeesOnlyCiphertext(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	frames := newServerFrames()
	srv := startServerWithTap(t, frames.tap)
	links := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	ctx, cancel := testContext()
	defer cancel()
	pub := joinAt(ctx, t, srv, browsertest.KindChromium, links, "Pub", links.fragment(), true)
	sub := joinURL(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.fragment()), "Sub", false)
	waitSameColour(ctx, t, sub, pub, "camera")

	const want = 150
	frames.wait(ctx, t, pub.id, want)
	var h frameHashes
	askWorker(ctx, t, pub, `window.conclaveTest.frameHashes()`, &h)
	var keys map[string]map[string]string
	if err := pub.tab.Eval(ctx, `window.conclaveTest.exportKeys()`, &keys); err != nil {
		t.Fatal(err)
	}
	ring, err := ringFrom(keys[pub.id])
	if err != nil || len(keys[pub.id]) == 0 {
		t.Fatalf("the publisher's own keys: %v (%v)", keys[pub.id], err)
	}
	plain, cipher := map[string]bool{}, map[string]bool{}
	for _, x := range h.Plain {
		plain[x] = true
	}
	for _, x := range h.Cipher {
		cipher[x] = true
	}
	if len(plain) < want || len(cipher) < want {
		t.Fatalf("the transform recorded only %d plaintext and %d ciphertext frames", len(plain), len(cipher))
	}
	var plainMatches, cipherMatches, decrypted int
	for _, f := range frames.of(pub.id)[:want] {
		sum := sha256.Sum256(f.data)
		x := hex.EncodeToString(sum[:])
		if plain[x] {
			plainMatches++
		}
		if cipher[x] {
			cipherMatches++
		}
		if p, err := e2ee.DecryptFrame(ring, pub.id, f.data, e2ee.VP8, e2ee.Camera); err == nil {
			sum := sha256.Sum256(p)
			if plain[hex.EncodeToString(sum[:])] {
				decrypted++
			}
		}
	}
	if plainMatches != 0 || cipherMatches != want {
		t.Fatalf("of %d server frames: %d match plaintext, %d match ciphertext", want, plainMatches, cipherMatches)
	}
	if decrypted != want {
		t.Fatalf("control: only %d of %d server frames decrypt to a recorded plaintext frame", decrypted, want)
	}
}

// ringFrom builds a decryption keyring from raw keys one participant held for a sender,
// including every key it could derive by ratcheting forward.
func ringFrom(keys map[string]string) (func(byte) []byte, error) {
	ring := map[byte][]byte{}
	for idx, b := range keys {
		var i int
		if _, err := fmt.Sscan(idx, &i); err != nil {
			return nil, err
		}
		raw, err := base64.RawURLEncoding.DecodeString(b)
		if err != nil {
			return nil, err
		}
		for step := 0; step < 16; step++ {
			k := byte(i + step) // key indexes are a full byte (FORMAT.md)
			if _, ok := ring[k]; !ok || step == 0 {
				ring[k] = e2ee.FrameKey(raw)
			}
			raw = e2ee.Ratchet(raw)
		}
	}
	return func(i byte) []byte { return ring[i] }, nil
}

// TestRemovedParticipantCannotDecrypt: after a moderator removes a participant, the
// remaining senders' frames carry a new key index, and no key the removed participant
// held (or could ratchet to) decrypts them; Bob still sees Ann (Ann's camera is the one
// checked: Bob's and Cat's stay off, cameraOffURL).
func TestRemovedParticipantCannotDecrypt(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	frames := newServerFrames()
	srv := startServerWithTap(t, frames.tap)
	links := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	ctx, cancel := testContext()
	defer cancel()

	ann := joinAt(ctx, t, srv, browsertest.KindChromium, links, "Ann", links.moderatorFragment(), false)
	bob := joinURL(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.fragment()), "Bob", false)
	cat := joinWithOptions(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.fragment()), "Cat", joinOptions{testHooks: true})
	waitSameColour(ctx, t, cat, ann, "camera")
	waitSameColour(ctx, t, bob, ann, "camera")

	var held map[string]map[string]string
	if err := cat.tab.Eval(ctx, `window.conclaveTest.exportKeys()`, &held); err != nil {
		t.Fatal(err)
	}
	catRing, err := ringFrom(held[ann.id])
	if err != nil || len(held[ann.id]) == 0 {
		t.Fatalf("Cat's keys for Ann: %v (%v)", held[ann.id], err)
	}
	// Sanity: before the removal Cat's keys do decrypt Ann's current frames.
	before := frames.of(ann.id)
	ok := 0
	for _, f := range before[len(before)-10:] {
		if _, err := e2ee.DecryptFrame(catRing, ann.id, f.data, e2ee.VP8, e2ee.Camera); err == nil {
			ok++
		}
	}
	if ok == 0 {
		t.Fatal("Cat's exported keys decrypt none of Ann's frames before the removal; the check would prove nothing")
	}
	oldIndex, _ := e2ee.KeyIndex(before[len(before)-1].data)

	// Ann removes Cat in her UI.
	if err := ann.tab.Eval(ctx, `document.querySelector("#btn-people").click()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := ann.tab.WaitFor(ctx, fmt.Sprintf(`(() => { const m = document.querySelector('.participant-menu[data-participant-id="%s"]'); if (m) m.click(); return !!document.querySelector('[data-action="remove"][data-participant-id="%s"]'); })()`, cat.id, cat.id)); err != nil {
		t.Fatal(err)
	}
	if err := ann.tab.Eval(ctx, fmt.Sprintf(`document.querySelector('[data-action="remove"][data-participant-id="%s"]').click()`, cat.id), nil); err != nil {
		t.Fatal(err)
	}
	if err := ann.tab.WaitFor(ctx, `(() => { const b = document.querySelector("#confirm-ok"); if (b) b.click(); return !!b; })()`); err != nil {
		t.Fatal(err)
	}
	if err := cat.tab.WaitFor(ctx, `document.querySelector("#meeting-error")?.dataset.code === "removed"`); err != nil {
		t.Fatalf("Cat was not removed: %v", err)
	}
	seen := len(frames.of(ann.id))

	// Ann's frames from the first one under a new key index on (however long the
	// rotation takes on this machine): the old index never comes back, and nothing Cat
	// held decrypts them; Bob still decodes Ann.
	var after []capturedFrame
	for {
		after = after[:0]
		for _, f := range frames.of(ann.id)[seen:] {
			if idx, ok := e2ee.KeyIndex(f.data); len(after) > 0 || (ok && idx != oldIndex) {
				after = append(after, f)
			}
		}
		if len(after) >= 30 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d frames from Ann under a new key after the removal", len(after))
		case <-time.After(100 * time.Millisecond):
		}
	}
	for i, f := range after {
		idx, ok := e2ee.KeyIndex(f.data)
		if !ok || idx == oldIndex {
			t.Fatalf("frame %d after the rotation uses the old key index %d again", i, oldIndex)
		}
		if _, err := e2ee.DecryptFrame(catRing, ann.id, f.data, e2ee.VP8, e2ee.Camera); err == nil {
			t.Fatalf("frame %d after the removal decrypts with the removed participant's keys", i)
		}
	}
	waitSameColour(ctx, t, bob, ann, "camera")
}
