package e2e

import (
	"context"
	"fmt"
	"testing"

	"conclave/internal/browsertest"
)

// answeredJS runs before the page's own scripts and keeps, for the test, every offer
// the page's connections answered, with the answer (window.inactiveTest). Only the
// subscribe connection is offered to: the server is its offerer.
const answeredJS = `(() => {
	const Page = window.RTCPeerConnection;
	const made = [];
	const answered = [];
	class Watched extends Page {
		constructor(...a) { super(...a); made.push(this); }
		async setLocalDescription(...a) {
			const r = await super.setLocalDescription(...a);
			if (this.localDescription && this.localDescription.type === "answer" && this.remoteDescription) {
				answered.push({ offer: this.remoteDescription.sdp, answer: this.localDescription.sdp });
			}
			return r;
		}
	}
	window.RTCPeerConnection = Watched;
	// What a description says of the section of mid: "sendonly", "inactive", …,
	// "rejected" (port 0), or "" when it has no such section.
	const said = (sdp, mid) => {
		for (const s of sdp.split("\r\nm=").slice(1)) {
			const lines = s.split("\r\n");
			if (!lines.includes("a=mid:" + mid)) continue;
			if (lines[0].split(" ")[1] === "0") return "rejected";
			return lines.find((l) => ["a=sendonly", "a=recvonly", "a=sendrecv", "a=inactive"].includes(l)).slice(2);
		}
		return "";
	};
	const transceivers = () => made.filter((pc) => pc.connectionState !== "closed").flatMap((pc) => pc.getTransceivers());
	window.inactiveTest = {
		answered: () => answered.length,
		// What the offers and answers from the from-th on said of mid's section.
		since: (from, mid) => answered.slice(from).map((x) => said(x.offer, mid) + "/" + said(x.answer, mid)),
		// The mids of the last answered offer's sections that carry a track of the
		// participant id, by kind: {audio: [mid…], video: [mid…]}.
		mids: (id) => {
			const out = { audio: [], video: [] };
			const last = answered[answered.length - 1];
			for (const s of last ? last.offer.split("\r\nm=").slice(1) : []) {
				const lines = s.split("\r\n");
				const mid = lines.find((l) => l.startsWith("a=mid:"));
				if (mid && lines.some((l) => l.startsWith("a=msid:" + id + " "))) out[s.split(" ")[0]].push(mid.slice(6));
			}
			return out;
		},
		// The mid of the transceiver whose track the tile's <video> shows ("" if none).
		midOf: (sel) => {
			const v = document.querySelector(sel);
			const track = v && v.srcObject && v.srcObject.getVideoTracks()[0];
			const t = track && transceivers().find((t) => t.receiver.track === track);
			return t ? t.mid : "";
		},
		// The transceiver of mid as the page holds it.
		transceiver: (mid) => {
			const t = transceivers().find((t) => t.mid === mid);
			return t ? { direction: t.direction, currentDirection: t.currentDirection, track: t.receiver.track.readyState } : null;
		},
	};
})()`

