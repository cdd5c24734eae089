package sfu

import (
	"context"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
)

// TestPublisherLossIsRepaired: the publisher loses 3 % of its packets on the way to the
// server; the SFU NACKs each gap as it sees it and the subscriber ends up with every
// packet (residual loss 0).
func TestPublisherLossIsRepaired(t *testing.T) {
	r := newMediaRig(t)
	var want []uint16
	for i := 0; i < 400; i++ {
		if i%33 == 7 {
			want = append(want, r.pub.skip())
			continue
		}
		seq := r.pub.send()
		want = append(want, seq)
		if i%10 == 0 {
			// A window of ten packets in flight: loss is the test's, never a
			// socket buffer's on a slow machine.
			conntest.Eventually(t, "the subscriber to keep up", func() bool { return r.sub.has(seq) })
		}
	}
	missing := func() (m []uint16) {
		for _, s := range want {
			if !r.sub.has(s) {
				m = append(m, s)
			}
		}
		return m
	}
	deadline := time.Now().Add(conntest.Wait)
	for len(missing()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("residual loss at the subscriber: %v", missing())
		}
		time.Sleep(2 * time.Millisecond)
	}
	st := r.eng.Stats()
	if st.NACKsSent == 0 || st.NACKedPackets < 12 {
		t.Errorf("NACKs sent %d naming %d packets, want the 12 lost ones named", st.NACKsSent, st.NACKedPackets)
	}
}

// TestPublisherTailLossIsNACKedAtOnce: the last packets of a frame are lost and the
// publisher sends nothing after them. The SFU asks for them without waiting for the
// next frame (which here never comes), one after the other, each once the tail watch's
// wait has passed on the engine's clock and not before, and the subscriber gets them:
// a packet without the marker bit says its frame goes on. After a frame that ends with
// its marker nothing is asked for, however long the clock then runs. The engine's
// timers are the fake clock's, and Settle says when what they fired is done: no
// verdict waits on the system's clock.
func TestPublisherTailLossIsNACKedAtOnce(t *testing.T) {
	r := newMediaRigAPIs(t, testPeerAPI(t), testPeerAPI(t), func(c *fakeclock.Clock, cfg *Config) { cfg.AfterFunc = c.AfterFunc })
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	advance := func(d time.Duration) {
		t.Helper()
		r.clock.Advance(d)
		if err := r.clock.Settle(ctx); err != nil {
			t.Fatalf("the timers fired did not return: %v", err)
		}
	}
	nacks := func() uint64 { return r.eng.Stats().NACKsSent }

	seqs := r.pub.frame(4, func(i int) bool { return i < 2 }) // the last two are lost
	for i, s := range seqs {
		if i < 2 {
			conntest.Eventually(t, "the frame's first packets at the subscriber", func() bool { return r.sub.has(s) })
		} else {
			// The packets of the frame come within a moment of the clock: the wait
			// is tailWaitMin from the newest, timed from when it arrived.
			conntest.Eventually(t, "the tail watch's timer set", func() bool { return r.tailTimerSet() })
			before := nacks()
			advance(tailWaitMin - time.Millisecond)
			if n := nacks(); n != before {
				t.Fatalf("packet %d of the frame asked for %d times before the tail watch's wait passed", i, n-before)
			}
			advance(time.Millisecond)
			if n := nacks(); n != before+1 {
				t.Fatalf("the tail watch's wait passed: %d NACKs for packet %d, want one", n-before, i)
			}
			conntest.Eventually(t, "the subscriber to get the packet asked for", func() bool { return r.sub.has(s) })
		}
	}
	for _, s := range seqs[2:] {
		if n := r.pub.nacksFor(s); n != 1 {
			t.Errorf("packet %d asked for %d times, want once", s, n)
		}
	}

	// A frame that ends with its marker is not followed by a NACK for what comes next:
	// the watch is disarmed by the time the subscriber has the frame's last (it is
	// noted before it is forwarded), and the clock passes every wait it could have had.
	end := r.pub.frame(2, func(int) bool { return true })
	conntest.Eventually(t, "the whole frame", func() bool { return r.sub.has(end[1]) })
	if r.tailArmed() {
		t.Error("the tail watch is armed after a frame's last packet")
	}
	before := nacks()
	advance(3 * tailWaitMax)
	if n := nacks(); n != before {
		t.Errorf("%d NACKs after a complete frame, want none", n-before)
	}
	if n := r.pub.nacksFor(end[1] + 1); n != 0 {
		t.Errorf("the packet after a complete frame was asked for %d times", n)
	}
}

