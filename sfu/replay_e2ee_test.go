package sfu

import (
	"context"
	"regexp"
	"testing"
	"time"

	"conclave/internal/conntest"
)

// A late subscriber in an end-to-end encrypted meeting (replay.go, downtrack.go's
// askJoinKeyframe): replayed only a keyframe that came encryptedReplayAfter after its
// join, otherwise it asks for its own keyframe, once its connection carries media. The
// rig (orderedSub, joinLate, subscribeLate, noReplay) is replay_test.go's.

// TestEncryptedReplayOnlyOfKeyframesAfterTheJoin: in an end-to-end encrypted meeting a
// subscription is replayed the cached keyframe when it came at least
// encryptedReplayAfter after the subscriber joined (the senders have ratcheted their
// keys for it by then: a member subscribing to a track that starts later), and not when
// it came sooner (a newcomer, who could not decrypt it).
func TestEncryptedReplayOnlyOfKeyframesAfterTheJoin(t *testing.T) {
	r := newMediaRig(t)
	r.subP.room.SetEncrypted(true)
	// Both have joined, neither has answered its subscribe offer yet.
	member, err := r.subP.room.Join("member")
	if err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(encryptedReplayAfter)
	newcomer, err := r.subP.room.Join("newcomer")
	if err != nil {
		t.Fatal(err)
	}
	key := r.pub.sendPayload([]byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x01}, false)
	r.pub.sendPayload([]byte{0x00, 0xaa, 0xbb}, true)
	last := r.pub.sendPayload([]byte{0x10, 0x01, 0x00, 0x00}, true)
	conntest.Eventually(t, "the packets at the first subscriber", func() bool { return r.sub.has(last) })
	before := r.eng.Stats()

	got := subscribeLate(t, member)
	conntest.Eventually(t, "the replay at the member", func() bool {
		p := got.packets()
		return len(p) > 0 && p[len(p)-1].SequenceNumber == last
	})
	if first := got.packets()[0]; first.SequenceNumber != key || !startsKeyframe(first.Payload) {
		t.Fatalf("the member's first packet is %d (keyframe start %v), want the keyframe's %d", first.SequenceNumber, startsKeyframe(first.Payload), key)
	}
	if st := r.eng.Stats(); st.KeyframesReplayed != before.KeyframesReplayed+1 {
		t.Fatalf("%d replays, want 1", st.KeyframesReplayed-before.KeyframesReplayed)
	}
	noReplay(t, r, subscribeLate(t, newcomer), last, r.eng.Stats())
}

// TestEncryptedLateSubscriberAsksItself: in an end-to-end encrypted meeting a late
// subscriber gets no replay (it could not decrypt frames from before its join) and its
// subscription asks for nothing when it starts: a keyframe sent before its connection
// carries media, or before its page holds the sender's new key, would be lost, and would
// make the publisher's throttle defer the request that counts. Its own first request
// (its browser's, once it decrypts a frame it cannot decode) reaches the publisher at
// once, without the clock moving.
func TestEncryptedLateSubscriberAsksItself(t *testing.T) {
	r := newMediaRig(t)
	r.subP.room.SetEncrypted(true)
	r.pub.sendPayload([]byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x01}, true)
	last := r.pub.send()
	conntest.Eventually(t, "the packets at the first subscriber", func() bool { return r.sub.has(last) })
	// The first subscription's request is past the publisher track's throttle.
	r.clock.Advance(keyframeInterval)
	before, plis := r.eng.Stats(), r.pub.pliCount()
	late := joinLate(t, r.subP.room, "late")
	noReplay(t, r, late, last, before)
	if st := r.eng.Stats(); st.KeyframeRequestsReceived != before.KeyframeRequestsReceived || st.KeyframeRequestsSent != before.KeyframeRequestsSent {
		t.Fatalf("the late subscription asked for %d keyframes (%d sent) when it started, want none",
			st.KeyframeRequestsReceived-before.KeyframeRequestsReceived, st.KeyframeRequestsSent-before.KeyframeRequestsSent)
	}
	late.sendPLI(t)
	conntest.Eventually(t, "the late subscriber's keyframe request at the publisher", func() bool { return r.pub.pliCount() > plis })
	if st := r.eng.Stats(); st.KeyframeRequestsSent != before.KeyframeRequestsSent+1 || st.KeyframeRequestsLimited != before.KeyframeRequestsLimited {
		t.Errorf("keyframe requests sent %d, limited %d; want 1 and 0", st.KeyframeRequestsSent-before.KeyframeRequestsSent, st.KeyframeRequestsLimited-before.KeyframeRequestsLimited)
	}
}

