package sfu

import (
	"context"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// Tests of what a subscriber that means harm can make the server do with the feedback
// it sends on its subscribe connection.

// manyStatuses is transport-cc feedback that claims maxFeedbackStatuses packets (four
// packets of 1024 not received, each one run-length chunk) in 96 bytes.
func manyStatuses() []byte {
	one := []byte{0x8f, 205, 0, 5, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0x04, 0x00, 0, 0, 1, 0, 0x04, 0x00, 0, 0}
	var b []byte
	for range maxFeedbackStatuses / 1024 {
		b = append(b, one...)
	}
	return b
}

// TestFeedbackClaims: the work a datagram asks for is read from its headers:
// transport-cc statuses, NACKed sequence numbers (at most maxNackedPerDatagram) and
// keyframe requests; a receiver report asks for none.
func TestFeedbackClaims(t *testing.T) {
	seqs := func(n int) []uint16 {
		s := make([]uint16, n)
		for i := range s {
			s[i] = uint16(1000 + i)
		}
		return s
	}
	nack := func(n int) rtcp.Packet {
		return &rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs(n))}
	}
	for _, c := range []struct {
		name           string
		pkts           []rtcp.Packet
		statuses, asks int
	}{
		{"receiver report", []rtcp.Packet{&rtcp.ReceiverReport{SSRC: 2, Reports: []rtcp.ReceptionReport{{SSRC: 1}}}}, 0, 0},
		{"feedback", fuzzFeedback(), 3, 0},
		{"NACK", []rtcp.Packet{nack(40)}, 0, 40},
		{"NACKs past the datagram's bound", []rtcp.Packet{nack(400), nack(400)}, 0, maxNackedPerDatagram},
		{"PLIs and a FIR", []rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: 1}, &rtcp.PictureLossIndication{MediaSSRC: 1},
			&rtcp.FullIntraRequest{MediaSSRC: 1, FIR: []rtcp.FIREntry{{SSRC: 1}, {SSRC: 2}, {SSRC: 3}}}}, 0, 5},
	} {
		b, err := rtcp.Marshal(c.pkts)
		if err != nil {
			t.Fatal(err)
		}
		if s, a := feedbackClaims(b); s != c.statuses || a != c.asks {
			t.Errorf("%s: claims %d statuses and %d asks, want %d and %d", c.name, s, a, c.statuses, c.asks)
		}
	}
	if s, _ := feedbackClaims(manyStatuses()); s != maxFeedbackStatuses {
		t.Errorf("manyStatuses claims %d statuses", s)
	}
}