// TestFreedSectionInactiveTwiceThenReused: a subscribe section freed by a track that
// leaves is offered as inactive at every renegotiation until another track of its kind
// takes it (sfu ownSub.addTrack: the first free section of the kind, a new SSRC under
// the same mid). Pion's own client stops a transceiver on an inactive offer, and for
// good on a second one (internal/testclient/inactive.go); a browser must keep it (RFC
// 8829 §5.10: only a rejected section stops one). Each watcher's browser answers, in
// turn: Carl leaving (his microphone's and camera's sections inactive), Ann's screen
// share ending, Bob's ending; then Dora joins into Carl's two sections (inactive in
// three offers), Bob shares into Ann's former section (inactive in three: the last with
// Dora's arrival) and Ann into Bob's former one (inactive in two; each of these at
// least: the server may offer Dora's two tracks one by one). Each watcher keeps every
// freed transceiver (inactive, not stopped) and receives each new track in its
// person's tile with frames advancing: the screens' magenta pattern, Dora's camera in
// her colours, and her microphone's sound. One end-to-end encrypted meeting with a
// Firefox watcher and a Chromium one, and publishers of both engines (one meeting, not
// one a watcher's engine: the suite's time).
func TestFreedSectionInactiveTwiceThenReused(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	ctx, cancel := testContext()
	defer cancel()
	m := srv.createMeeting(t)
	var ws []*sectionWatcher
	for _, w := range []struct {
		name string
		kind browsertest.Kind
	}{{"Sam", browsertest.KindFirefox}, {"Sid", browsertest.KindChromium}} {
		// The watchers' own pictures are nobody's check: their cameras stay off (their
		// microphones keep their publish connections, as the sharers' below do).
		p := joinWithOptions(ctx, t, w.kind, srv.cameraOffURL(m, m.fragment()), w.name, joinOptions{preload: answeredJS})
		ws = append(ws, &sectionWatcher{ctx: ctx, t: t, p: p})
	}
	carl := joinTab(ctx, t, srv, browsertest.KindChromium, m, "Carl", false)
	// Ann and Bob are here for their screens: their cameras stay off (two cameras nobody
	// looks at were a large part of the suite's longest test's time); their microphones
	// keep their publish connections open.
	sharer := joinOptions{fakeScreen: true}
	ann := joinWithOptions(ctx, t, browsertest.KindFirefox, srv.cameraOffURL(m, m.fragment()), "Ann", sharer)
	bob := joinWithOptions(ctx, t, browsertest.KindChromium, srv.cameraOffURL(m, m.fragment()), "Bob", sharer)

	for _, w := range ws {
		w.carlAudio, w.carlVideo = w.deviceMids(carl)
	}
	share := func(p *participant) {
		clickIn(ctx, t, p, "#btn-screen")
		for _, w := range ws {
			waitMagenta(ctx, t, w.p, p)
		}
	}
	share(ann)
	share(bob)
	for _, w := range ws {
		w.annMid, w.bobMid = w.screenMid(ann), w.screenMid(bob)
		w.from = w.answered()
	}

	// Three renegotiations that free sections and take none, each answered before the
	// next: Carl leaves, Ann stops sharing, Bob stops.
	clickIn(ctx, t, carl, "#btn-leave")
	for _, w := range ws {
		w.freed("Carl's sections", w.carlAudio, w.carlVideo)
	}
	clickIn(ctx, t, ann, "#btn-screen")
	for _, w := range ws {
		w.freed("Ann's screen section", w.annMid)
	}
	clickIn(ctx, t, bob, "#btn-screen")
	for _, w := range ws {
		w.freed("Bob's screen section", w.bobMid)
		w.inactiveAtLeast("freed", [4]int{3, 3, 2, 1})
		for _, mid := range []string{w.carlAudio, w.carlVideo, w.annMid, w.bobMid} {
			var tr map[string]any
			evalOK(ctx, t, w.p, fmt.Sprintf(`window.inactiveTest.transceiver(%q)`, mid), &tr)
			if tr == nil || tr["currentDirection"] != "inactive" {
				t.Fatalf("%s's transceiver of the freed section %s: %v, want it kept, inactive", w.p.name, mid, tr)
			}
		}
	}

	// Dora joins: her microphone and camera take Carl's sections (the first free ones
	// of their kinds); Ann's and Bob's stay inactive.
	dora := joinTab(ctx, t, srv, browsertest.KindFirefox, m, "Dora", false)
	for _, w := range ws {
		if a, v := w.deviceMids(dora); a != w.carlAudio || v != w.carlVideo {
			t.Fatalf("%s is offered Dora's microphone and camera in the sections %s and %s, not in Carl's former %s and %s: the test no longer reuses them",
				w.p.name, a, v, w.carlAudio, w.carlVideo)
		}
	}
	// Bob shares again, into Ann's former section; then Ann into Bob's.
	share(bob)
	share(ann)
	for _, w := range ws {
		if mid := w.screenMid(bob); mid != w.annMid {
			t.Fatalf("%s receives Bob's new share in section %s, not in Ann's former %s: the test no longer reuses a section", w.p.name, mid, w.annMid)
		}
		if mid := w.screenMid(ann); mid != w.bobMid {
			t.Fatalf("%s receives Ann's new share in section %s, not in Bob's former %s: the test no longer reuses a section", w.p.name, mid, w.bobMid)
		}
		w.inactiveAtLeast("freed and reused", [4]int{3, 3, 3, 2})
	}
	for _, w := range ws {
		for _, p := range []*participant{bob, ann} {
			framesAdvance(ctx, t, w.p, p, "screen")
			waitMagenta(ctx, t, w.p, p)
		}
		// Dora's camera goes on being decoded in her colours (30 frames more than now:
		// a tile frozen on its last frame shows her colours too), and her sound is heard.
		// Her tile, the newest in the filmstrip beside two screens, may be below a small
		// window's edge, and a tile out of sight is not sent (view-tracker.js): the
		// watcher scrolls to it, as a person would.
		evalOK(ctx, t, w.p, fmt.Sprintf(`document.querySelector(%q).scrollIntoView({block: "nearest"})`, tileSel(dora.id, "camera")), nil)
		framesAdvance(ctx, t, w.p, dora, "camera")
		waitSameColour(ctx, t, w.p, dora, "camera")
		heard := audioFrom(ctx, t, w.p, dora)
		waitFor(ctx, t, w.p, "Dora's microphone received and heard", fmt.Sprintf(
			`%s.then((a) => a.packets >= %d && a.energy > %g)`, audioJS(dora.id), heard.Packets+audioPacketsASecond, heard.Energy))
	}
}

