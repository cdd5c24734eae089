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
// 8829 §5.10: only a rejected section stops one). Sam's browser answers, in turn: Carl
// leaving (his microphone's and camera's sections inactive), Ann's screen share ending,
// Bob's ending; then Dora joins into Carl's two sections (inactive in three offers),
// Bob shares into Ann's former section (inactive in three: the last with Dora's
// arrival) and Ann into Bob's former one (inactive in two; each of these at least: the
// server may offer Dora's two tracks one by one). Sam keeps every freed
// transceiver (inactive, not stopped) and receives each new track in its person's tile
// with frames advancing: the screens' magenta pattern, Dora's camera in her colours,
// and her microphone's sound. Once with a Firefox subscriber and Chromium publishers,
// once the other way round, each in an end-to-end encrypted meeting of its own.
func TestFreedSectionInactiveTwiceThenReused(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	for _, c := range []struct{ sub, pub browsertest.Kind }{
		{browsertest.KindFirefox, browsertest.KindChromium},
		{browsertest.KindChromium, browsertest.KindFirefox},
	} {
		t.Run(c.sub.String()+"-subscriber", func(t *testing.T) {
			ctx, cancel := testContext()
			defer cancel()
			freedSectionsReused(ctx, t, srv, c.sub, c.pub)
		})
	}
}