// TestFeedbackWorkIsBudgeted: datagrams of feedback that each claim as many statuses as
// one may are served only within the connection's budget on the engine's clock (at
// one instant: feedbackBurst); beyond it they are refused unparsed, while a datagram
// that asks for no work (a receiver report) is still read. Once the clock has moved,
// feedback is read again.
func TestFeedbackWorkIsBudgeted(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_000_000, 0))
	routes, ap := subscriberRouteOn(t, clock.Now)
	send := srtcpSender(t, routes, ap)
	const storm = 50 // more than the budget holds at once
	for range storm {
		send(manyStatuses())
	}
	burst := feedbackBurst / feedbackWork(maxFeedbackStatuses, 0)
	if r, f := routes.read.Load(), routes.refused.Load(); r != uint64(burst) || f != storm-uint64(burst) {
		t.Fatalf("%d datagrams of %d statuses each at one instant: %d read, %d refused; want %d read (the budget's %d units)",
			storm, maxFeedbackStatuses, r, f, burst, feedbackBurst)
	}
	rr, err := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 2, Reports: []rtcp.ReceptionReport{{SSRC: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	send(rr)
	if r := routes.read.Load(); r != uint64(burst)+1 {
		t.Fatal("a receiver report was refused with the budget spent")
	}
	clock.Advance(time.Second * maxFeedbackStatuses / feedbackRate)
	send(manyStatuses())
	if r := routes.read.Load(); r != uint64(burst)+2 {
		t.Fatal("feedback was refused once the budget had grown back")
	}
}

// TestNackStormIsBudgeted: a subscriber that sends datagram after datagram of NACKs
// for packets the server has cached makes the socket reader look up each number it
// names (a lock and a search of the segments, then the cache's lock): 66 µs for a
// datagram of 136 bytes, 170 times what one that fails to decrypt costs, as fast as the
// subscriber likes, on the goroutine that reads every publisher's media. With
// the engine's clock standing still, no more numbers than the connection's budget are
// looked up, however many datagrams come.
func TestNackStormIsBudgeted(t *testing.T) {
	r := newMediaRig(t)
	waitRegistered(t, r)
	var seqs []uint16
	for range 64 {
		seqs = append(seqs, r.pub.send())
	}
	conntest.Eventually(t, "the packets at the subscriber", func() bool { return r.sub.has(seqs[len(seqs)-1]) })
	ssrc := r.subSSRC()
	var pkts []rtcp.Packet // maxNackedPerDatagram numbers: the most one datagram has answered
	for range maxNackedPerDatagram / len(seqs) {
		pkts = append(pkts, &rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)})
	}
	before := r.eng.Stats()
	const storm = 40
	for range storm {
		if err := r.sub.pc.WriteRTCP(pkts); err != nil {
			t.Fatal(err)
		}
	}
	conntest.Eventually(t, "the storm at the SFU", func() bool {
		st := r.eng.Stats()
		return st.SubscriberRTCPRead+st.SubscriberRTCPRefused >= before.SubscriberRTCPRead+before.SubscriberRTCPRefused+storm
	})
	after := r.eng.Stats()
	looked := after.Retransmissions + after.RetransmissionsDropped - before.Retransmissions - before.RetransmissionsDropped
	if looked > feedbackBurst {
		t.Fatalf("%d datagrams naming %d cached packets each at one instant: %d looked up (%d NACK packets served), want at most the budget's %d",
			storm, maxNackedPerDatagram, looked, after.NACKsReceived-before.NACKsReceived, feedbackBurst)
	}
	if looked == 0 {
		t.Fatal("no NACK was served at all")
	}
	// Once the clock has moved, NACKs are answered again. The storm's answers (some
	// 2,000 small packets at once) can overflow the subscriber's socket under the race
	// detector, and a packet or NACK sent with them is lost: each is sent again every
	// 100 ms until it is through (the budget's verdict above is not in question here).
	r.clock.Advance(time.Second)
	var seq uint16
	var sentAt time.Time
	conntest.Eventually(t, "a packet at the subscriber after the storm", func() bool {
		if !sentAt.IsZero() && r.sub.has(seq) {
			return true
		}
		if time.Since(sentAt) > 100*time.Millisecond {
			seq, sentAt = r.pub.send(), time.Now()
		}
		return false
	})
	was := r.eng.Stats().Retransmissions
	sentAt = time.Time{}
	conntest.Eventually(t, "the NACK answered after the storm", func() bool {
		if r.eng.Stats().Retransmissions > was {
			return true
		}
		if time.Since(sentAt) > 100*time.Millisecond {
			sentAt = time.Now()
			if err := r.sub.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{seq})}}); err != nil {
				t.Fatal(err)
			}
		}
		return false
	})
}

// TestBlockedSourceIsNotRetransmitted: the packets a camera sent before a moderator
// stopped it stay in its track's cache while it is stopped (no packet comes to expire
// them). Someone who joins meanwhile gets nothing of the camera, no replay of its last
// keyframe either (replay.go); a NACK that names those packets' numbers must not get
// them either, a minute after the stop as at once.
func TestBlockedSourceIsNotRetransmitted(t *testing.T) {
	r := newMediaRig(t)
	var seqs []uint16
	for range 16 {
		seqs = append(seqs, r.pub.send())
	}
	conntest.Eventually(t, "the packets at the subscriber", func() bool { return r.sub.has(seqs[len(seqs)-1]) })
	r.pubP.Block(SourceCamera, true)
	r.clock.Advance(time.Minute)

	p, err := r.subP.room.Join("late")
	if err != nil {
		t.Fatal(err)
	}
	late := subscribeLate(t, p)
	var d *downTrack
	conntest.Eventually(t, "the late subscriber connected, its SRTCP read by the SFU", func() bool {
		if downs := p.subscriptions(); len(downs) == 1 {
			d = downs[0]
		}
		p.routeMu.Lock()
		registered := p.rtcpFrom.IsValid()
		p.routeMu.Unlock()
		return d != nil && d.binding.Load() != nil && registered &&
			late.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	before := r.eng.Stats()
	nack := &rtcp.TransportLayerNack{MediaSSRC: d.binding.Load().ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}
	if err := late.pc.WriteRTCP([]rtcp.Packet{nack}); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the NACK at the SFU", func() bool {
		st := r.eng.Stats()
		return st.NACKsReceived > before.NACKsReceived && st.SubscriberRTCPRead > before.SubscriberRTCPRead
	})
	if n := r.eng.Stats().Retransmissions - before.Retransmissions; n != 0 {
		t.Fatalf("a member who joined while the camera was stopped was sent %d of its packets from before the stop", n)
	}
}

