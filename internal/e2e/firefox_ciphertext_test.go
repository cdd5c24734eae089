package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"conclave/e2ee"
	"conclave/internal/browsertest"
	"conclave/sfu"
)

// relayedMedia keeps what the SFU forwards of each publisher's sources, exactly as the
// publisher's transform emitted it: VP8 frames of camera and screen (reassembled per
// simulcast layer) and the Opus frames of the microphone (one per packet).
type relayedMedia struct {
	mu     sync.Mutex
	asm    map[string]*e2ee.FrameAssembler // participant/source/rid
	frames map[string][][]byte             // participant/source
}

func newRelayedMedia() *relayedMedia {
	return &relayedMedia{asm: map[string]*e2ee.FrameAssembler{}, frames: map[string][][]byte{}}
}

func (m *relayedMedia) tap(p sfu.TapPacket) {
	if len(p.Payload) == 0 { // padding: no frame
		return
	}
	key := p.ParticipantID + "/" + string(p.Source)
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.Source == sfu.SourceMicrophone {
		m.frames[key] = append(m.frames[key], slices.Clone(p.Payload))
		return
	}
	a := m.asm[key+"/"+p.RID]
	if a == nil {
		a = &e2ee.FrameAssembler{}
		m.asm[key+"/"+p.RID] = a
	}
	if f, ok := a.Push(p.SequenceNumber, p.Timestamp, p.Marker, p.Payload); ok {
		m.frames[key] = append(m.frames[key], f)
	}
}

func (m *relayedMedia) of(id string, source sfu.Source) [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.frames[id+"/"+string(source)])
}