// freedSectionsReused plays TestFreedSectionInactiveTwiceThenReused's meeting with a
// subscriber of subKind and publishers of pubKind.
func freedSectionsReused(ctx context.Context, t *testing.T, srv *server, subKind, pubKind browsertest.Kind) {
	m := srv.createMeeting(t)
	sam := joinWithOptions(ctx, t, subKind, srv.pageURL(m, m.fragment()), "Sam", joinOptions{preload: answeredJS})
	carl := joinTab(ctx, t, srv, pubKind, m, "Carl", false)
	ann := joinTab(ctx, t, srv, pubKind, m, "Ann", true)
	bob := joinTab(ctx, t, srv, pubKind, m, "Bob", true)

	answered := func() int {
		var n int
		evalOK(ctx, t, sam, `window.inactiveTest.answered()`, &n)
		return n
	}
	// What the offers Sam answered from the from-th on, and his answers, said of mid.
	since := func(from int, mid string) []string {
		var said []string
		evalOK(ctx, t, sam, fmt.Sprintf(`window.inactiveTest.since(%d, %q)`, from, mid), &said)
		return said
	}
	// The section Sam receives p's screen in.
	screenMid := func(p *participant) string {
		var mid string
		evalOK(ctx, t, sam, fmt.Sprintf(`window.inactiveTest.midOf(%q)`, tileSel(p.id, "screen")), &mid)
		if mid == "" {
			t.Fatalf("Sam's tile of %s's screen shows no received track", p.name)
		}
		return mid
	}
	// The sections of p's microphone and camera, once an offer Sam answered has both.
	deviceMids := func(p *participant) (audio, video string) {
		waitFor(ctx, t, sam, "an offer with "+p.name+"'s microphone and camera answered", fmt.Sprintf(
			`(({audio, video}) => audio.length === 1 && video.length === 1)(window.inactiveTest.mids(%q))`, p.id))
		var mids struct{ Audio, Video []string }
		evalOK(ctx, t, sam, fmt.Sprintf(`window.inactiveTest.mids(%q)`, p.id), &mids)
		return mids.Audio[0], mids.Video[0]
	}
	// Wait until Sam answered an offer, after the from-th, that no longer sends on the
	// sections mids (inactive, or anything else, which the checks after it then name).
	freed := func(from int, what string, mids ...string) {
		for _, mid := range mids {
			waitFor(ctx, t, sam, "an offer with "+what+" freed answered", fmt.Sprintf(
				`window.inactiveTest.since(%d, %q).some((x) => !x.startsWith("sendonly/"))`, from, mid))
		}
	}
	inactiveIn := func(from int, mid string) int {
		n := 0
		for _, x := range since(from, mid) {
			if x == "inactive/inactive" {
				n++
			}
		}
		return n
	}

	carlAudio, carlVideo := deviceMids(carl)
	clickIn(ctx, t, ann, "#btn-screen")
	waitMagenta(ctx, t, sam, ann)
	clickIn(ctx, t, bob, "#btn-screen")
	waitMagenta(ctx, t, sam, bob)
	annMid, bobMid := screenMid(ann), screenMid(bob)

	// Three renegotiations that free sections and take none, each answered before the
	// next: Carl leaves, Ann stops sharing, Bob stops.
	from := answered()
	clickIn(ctx, t, carl, "#btn-leave")
	freed(from, "Carl's sections", carlAudio, carlVideo)
	clickIn(ctx, t, ann, "#btn-screen")
	freed(from, "Ann's screen section", annMid)
	clickIn(ctx, t, bob, "#btn-screen")
	freed(from, "Bob's screen section", bobMid)
	for _, c := range []struct {
		what, mid string
		want      int
	}{{"Carl's microphone", carlAudio, 3}, {"Carl's camera", carlVideo, 3}, {"Ann's screen", annMid, 2}, {"Bob's screen", bobMid, 1}} {
		if n := inactiveIn(from, c.mid); n < c.want {
			t.Fatalf("the section of %s (%s), freed, was offered/answered %v: inactive %d times, want %d at least", c.what, c.mid, since(from, c.mid), n, c.want)
		}
		var tr map[string]any
		evalOK(ctx, t, sam, fmt.Sprintf(`window.inactiveTest.transceiver(%q)`, c.mid), &tr)
		if tr == nil || tr["currentDirection"] != "inactive" {
			t.Fatalf("Sam's transceiver of the freed section of %s (%s): %v, want it kept, inactive", c.what, c.mid, tr)
		}
	}

	// Dora joins: her microphone and camera take Carl's sections (the first free ones
	// of their kinds); Ann's and Bob's stay inactive.
	dora := joinTab(ctx, t, srv, pubKind, m, "Dora", false)
	if a, v := deviceMids(dora); a != carlAudio || v != carlVideo {
		t.Fatalf("Dora's microphone and camera are offered in the sections %s and %s, not in Carl's former %s and %s: the test no longer reuses them",
			a, v, carlAudio, carlVideo)
	}
	// Bob shares again, into Ann's former section; then Ann into Bob's.
	clickIn(ctx, t, bob, "#btn-screen")
	waitMagenta(ctx, t, sam, bob)
	if mid := screenMid(bob); mid != annMid {
		t.Fatalf("Bob's new share is received in section %s, not in Ann's former %s: the test no longer reuses a section", mid, annMid)
	}
	clickIn(ctx, t, ann, "#btn-screen")
	waitMagenta(ctx, t, sam, ann)
	if mid := screenMid(ann); mid != bobMid {
		t.Fatalf("Ann's new share is received in section %s, not in Bob's former %s: the test no longer reuses a section", mid, bobMid)
	}
	for _, c := range []struct {
		what, mid string
		want      int
	}{{"Carl's microphone", carlAudio, 3}, {"Carl's camera", carlVideo, 3}, {"Ann's screen", annMid, 3}, {"Bob's screen", bobMid, 2}} {
		if n := inactiveIn(from, c.mid); n < c.want {
			t.Fatalf("the section of %s (%s), freed and reused, was offered/answered %v: inactive %d times before its reuse, want %d at least", c.what, c.mid, since(from, c.mid), n, c.want)
		}
	}
	for _, p := range []*participant{bob, ann} {
		framesAdvance(ctx, t, sam, p)
	}
	// Dora's camera goes on being decoded in her colours, and her sound is heard.
	waitFor(ctx, t, sam, "frames of Dora's camera decoded", fmt.Sprintf(
		`window.conclave.stats().then((s) => s.video.some((v) => v.participantId === %q && v.source === "camera" && v.framesDecoded > 30))`, dora.id))
	waitSameColour(ctx, t, sam, dora, "camera")
	heard := audioFrom(ctx, t, sam, dora)
	waitFor(ctx, t, sam, "Dora's microphone received and heard", fmt.Sprintf(
		`%s.then((a) => a.packets >= %d && a.energy > %g)`, audioJS(dora.id), heard.Packets+50, heard.Energy))
}

// framesAdvance waits until recv has decoded 10 more frames of send's screen than now
// (the page's inbound-rtp counters), its tile still showing the magenta pattern.
func framesAdvance(ctx context.Context, t *testing.T, recv, send *participant) {
	t.Helper()
	decodedJS := fmt.Sprintf(`window.conclave.stats().then((s) => s.video.filter((v) => v.participantId === %q && v.source === "screen").map((v) => v.framesDecoded))`, send.id)
	var first []int
	evalOK(ctx, t, recv, decodedJS, &first)
	if len(first) != 1 {
		t.Fatalf("%s receives %d screen tracks of %s: %v", recv.name, len(first), send.name, first)
	}
	waitFor(ctx, t, recv, fmt.Sprintf("10 more frames of %s's screen decoded", send.name),
		fmt.Sprintf(`%s.then((d) => d.length === 1 && d[0] >= %d)`, decodedJS, first[0]+10))
	waitMagenta(ctx, t, recv, send)
}