// sectionWatcher is one subscriber of TestFreedSectionInactiveTwiceThenReused: its page
// (answeredJS preloaded), the mids of the sections the test frees on its connection
// (each connection has its own), and the count of offers it had answered when the
// freeing began.
type sectionWatcher struct {
	ctx                                  context.Context
	t                                    *testing.T
	p                                    *participant
	carlAudio, carlVideo, annMid, bobMid string
	from                                 int
}

func (w *sectionWatcher) answered() int {
	var n int
	evalOK(w.ctx, w.t, w.p, `window.inactiveTest.answered()`, &n)
	return n
}

// since is what the offers the watcher answered from the freeing on, and its answers,
// said of mid.
func (w *sectionWatcher) since(mid string) []string {
	var said []string
	evalOK(w.ctx, w.t, w.p, fmt.Sprintf(`window.inactiveTest.since(%d, %q)`, w.from, mid), &said)
	return said
}

// screenMid is the section the watcher receives p's screen in.
func (w *sectionWatcher) screenMid(p *participant) string {
	var mid string
	evalOK(w.ctx, w.t, w.p, fmt.Sprintf(`window.inactiveTest.midOf(%q)`, tileSel(p.id, "screen")), &mid)
	if mid == "" {
		w.t.Fatalf("%s's tile of %s's screen shows no received track", w.p.name, p.name)
	}
	return mid
}

// deviceMids are the sections of p's microphone and camera, once an offer the watcher
// answered has both.
func (w *sectionWatcher) deviceMids(p *participant) (audio, video string) {
	waitFor(w.ctx, w.t, w.p, "an offer with "+p.name+"'s microphone and camera answered", fmt.Sprintf(
		`(({audio, video}) => audio.length === 1 && video.length === 1)(window.inactiveTest.mids(%q))`, p.id))
	var mids struct{ Audio, Video []string }
	evalOK(w.ctx, w.t, w.p, fmt.Sprintf(`window.inactiveTest.mids(%q)`, p.id), &mids)
	return mids.Audio[0], mids.Video[0]
}

// freed waits until the watcher answered an offer, since the freeing began, that no
// longer sends on the sections mids (inactive, or anything else, which the checks
// after it then name).
func (w *sectionWatcher) freed(what string, mids ...string) {
	for _, mid := range mids {
		waitFor(w.ctx, w.t, w.p, "an offer with "+what+" freed answered", fmt.Sprintf(
			`window.inactiveTest.since(%d, %q).some((x) => !x.startsWith("sendonly/"))`, w.from, mid))
	}
}

// inactiveAtLeast checks that Carl's microphone's and camera's, Ann's and Bob's former
// screen sections were offered and answered inactive at least want times each since
// the freeing began.
func (w *sectionWatcher) inactiveAtLeast(when string, want [4]int) {
	w.t.Helper()
	for i, c := range []struct{ what, mid string }{
		{"Carl's microphone", w.carlAudio}, {"Carl's camera", w.carlVideo}, {"Ann's screen", w.annMid}, {"Bob's screen", w.bobMid},
	} {
		said := w.since(c.mid)
		n := 0
		for _, x := range said {
			if x == "inactive/inactive" {
				n++
			}
		}
		if n < want[i] {
			w.t.Fatalf("%s: the section of %s (%s), %s, was offered/answered %v: inactive %d times, want %d at least", w.p.name, c.what, c.mid, when, said, n, want[i])
		}
	}
}

// framesAdvance waits until recv has decoded 30 more frames of send's source
// ("screen" or "camera") than now (the page's inbound-rtp counters): a frozen tile
// still shows its last frame's colours.
func framesAdvance(ctx context.Context, t *testing.T, recv, send *participant, source string) {
	t.Helper()
	decodedJS := fmt.Sprintf(`window.conclave.stats().then((s) => s.video.filter((v) => v.participantId === %q && v.source === %q).map((v) => v.framesDecoded))`, send.id, source)
	var first []int
	evalOK(ctx, t, recv, decodedJS, &first)
	if len(first) != 1 {
		t.Fatalf("%s receives %d %s tracks of %s: %v", recv.name, len(first), source, send.name, first)
	}
	waitFor(ctx, t, recv, fmt.Sprintf("30 more frames of %s's %s decoded (%d so far)", send.name, source, first[0]),
		fmt.Sprintf(`%s.then((d) => d.length === 1 && d[0] >= %d)`, decodedJS, first[0]+30))
}