// TestEncryptedSimulcastLateSubscriberAsksOnceConnected: in an end-to-end encrypted
// meeting a late simulcast subscription, which forwards nothing of a layer before a
// keyframe of it, asks for that keyframe only once its connection carries media: one
// asked for earlier would reach a connection that cannot carry it yet and would make
// the publisher track's throttle hold back the next request (the subscriber's own,
// when its first frames cannot be decoded) by up to keyframeInterval. A subscription
// whose connection never comes up asks for nothing however many frames pass; one whose
// connection comes up asks once and gets the keyframe first.
func TestEncryptedSimulcastLateSubscriberAsksOnceConnected(t *testing.T) {
	r := newSimRig(t)
	r.room.SetEncrypted(true)
	r.view() // the rig's own subscriber shows nothing: it asks for nothing from here on
	for range 3 {
		r.pub.sendRound()
		r.waitRoundReceived()
	}
	r.keyframeRequestsDone()
	r.clock.Advance(keyframeInterval) // past the throttle of the requests so far
	plis := func() (n int) {
		for i := range maxLayers {
			n += r.pub.pliCount(i)
		}
		return n
	}
	before, pliBefore := r.eng.Stats(), plis()

	// Neither side learns a candidate of the other: the sections are bound by the
	// answer, the connection never comes up.
	unreachable, err := r.room.Join("unreachable")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	noCandidates := func(sdp string) string { return candidateLine.ReplaceAllString(sdp, "") }
	if err := answerSubscribeOfferAs(ctx, unreachable, newPlainPeer(t), noCandidates, noCandidates); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the unreachable subscription bound", func() bool {
		unreachable.own.mu.Lock()
		defer unreachable.own.mu.Unlock()
		return len(unreachable.own.sections) > 0 && unreachable.own.sections[0].bound != nil
	})
	for range 20 {
		r.pub.sendRound()
		r.waitRoundReceived()
	}
	if st := r.eng.Stats(); st.KeyframeRequestsSent != before.KeyframeRequestsSent || plis() != pliBefore {
		t.Fatalf("a subscription whose connection is not up asked for %d keyframes (%d at the publisher), want none",
			st.KeyframeRequestsSent-before.KeyframeRequestsSent, plis()-pliBefore)
	}

	late := joinLate(t, r.room, "late")
	deadline := time.Now().Add(conntest.Wait)
	for len(late.packets()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("nothing at the late subscriber; stats %+v", r.eng.Stats())
		}
		r.pub.sendRound()
		r.waitRoundReceived()
		time.Sleep(5 * time.Millisecond)
	}
	first := decodeSimPacket(late.packets()[0])
	if !first.key {
		t.Fatalf("the late subscriber's first packet is not a keyframe: %+v", first)
	}
	if st := r.eng.Stats(); st.KeyframeRequestsSent != before.KeyframeRequestsSent+1 {
		t.Errorf("%d keyframe requests sent, want the late subscription's one", st.KeyframeRequestsSent-before.KeyframeRequestsSent)
	}
}

// candidateLine is an SDP candidate line with its line break.
var candidateLine = regexp.MustCompile(`a=candidate:[^\r\n]*\r?\n`)
