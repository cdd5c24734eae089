package sfu

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"

	"github.com/pion/webrtc/v4"
)

// icePairs counts the candidate pairs and the remote candidates pc's agent holds, and
// the answers to its checks it got on all its pairs.
func icePairs(pc *webrtc.PeerConnection) (pairs, remotes int, answers uint64) {
	for _, s := range pc.GetStats() {
		switch s := s.(type) {
		case webrtc.ICECandidatePairStats:
			pairs++
			answers += s.ResponsesReceived
		case webrtc.ICECandidateStats:
			if s.Type == webrtc.StatsTypeRemoteCandidate {
				remotes++
			}
		}
	}
	return pairs, remotes, answers
}

// TestPublisherICERestartThroughBurstyLoss: a publisher of a simulcast camera (three
// layers, keyframes of three packets) and a microphone whose link loses about 40 % of
// its datagrams in bursts each way, and delivers others twice or swapped, restarts its
// ICE through the signalling's path (a publish offer with new credentials, Publish),
// as a page whose connection stalled does, while two subscribers watch. The restart
// completes through the loss (the publisher's agent checking and connected again,
// within conntest.Wait of the real clock, whatever the machine's speed); once the link
// is clean, the checks the publisher sent with the server's credentials before the
// restart, delivered late, are answered by no one and change nothing; and then each
// subscriber gets a whole keyframe and continuous media of the tracks it had, on the
// same sections (no track more), none of the publisher's packets refused by the
// server's SRTP (the restart is ICE's alone: DTLS and its SRTP contexts go on), no
// sequence number of a stream sent to a subscriber twice with two payloads (a nonce
// used twice); and the server holds one set of the publisher's pairs, its new ufrag
// alone, one route for its media, and no lite agent or held record of its.
func TestPublisherICERestartThroughBurstyLoss(t *testing.T) { restartPublisherThroughLoss(t, false) }

// TestPublisherICERestartFromANewAddress is TestPublisherICERestartThroughBurstyLoss
// with the publisher's address changed as it restarts (its network changed): its
// media come from the new address once the restart selects it, the server reads them
// there alone, and the late checks come from the old one.
func TestPublisherICERestartFromANewAddress(t *testing.T) { restartPublisherThroughLoss(t, true) }

