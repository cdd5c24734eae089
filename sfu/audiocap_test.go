package sfu

import (
	"testing"
	"time"

	"conclave/internal/conntest"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// newMicrophoneSender is a peer connection of api's that sends one Opus track.
func newMicrophoneSender(t *testing.T, api *webrtc.API) (*webrtc.PeerConnection, *webrtc.TrackLocalStaticRTP, *webrtc.RTPTransceiver) {
	t.Helper()
	return newSenderOf(t, api, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio")
}

// sendAudio sends the publisher's next packet with a payload of size bytes, and
// reports whether it reached the subscriber: it waits until the subscriber has it or
// the SFU counted it as beyond the audio bound, so that the next is sent only once
// this one's fate is known (nothing is lost on loopback for a queue that overflowed).
func (r *mediaRig) sendAudio(size int) bool {
	r.t.Helper()
	over := r.eng.Stats().PacketsOverAudioRate
	seq := r.pub.next()
	r.pub.mu.Lock()
	r.pub.sent[seq] = &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 480},
		Payload: make([]byte, size),
	}
	r.pub.mu.Unlock()
	r.pub.write(seq)
	conntest.Eventually(r.t, "the audio packet at the subscriber or counted beyond the bound", func() bool {
		return r.sub.has(seq) || r.eng.Stats().PacketsOverAudioRate > over
	})
	return r.sub.has(seq)
}

// An admitted member whose client sends under its microphone far more than any Opus
// encoder makes gets only what Opus can be forwarded: audio goes to every subscriber
// ahead of all video, and the allocation takes it off every subscriber's budget before
// video, so an unbounded stream would take everyone's links. A flood of large packets
// and one of tiny ones (the fan-out's cost is per packet) are held to a second of the
// bound; Opus's largest, 510 kbit/s at a packet every 10 ms, end-to-end encrypted,
// passes whole even right after a flood emptied the bound, and once the engine's clock
// has moved on a second, audio passes again.
func TestAudioBeyondOpusIsNotForwarded(t *testing.T) {
	r := newMediaRigOf(t, testPeerAPI(t), testPeerAPI(t), newMicrophoneSender, SourceMicrophone)

	// Large packets at once: a second of the bound passes, no more.
	r.clock.Advance(time.Second)
	largePassed := 0
	const large = 200
	for range large {
		if r.sendAudio(1200) {
			largePassed++
		}
	}
	if most := audioCapBurst / 1200; largePassed > most || largePassed == 0 {
		t.Errorf("%d of %d packets of 1200 bytes sent at once reached the subscriber, want 1 to %d", largePassed, large, most)
	}

	// Opus at its highest rate, 638 bytes every 10 ms and the end-to-end encryption's
	// 30, for a second from the emptied bound.
	for i := range 100 {
		r.clock.Advance(10 * time.Millisecond)
		if !r.sendAudio(638 + 30) {
			t.Fatalf("packet %d of Opus at 510 kbit/s did not reach the subscriber", i)
		}
	}

	// Tiny packets at once, after the bound filled again: each costs audioCapMinCost.
	r.clock.Advance(time.Second)
	tinyPassed := 0
	const tiny = 400
	for range tiny {
		if r.sendAudio(1) {
			tinyPassed++
		}
	}
	if most := audioCapBurst / audioCapMinCost; tinyPassed > most || tinyPassed == 0 {
		t.Errorf("%d of %d packets of 1 byte sent at once reached the subscriber, want 1 to %d", tinyPassed, tiny, most)
	}

	// The bound is a rate, not a ban.
	r.clock.Advance(time.Second)
	if !r.sendAudio(100) {
		t.Error("audio a second after the flood did not reach the subscriber")
	}
	if got, want := r.eng.Stats().PacketsOverAudioRate, uint64(large-largePassed+tiny-tinyPassed); got != want {
		t.Errorf("PacketsOverAudioRate = %d, want %d (the packets that did not arrive)", got, want)
	}
}