// TestRebindingAsksWithinTheSubscribersLimits: a subscriber can have its subscription
// unbound and bound again as often as it restarts ICE (each restart is an offer; an
// answer that refuses the track's section unbinds it, the next that accepts it binds
// it). The keyframe a new subscription asks for passes every limit of the subscriber's
// (keyframe.go), so that joining is never held back; a subscription bound again is no
// join, and asks within the limits its PLIs have: at most one per
// subscriberKeyframeInterval, not one each time the publisher track's throttle lets
// one through (keyframeInterval), for everyone the publisher sends to.
func TestRebindingAsksWithinTheSubscribersLimits(t *testing.T) {
	r := newMediaRig(t)
	r.clock.Advance(subscriberKeyframeInterval)
	refuse := func(sdp string) string {
		out := strings.ReplaceAll(sdp, "a=recvonly", "a=inactive")
		if out == sdp {
			t.Fatal("no recvonly section in the answer")
		}
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	before := r.eng.Stats().KeyframeRequestsSent
	const cycles = 8 // each refuses the section, then takes it back
	for range cycles {
		for _, edit := range []func(string) string{refuse, func(sdp string) string { return sdp }} {
			r.subP.RestartSubscribeICE()
			o, err := r.subP.NextSubscribeOffer(ctx)
			if err != nil || o == nil {
				t.Fatalf("the restart's offer: %v %v", o, err)
			}
			if err := r.subP.AcceptSubscribeAnswer(edit(answerWith(t, r.sub.pc, o.SDP))); err != nil {
				t.Fatal(err)
			}
		}
		r.clock.Advance(keyframeInterval)
	}
	elapsed := cycles * keyframeInterval
	limit := uint64(elapsed/subscriberKeyframeInterval) + 1
	switch n := r.eng.Stats().KeyframeRequestsSent - before; {
	case n > limit:
		t.Fatalf("%d binds in %v made the publisher send %d keyframe requests; the subscriber's PLIs may make %d", cycles, elapsed, n, limit)
	case n == 0:
		t.Fatal("a subscription bound again asked for no keyframe")
	}
}

// FuzzSubscriberRTCPServed: whatever a subscriber's keys encrypt reaches what serves
// it (FuzzSubscriberRTCP's participant subscribes to nothing): a video subscription
// bound under SSRC 1 whose track has packets cached, and the connection's estimator,
// with packets sent under transport-wide numbers 0 to 99. Nothing panics, and no
// datagram looks up more sequence numbers than one may.
func FuzzSubscriberRTCPServed(f *testing.F) {
	for _, pkts := range [][]rtcp.Packet{
		{&rtcp.PictureLossIndication{MediaSSRC: 1}},
		{&rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{1, 2, 3, 40, 65535})}},
		fuzzFeedback(),
		{&rtcp.FullIntraRequest{MediaSSRC: 1, FIR: []rtcp.FIREntry{{SSRC: 1}, {SSRC: 1}}}},
		{&rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: []rtcp.NackPair{{PacketID: 0, LostPackets: 0xffff}}}, &rtcp.PictureLossIndication{MediaSSRC: 1}},
	} {
		b, err := rtcp.Marshal(pkts)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(manyStatuses())
	f.Fuzz(func(t *testing.T, b []byte) {
		d, q, _ := newWriterSub(&forwarder{passthrough: true})
		q.rtx = newItemRing(rtxQueueLen)
		p := d.sub
		p.indexSSRC(1, d, true)
		cache := &d.up.layer(0).cache
		for s := range uint16(64) {
			cache.put(&packet{id: uint32(s) + 1, header: rtp.Header{Version: 2, SequenceNumber: s}, payload: []byte{0x10, 0x01, 0x00}})
		}
		est := p.bw.est.(*estimator)
		for s := range uint16(100) {
			est.onSent(s, 1200)
		}
		in, err := newRTCPIn(p, fuzzRTCPKeys, srtp.ProtectionProfileAeadAes128Gcm, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		if !isRTCP(b) {
			return
		}
		enc, err := fuzzSRTCPSender(t).EncryptRTCP(nil, b, nil)
		if err != nil {
			return
		}
		_ = in.serve(enc)
		st := d.up.stats
		if looked := st.retransmissions.Load() + st.retransmissionsDropped.Load(); looked > maxNackedPerDatagram+16 {
			t.Fatalf("one datagram looked up %d sequence numbers", looked)
		}
	})
}