// tailArmed and tailTimerSet read the publisher's camera layer's tail watch.
func (r *mediaRig) tailArmed() bool    { return r.tailWatch().armed }
func (r *mediaRig) tailTimerSet() bool { return r.tailWatch().set }

func (r *mediaRig) tailWatch() tailWatch {
	r.pubP.mu.Lock()
	var l *layer
	for _, up := range r.pubP.ups {
		l = up.layer(0)
	}
	r.pubP.mu.Unlock()
	if l == nil {
		r.t.Fatal("the publisher has no layer")
	}
	l.rx.Lock()
	defer l.rx.Unlock()
	return l.tail
}

// TestWatcherHasNoPublishConnection: someone who only watches never gets a publish
// connection (nor its interceptors' goroutines and tickers); a candidate trickled for
// one before any publish_offer is kept, not an error.
func TestWatcherHasNoPublishConnection(t *testing.T) {
	r := newMediaRig(t)
	if r.subP.pub.Load() != nil {
		t.Fatal("a participant that never published has a publish connection")
	}
	if err := r.subP.AddCandidate(true, Candidate{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host"}); err != nil {
		t.Fatalf("publish candidate before any offer: %v", err)
	}
	if r.subP.pub.Load() != nil || len(r.subP.pubCandidates) != 1 {
		t.Fatalf("the candidate made a connection or was not kept (%d kept)", len(r.subP.pubCandidates))
	}
}

// TestSubscriberLossIsRepaired: a subscriber whose link loses one RTP packet in 25
// NACKs them like a browser and gets every one from the SFU's cache, through its
// retransmission queue (residual loss 0).
func TestSubscriberLossIsRepaired(t *testing.T) {
	api, conn := lossySubscriberAPI(t, 25)
	r := newMediaRigWith(t, api)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stats %+v", r.eng.Stats())
		}
	})
	// While waiting, time passes for the SFU too (its retransmission budget refills);
	// what is judged is only that every packet arrives.
	arrives := func(seqs []uint16) func() bool {
		return func() bool {
			for _, s := range seqs {
				if !r.sub.has(s) {
					r.clock.Advance(5 * time.Millisecond)
					return false
				}
			}
			return true
		}
	}
	var want []uint16
	for i := 0; i < 400; i++ {
		want = append(want, r.pub.send())
		if i%10 == 9 {
			// A loss is seen at the next packet: wait for all but the newest.
			conntest.Eventually(t, "the subscriber to keep up", arrives(want[len(want)-10:len(want)-1]))
		}
	}
	for i := 0; i < 3; i++ {
		r.pub.send() // so that a loss of the last wanted packet is seen too
	}
	conntest.Eventually(t, "every packet at the subscriber (residual loss 0)", arrives(want))
	conn.mu.Lock()
	lost := conn.lost
	conn.mu.Unlock()
	if st := r.eng.Stats(); lost < 10 || st.Retransmissions < uint64(lost) {
		t.Fatalf("link lost %d packets, SFU retransmitted %d", lost, st.Retransmissions)
	}
}

// TestNACKTriesAreBounded: a packet that never comes is asked for on the gap and then
// again as time passes, maxNackTries times in all and never more.
func TestNACKTriesAreBounded(t *testing.T) {
	r := newMediaRig(t)
	r.pub.mu.Lock()
	r.pub.answer = func(uint16) bool { return false }
	r.pub.mu.Unlock()

	lost := r.pub.skip()
	for i := 0; i < 3*maxNackTries; i++ {
		seq := r.pub.send()
		conntest.Eventually(t, "the packet at the subscriber", func() bool { return r.sub.has(seq) })
		if i == 0 {
			conntest.Eventually(t, "the NACK on the gap", func() bool { return r.pub.nacksFor(lost) == 1 })
		}
		r.clock.Advance(nackRetryInterval)
	}
	// A later gap's NACK comes after any retry for the first: once it is in, the count
	// for the first is final.
	later := r.pub.skip()
	r.pub.send()
	conntest.Eventually(t, "the NACK for a later gap", func() bool { return r.pub.nacksFor(later) == 1 })
	if n := r.pub.nacksFor(lost); n != maxNackTries {
		t.Fatalf("the lost packet was asked for %d times, want %d", n, maxNackTries)
	}
	if st := r.eng.Stats(); st.NACKsGivenUp != 1 {
		t.Errorf("NACKsGivenUp %d, want 1", st.NACKsGivenUp)
	}
}

