package sfu

import (
	"testing"
	"time"

	"conclave/internal/conntest"

	"github.com/pion/rtcp"
)

// sendSenderReport sends a sender report of the publisher's stream carrying ntp and
// reports whether it reached the subscriber: it waits until the subscriber has it or
// the SFU counted it as held back, so that the next is sent only once this one's fate
// is known.
func (r *mediaRig) sendSenderReport(ntp uint64) bool {
	r.t.Helper()
	limited := r.eng.Stats().SenderReportsLimited
	if err := r.pub.pc.WriteRTCP([]rtcp.Packet{&rtcp.SenderReport{SSRC: r.pub.ssrc, NTPTime: ntp, RTPTime: uint32(ntp)}}); err != nil {
		r.t.Fatal(err)
	}
	arrived := func() bool {
		r.sub.mu.Lock()
		defer r.sub.mu.Unlock()
		for _, sr := range r.sub.srs {
			if sr.NTPTime == ntp {
				return true
			}
		}
		return false
	}
	conntest.Eventually(r.t, "the sender report at the subscriber or counted as held back", func() bool {
		return arrived() || r.eng.Stats().SenderReportsLimited > limited
	})
	return arrived()
}

// A publisher's client that sends sender reports as fast as it can gets one forwarded
// per srForwardInterval of its stream: each is a packet to every subscriber, where
// browsers send at most 14 or so a second at the page's highest rates. Once the
// engine's clock has moved on, the next passes again.
func TestSenderReportFloodIsNotForwarded(t *testing.T) {
	r := newMediaRig(t)
	const ntp = uint64(0xE1234567_00000000)
	passed := 0
	const flood = 30
	for i := range flood {
		if r.sendSenderReport(ntp + uint64(i)) {
			passed++
		}
	}
	if passed != 1 {
		t.Errorf("%d of %d sender reports sent at once reached the subscriber, want 1", passed, flood)
	}
	if got := r.eng.Stats().SenderReportsLimited; got != flood-1 {
		t.Errorf("SenderReportsLimited = %d, want %d", got, flood-1)
	}
	r.clock.Advance(srForwardInterval - time.Millisecond)
	if r.sendSenderReport(ntp + flood) {
		t.Error("a sender report within srForwardInterval of the last one forwarded reached the subscriber")
	}
	r.clock.Advance(time.Millisecond)
	if !r.sendSenderReport(ntp + flood + 1) {
		t.Error("a sender report srForwardInterval after the last one forwarded did not reach the subscriber")
	}
}

// Browsers send a video stream's reports more often the higher its rate: libwebrtc
// (Chromium's and Firefox's RTCP) waits 360 ms per Mbit/s the stream sends, at most a
// second, each wait drawn between half and one and a half times that. The page's
// screen share at its 2.5 Mbit/s has reports from 72 to 216 ms apart, a camera's top
// layer at 1.2 Mbit/s from 150 to 450 ms: each one reaches the subscriber, and none is
// counted as a flood's.
func TestSenderReportsAtABrowsersPaceAreForwarded(t *testing.T) {
	r := newMediaRig(t)
	const ntp = uint64(0xE2345678_00000000)
	// 360 ms / 2.5 Mbit/s = 144 ms, drawn from 72 to 216; 360 ms / 1.2 = 300, from 150
	// to 450: the waits of a stream whose rate moves between the two, each one's
	// shortest among them.
	gaps := []time.Duration{72, 216, 72, 100, 72, 150, 450, 150, 300, 72}
	for i, gap := range gaps {
		r.clock.Advance(gap * time.Millisecond)
		if !r.sendSenderReport(ntp + uint64(i)) {
			t.Errorf("report %d, %d ms after the one before, did not reach the subscriber", i, gap)
		}
	}
	if got := r.eng.Stats().SenderReportsLimited; got != 0 {
		t.Errorf("SenderReportsLimited = %d, want 0: a browser's reports counted as a flood's", got)
	}
}