// wait waits until the server forwarded at least n frames of id's source.
func (m *relayedMedia) wait(ctx context.Context, t *testing.T, id string, source sfu.Source, n int) {
	t.Helper()
	for len(m.of(id, source)) < n {
		select {
		case <-ctx.Done():
			t.Fatalf("the server forwarded only %d of %d %s frames of %s", len(m.of(id, source)), n, source, id)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ownRing is p's own media keys as its worker got them, with what they ratchet to.
func ownRing(ctx context.Context, t *testing.T, p *participant) func(byte) []byte {
	t.Helper()
	var keys map[string]map[string]string
	askWorker(ctx, t, p, `window.conclaveTest.exportKeys()`, &keys)
	ring, err := ringFrom(keys[p.id])
	if err != nil || len(keys[p.id]) == 0 {
		t.Fatalf("%s's own keys: %v (%v)", p.name, keys[p.id], err)
	}
	return ring
}

// undecryptable counts the frames that do not authenticate under ring as sender's
// frames of source: a plaintext frame never does (AES-GCM).
func undecryptable(ring func(byte) []byte, sender string, frames [][]byte, kind e2ee.Kind, source e2ee.Source) int {
	bad := 0
	for _, f := range frames {
		if _, err := e2ee.DecryptFrame(ring, sender, f, kind, source); err != nil {
			bad++
		}
	}
	return bad
}

// clickEnabled clicks the control bar's button sel, failing at once when it is disabled
// (a click on a disabled button does nothing, and the test would wait for nothing).
func clickEnabled(ctx context.Context, t *testing.T, p *participant, sel string) {
	t.Helper()
	var why string
	evalOK(ctx, t, p, fmt.Sprintf(`(() => { const b = document.querySelector(%q);
		if (!b || b.disabled || b.hidden) return b ? "disabled: " + b.title : "missing";
		b.click(); return ""; })()`, sel), &why)
	if why != "" {
		t.Fatalf("%s (%s): cannot click %s: %s", p.name, p.kind, sel, why)
	}
}

// TestFirefoxServerSeesOnlyCiphertext: a Firefox publisher (RTCRtpScriptTransform,
// which sends plaintext while no transform is attached: 16 plaintext frames when set
// late, TESTING.md) lets the server forward ciphertext only: its camera from the very
// first frame (each frame one its transform emitted as ciphertext, none one it was
// given as plaintext), its microphone from the first packet, each of two screen shares
// (a new sender after a renegotiation, then the same transceiver again) from its first
// frame, and its camera turned off and on (replaceTrack): every frame the server
// forwarded authenticates under the publisher's own keys. A Chromium tab decodes the
// camera and both shares. The other tests with Firefox see its media decode at an
// encrypted receiver, which drops a plaintext frame without a trace, so they would not
// see a few plaintext frames at a start.
//
// The meeting lets participants share their screens: by default only presenters and
// moderators may, and a participant's Share button is disabled (the first version of
// this test clicked it in vain and waited for a share that never started).
func TestFirefoxServerSeesOnlyCiphertext(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	media := newRelayedMedia()
	srv := startServerWithTap(t, media.tap)
	links := srv.createMeeting(t) // no lobby, participants may share
	ctx, cancel := testContext()
	defer cancel()
	fay := joinWithOptions(ctx, t, browsertest.KindFirefox, srv.pageURL(links, links.fragment()), "Fay",
		joinOptions{testHooks: true, fakeScreen: true})
	waitOK(ctx, t, fay, `window.conclave.e2ee.enabled && window.conclave.e2ee.api === "script"`, "Fay does not encrypt with the script transform")
	ann := joinURL(ctx, t, browsertest.KindChromium, srv.cameraOffURL(links, links.fragment()), "Ann", false)

	// The camera from its first frame: none is a recorded plaintext frame, each is a
	// recorded ciphertext frame, and each decrypts to a recorded plaintext frame (the
	// control: the plaintext check compares the right frames, so it could fail). The
	// server's verdict comes before any receiver's: a receiver drops what it cannot
	// decrypt, and a failure here should say what the server saw.
	const want = 150
	media.wait(ctx, t, fay.id, sfu.SourceCamera, want)
	var h frameHashes
	askWorker(ctx, t, fay, `window.conclaveTest.frameHashes()`, &h)
	plain, cipher := map[string]bool{}, map[string]bool{}
	for _, x := range h.Plain {
		plain[x] = x != ""
	}
	for _, x := range h.Cipher {
		cipher[x] = x != ""
	}
	ring := ownRing(ctx, t, fay)
	var plainMatches, cipherMatches, decrypted int
	for _, f := range media.of(fay.id, sfu.SourceCamera)[:want] {
		sum := sha256.Sum256(f)
		if x := hex.EncodeToString(sum[:]); plain[x] {
			plainMatches++
		} else if cipher[x] {
			cipherMatches++
		}
		if p, err := e2ee.DecryptFrame(ring, fay.id, f, e2ee.VP8, e2ee.Camera); err == nil {
			sum := sha256.Sum256(p)
			if plain[hex.EncodeToString(sum[:])] {
				decrypted++
			}
		}
	}
	if plainMatches != 0 || cipherMatches != want || decrypted != want {
		t.Fatalf("of Fay's first %d camera frames on the server: %d match a plaintext frame, %d a ciphertext frame, %d decrypt to a plaintext frame (the transform recorded %d plaintext and %d ciphertext frames)",
			want, plainMatches, cipherMatches, decrypted, len(h.Plain), len(h.Cipher))
	}

	// The microphone from its first packet.
	media.wait(ctx, t, fay.id, sfu.SourceMicrophone, want)
	mic := media.of(fay.id, sfu.SourceMicrophone)
	if bad := undecryptable(ring, fay.id, mic, e2ee.Opus, e2ee.Microphone); bad != 0 {
		t.Fatalf("%d of the first %d microphone frames the server forwarded from Fay do not decrypt under her keys (plaintext?)", bad, len(mic))
	}
	waitSameColour(ctx, t, ann, fay, "camera")

	// Two screen shares, each from its first frame; Ann sees each.
	for round := 1; round <= 2; round++ {
		from := len(media.of(fay.id, sfu.SourceScreen))
		clickEnabled(ctx, t, fay, "#btn-screen")
		waitOK(ctx, t, fay, `document.querySelector("#btn-screen").getAttribute("aria-pressed") === "true"`, "the share did not start")
		media.wait(ctx, t, fay.id, sfu.SourceScreen, from+30)
		got := media.of(fay.id, sfu.SourceScreen)[from:]
		if bad := undecryptable(ownRing(ctx, t, fay), fay.id, got, e2ee.VP8, e2ee.Screen); bad != 0 {
			t.Fatalf("screen share %d: %d of the first %d frames the server forwarded from Fay do not decrypt under her keys (plaintext?)", round, bad, len(got))
		}
		waitMagenta(ctx, t, ann, fay)
		clickEnabled(ctx, t, fay, "#btn-screen")
		waitOK(ctx, t, fay, `document.querySelector("#btn-screen").getAttribute("aria-pressed") === "false"`, "the share did not stop")
	}

	// The camera off and on again (replaceTrack under the same transform).
	from := len(media.of(fay.id, sfu.SourceCamera))
	for _, on := range []string{"false", "true"} {
		clickEnabled(ctx, t, fay, "#btn-camera")
		waitOK(ctx, t, fay, `document.querySelector("#btn-camera").getAttribute("aria-pressed") === "`+on+`"`, "the camera did not turn "+on)
	}
	media.wait(ctx, t, fay.id, sfu.SourceCamera, from+60)
	waitSameColour(ctx, t, ann, fay, "camera")

	// Everything the server forwarded from Fay, from the first frame of each source on.
	ring = ownRing(ctx, t, fay)
	for _, s := range []struct {
		source sfu.Source
		kind   e2ee.Kind
		as     e2ee.Source
	}{{sfu.SourceCamera, e2ee.VP8, e2ee.Camera}, {sfu.SourceScreen, e2ee.VP8, e2ee.Screen}, {sfu.SourceMicrophone, e2ee.Opus, e2ee.Microphone}} {
		all := media.of(fay.id, s.source)
		if bad := undecryptable(ring, fay.id, all, s.kind, s.as); bad != 0 {
			t.Errorf("%s: %d of the %d frames the server forwarded from Fay do not decrypt under her keys (plaintext?)", s.source, bad, len(all))
		}
		t.Logf("%s: %d frames forwarded, all ciphertext", s.source, len(all))
	}
}