func restartPublisherThroughLoss(t *testing.T, move bool) {
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	t.Cleanup(cancel)
	clock, eng, room := newClockedRoom(t, true)
	conn := newBurstyConn(76)
	moving := newMovingConn(t)
	conn.PacketConn = moving
	pubAddr, oldAddr := moving.first.LocalAddr().(*net.UDPAddr).AddrPort(), netip.AddrPort{}
	if move {
		pubAddr, oldAddr = moving.second.LocalAddr().(*net.UDPAddr).AddrPort(), pubAddr
	}

	pubP, err := room.Join("pub")
	if err != nil {
		t.Fatal(err)
	}
	var watchers []*watcher
	var watcherPs []*Participant
	for _, id := range []string{"sub1", "sub2"} {
		p, err := room.Join(id)
		if err != nil {
			t.Fatal(err)
		}
		watchers = append(watchers, newWatcher(ctx, t, p))
		watcherPs = append(watcherPs, p)
	}
	pub := newRestartPublisher(t, conn)
	var stMu sync.Mutex
	var states []webrtc.ICEConnectionState
	pub.pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		stMu.Lock()
		states = append(states, s)
		stMu.Unlock()
	})
	pub.publish(ctx, pubP, conn)

	// A round: a frame of each layer and 20 ms of audio, on the engine's clock too.
	var roundFirst, roundLast, roundMic uint32
	round := func() {
		roundFirst = pub.frame + 1
		pub.sendRound()
		roundLast, roundMic = pub.frame, pub.sendMic()
		clock.Advance(20 * time.Millisecond)
		time.Sleep(2 * time.Millisecond)
	}
	pump := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(conntest.Wait)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("within %v: %s", conntest.Wait, what)
			}
			round()
		}
	}
	// Each watcher has both tracks, a frame of the last round and its audio.
	caughtUp := func() bool {
		if roundMic == 0 {
			return false
		}
		for _, w := range watchers {
			got := false
			for f := roundFirst; f <= roundLast; f++ {
				got = got || w.hasFrame(f)
			}
			if !got || !w.hasAudio(roundMic) {
				return false
			}
		}
		return true
	}
	pump("the watchers get the camera and the microphone", caughtUp)
	var before [][]string
	for _, w := range watchers {
		tracks, _, _, _ := w.state()
		if len(tracks) != 2 {
			t.Fatalf("a watcher's tracks: %v", tracks)
		}
		before = append(before, tracks)
	}
	server := pubP.pub.Load()
	pairsBefore, remotesBefore, _ := icePairs(server)

	// The link turns rough; the publisher restarts ICE through it.
	old := sdpUfrag(server.LocalDescription().SDP)
	conn.rough.Store(true)
	for range 50 {
		round()
	}
	stMu.Lock()
	mark := len(states)
	stMu.Unlock()
	moving.moved.Store(move)
	// A page whose network changed names its new address; Pion's mux names the one
	// it was made with.
	named := func(offer string) string {
		if !move {
			return offer
		}
		return strings.ReplaceAll(offer, fmt.Sprintf(" %d typ host", oldAddr.Port()), fmt.Sprintf(" %d typ host", pubAddr.Port()))
	}
	current := pub.restart(ctx, pubP, named)
	if current == "" || current == old {
		t.Fatalf("the restart's answer has ufrag %q, the one before %q", current, old)
	}
	restarted := func() bool {
		stMu.Lock()
		defer stMu.Unlock()
		i := slices.Index(states[mark:], webrtc.ICEConnectionStateChecking)
		return i >= 0 && slices.Contains(states[mark+i:], webrtc.ICEConnectionStateConnected)
	}
	pump("the restart checking and connected through the loss", restarted)
	pump("twenty checks of the new credentials through the loss", func() bool { return conn.checksWith(current) >= 20 })
	for range 20 {
		round()
	}
	conn.rough.Store(false)
	conn.mu.Lock()
	lost := conn.lost
	conn.mu.Unlock()
	stMu.Lock()
	seen := slices.Clone(states)
	stMu.Unlock()
	t.Logf("rough: %d datagrams lost, %d checks with the old credentials, %d with the new; states %v", lost, conn.checksWith(old), conn.checksWith(current), seen)
	if lost == 0 {
		t.Fatal("the link was not rough")
	}
	// Anything the rough link held back is through once a round sent now arrives.
	pump("the watchers get the media once the link is clean", caughtUp)

	// The checks with the credentials before the restart, late.
	iceT := server.SCTP().Transport().ICETransport()
	pairBefore, err := iceT.GetSelectedCandidatePair()
	if err != nil || pairBefore == nil {
		t.Fatalf("the server's selected pair after the restart: %v %v", pairBefore, err)
	}
	to := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(eng.UDPAddr().String()))
	moving.fromOld.Store(true)
	late := conn.deliverKept(to, []string{old})
	moving.fromOld.Store(false)
	if late == 0 {
		t.Fatal("no check with the old credentials was kept")
	}
	t.Logf("%d checks with the old credentials delivered late", late)
	// The server reads its socket in order, and its agent what the mux hands it: the
	// answer to a check with the new credentials sent after the late ones means they
	// were handled.
	pub.check(conn, to)
	conntest.Eventually(t, "the answer to a check after the late ones", func() bool {
		conn.mu.Lock()
		defer conn.mu.Unlock()
		return conn.sentinelAnswers == 1
	})
	if n := conn.answersToKept(); n != 0 {
		t.Errorf("%d of the late checks with the old credentials answered", n)
	}
	pairAfter, err := iceT.GetSelectedCandidatePair()
	if err != nil || pairAfter == nil || pairAfter.String() != pairBefore.String() || iceT.State() != webrtc.ICETransportStateConnected {
		t.Errorf("after the late checks: pair %v (was %v), %v, state %v", pairAfter, pairBefore, err, iceT.State())
	}

	// A keyframe on each layer, then delta frames and audio: each watcher gets its
	// layer's keyframe whole, then every frame of the layer, in order, on the tracks it
	// had; the server's SRTP refuses none of the publisher's packets.
	refused := eng.Stats().PublisherRTPRefused
	firstFrame, firstMic := pub.frame+1, pub.micN+1
	for i := range pub.layers {
		pub.sendFrame(i, true)
	}
	pub.sendMic()
	clock.Advance(20 * time.Millisecond)
	for range 30 {
		round()
	}
	// The second watcher's tile shrinks: it goes down to q, at a keyframe of q.
	watcherPs[1].SetView([]Tile{{ParticipantID: "pub", Source: SourceCamera, Width: int(simSizes[0][0]), Height: int(simSizes[0][1])}})
	pump("the second watcher on q", func() bool {
		_, video, _, _ := watchers[1].state()
		return len(video) > 0 && video[len(video)-1].layer == 0 && video[len(video)-1].frame >= firstFrame
	})
	for range 10 {
		round()
	}
	pump("the watchers get the last round", caughtUp)
	lastMic := pub.micN
	for k, w := range watchers {
		tracks, video, audio, reused := w.state()
		if !slices.Equal(tracks, before[k]) {
			t.Errorf("watcher %d: tracks %v after the restart, %v before", k, tracks, before[k])
		}
		if len(reused) > 0 {
			t.Errorf("watcher %d: sequence numbers sent twice with two payloads (a nonce used twice): %v", k, reused)
		}
		var after []simPacket
		for _, p := range video {
			if p.frame >= firstFrame {
				after = append(after, p)
			}
		}
		checkWholeThenContinuous(t, k, after, pub.keyParts[0])
		checkLayerChangesAtKeyframes(t, k, video)
		var mics []uint32
		for _, a := range audio {
			if a >= firstMic {
				mics = append(mics, a)
			}
		}
		for i, a := range mics {
			if a != firstMic+uint32(i) {
				t.Errorf("watcher %d: audio %v after the restart, want %d to %d in order", k, mics, firstMic, lastMic)
				break
			}
		}
		if len(mics) != int(lastMic-firstMic+1) {
			t.Errorf("watcher %d: %d audio packets of %d", k, len(mics), lastMic-firstMic+1)
		}
	}
	// The server's writers refuse a packet under a sequence number sent before (the
	// same SRTP nonce, sentlog.go) before any reaches a watcher: a forwarder that
	// numbered anew shows here, as gaps the loss hides.
	if n := eng.Stats().PacketsIndexRefused; n != 0 {
		t.Errorf("%d packets to the watchers refused for a sequence number sent before", n)
	}
	if n := eng.Stats().PublisherRTPRefused - refused; n != 0 {
		t.Errorf("the server's SRTP refused %d of the publisher's packets sent after the restart", n)
	}

	// What the server holds for the publisher: one set of pairs, its new ufrag, one
	// route, nothing in the lite agents.
	pairs, remotes, _ := icePairs(server)
	t.Logf("the server's agent: %d pairs and %d remote candidates, %d and %d before the restart", pairs, remotes, pairsBefore, remotesBefore)
	if pairs > pairsBefore || remotes > remotesBefore {
		t.Errorf("the server's agent holds %d pairs and %d remote candidates after the restart, %d and %d before", pairs, remotes, pairsBefore, remotesBefore)
	}
	eng.pubUfrags.mu.Lock()
	ufrags := len(eng.pubUfrags.m)
	hasNew := eng.pubUfrags.m[current] == 1
	eng.pubUfrags.mu.Unlock()
	if ufrags != 1 || !hasNew {
		t.Errorf("the publish ufrags %v, want %q alone", eng.pubUfrags.m, current)
	}
	eng.pubRTP.mu.RLock()
	routes := len(eng.pubRTP.m)
	_, routed := eng.pubRTP.m[pubAddr]
	_, stale := eng.pubRTP.m[oldAddr]
	eng.pubRTP.mu.RUnlock()
	if routes != 1 || !routed || stale {
		t.Errorf("%d routes of publishers' SRTP, the publisher's address %v among them: %v, the one before the restart %v: %v", routes, pubAddr, routed, oldAddr, stale)
	}
	eng.lites.mu.RLock()
	agents := len(eng.lites.m)
	held := eng.lites.hold.addrs[pubAddr] != nil || eng.lites.hold.addrs[oldAddr] != nil
	owner := eng.lites.byAddr[pubAddr] != nil || eng.lites.byAddr[oldAddr] != nil
	eng.lites.mu.RUnlock()
	if agents != len(watchers) || held || owner {
		t.Errorf("lite agents: %d (the watchers': %d), records held from the publisher %v, an agent owns its address %v", agents, len(watchers), held, owner)
	}
	// The server's connection is closed here, after the test read its stats, not by
	// the publisher's close_notify at the cleanup: Pion's GetStats reads what its
	// close writes (pc.statsGetter) without a lock.
	pubP.Close()
}