// TestLossySubscriberDoesNotMultiplyKeyframes: a subscriber asks for a keyframe every
// 600 ms for 12 s; the publisher is asked once when it joined and then at most once per
// subscriberKeyframeInterval, and the SFU counts why it held the others back.
func TestLossySubscriberDoesNotMultiplyKeyframes(t *testing.T) {
	r := newMediaRig(t)
	received := r.eng.Stats().KeyframeRequestsReceived // the join's own request
	if received != 1 {
		t.Fatalf("%d keyframe requests at join, want 1", received)
	}
	ssrc := r.subSSRC()
	for i := 0; i < 20; i++ {
		r.clock.Advance(600 * time.Millisecond)
		received++
		r.sendSubscriberRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}, received)
	}
	// Requests forwarded at 0.6, 3.0, 5.4, 7.8 and 10.2 s, plus the join's.
	const want = 6
	st := r.eng.Stats()
	if st.KeyframeRequestsSent != want || st.KeyframeRequestsLimited != 15 {
		t.Fatalf("sent %d (want %d), limited %d (want 15)", st.KeyframeRequestsSent, want, st.KeyframeRequestsLimited)
	}
	conntest.Eventually(t, "the PLIs at the publisher", func() bool { return r.pub.pliCount() >= want })
	// A later PLI (past every limit) is the barrier: once it is in, nothing else is.
	r.clock.Advance(subscriberKeyframeInterval)
	r.sendSubscriberRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}, received+1)
	conntest.Eventually(t, "the barrier PLI at the publisher", func() bool { return r.pub.pliCount() >= want+1 })
	if n := r.pub.pliCount(); n != want+1 {
		t.Fatalf("the publisher was asked for %d keyframes, want %d", n, want+1)
	}
}

// TestRetransmissionServesKeyframeRequest: a PLI right after a NACK that the SFU could
// answer in full is served by the retransmission, not by a keyframe for everyone; a
// second one is passed on.
func TestRetransmissionServesKeyframeRequest(t *testing.T) {
	r := newMediaRig(t)
	ssrc := r.subSSRC()
	seq := r.pub.send()
	conntest.Eventually(t, "the packet at the subscriber", func() bool { return r.sub.has(seq) })
	r.clock.Advance(subscriberKeyframeInterval) // past the join's request
	nack := &rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{seq})}
	r.sendSubscriberRTCP([]rtcp.Packet{nack, &rtcp.PictureLossIndication{MediaSSRC: ssrc}}, 2)
	st := r.eng.Stats()
	if st.Retransmissions != 1 || st.KeyframeRequestsRepaired != 1 || st.KeyframeRequestsSent != 1 {
		t.Fatalf("retransmissions %d, repaired %d, sent %d; want 1, 1, 1 (the join's)", st.Retransmissions, st.KeyframeRequestsRepaired, st.KeyframeRequestsSent)
	}
	r.clock.Advance(rtxRepairWindow)
	r.sendSubscriberRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}, 3)
	conntest.Eventually(t, "the second PLI at the publisher", func() bool { return r.pub.pliCount() == 2 })
}

// TestSenderReportsAreForwarded: the publisher's sender report reaches the subscriber
// with the subscriber's SSRC and the publisher's NTP/RTP mapping.
func TestSenderReportsAreForwarded(t *testing.T) {
	r := newMediaRig(t)
	const ntp, ts = uint64(0xE1234567_80000000), uint32(123456789)
	err := r.pub.pc.WriteRTCP([]rtcp.Packet{&rtcp.SenderReport{SSRC: r.pub.ssrc, NTPTime: ntp, RTPTime: ts, PacketCount: 999999, OctetCount: 999999}})
	if err != nil {
		t.Fatal(err)
	}
	var got rtcp.SenderReport
	conntest.Eventually(t, "the sender report at the subscriber", func() bool {
		r.sub.mu.Lock()
		defer r.sub.mu.Unlock()
		for _, sr := range r.sub.srs {
			if sr.NTPTime == ntp {
				got = sr
				return true
			}
		}
		return false
	})
	if ssrc := r.subSSRC(); got.SSRC != ssrc || got.SSRC == r.pub.ssrc {
		t.Errorf("report SSRC %d, want the subscriber's %d (publisher's is %d)", got.SSRC, ssrc, r.pub.ssrc)
	}
	if got.RTPTime != ts {
		t.Errorf("report RTP time %d, want %d", got.RTPTime, ts)
	}
	// The counts are the subscription's own (what the SFU sent it), not the publisher's.
	if got.PacketCount == 0 || got.PacketCount == 999999 || got.OctetCount == 999999 {
		t.Errorf("report counts %d packets, %d bytes: not this subscription's", got.PacketCount, got.OctetCount)
	}
}