// checkWholeThenContinuous checks that got, a watcher's video packets from a round
// of keyframes on, starts with a keyframe of parts packets, whole, and goes on with
// every packet of its layer: each sequence number the one after the last, each frame's
// picture ID and TL0PICIDX the ones after the last frame's, a layer changed only at a
// keyframe.
func checkWholeThenContinuous(t *testing.T, k int, got []simPacket, parts int) {
	t.Helper()
	if len(got) < parts+10 {
		t.Errorf("watcher %d: %d packets after the restart", k, len(got))
		return
	}
	for i := range parts {
		if got[i].frame != got[0].frame || !got[0].key {
			t.Errorf("watcher %d: the first packets after the restart %+v, want a keyframe of %d", k, got[:parts], parts)
			return
		}
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		ok := b.seq == a.seq+1
		if b.frame == a.frame {
			ok = ok && b.pid == a.pid && b.tl0 == a.tl0 && b.ts == a.ts
		} else {
			ok = ok && b.pid == (a.pid+1)&0x7fff && b.tl0 == a.tl0+1 && int32(b.ts-a.ts) > 0 && (b.layer == a.layer || b.key)
		}
		if !ok {
			t.Errorf("watcher %d: packet %d after the restart %+v follows %+v", k, i, b, a)
			return
		}
	}
}

// checkLayerChangesAtKeyframes checks that every change of layer in got, all the video
// a watcher was sent (the loss, the restart and the layer switches they brought
// included: the watchers' own link loses nothing), starts at a keyframe.
func checkLayerChangesAtKeyframes(t *testing.T, k int, got []simPacket) {
	t.Helper()
	prev := -1
	for i, p := range got {
		if p.layer < 0 {
			continue // padding
		}
		if prev >= 0 && p.layer != prev && !p.key {
			t.Errorf("watcher %d: packet %d %+v changes the layer from %d without a keyframe", k, i, p, prev)
			return
		}
		prev = p.layer
	}
}
