package sfu

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TestReceptionReportCounts checks the receiver report's arithmetic (RFC 3550 A.3):
// loss over a wrap of the sequence number, the fraction per interval, retransmissions
// and reordering, and a restart.
func TestReceptionReportCounts(t *testing.T) {
	s := &rrStream{ssrc: 7, clockRate: 90000}
	at := time.Duration(0)
	ts := uint32(1<<32 - 2000) // wraps too
	recv := func(seqs ...uint16) {
		for _, q := range seqs {
			at += 10 * time.Millisecond
			ts += 900
			s.received(q, ts, at) // paced as sent: no jitter
		}
	}
	recv(65530, 65531, 65533, 65534, 65535, 0, 1, 3) // 65532 and 2 lost, a wrap
	r := s.report(time.Time{})
	if r.LastSequenceNumber != 1<<16|3 || r.TotalLost != 2 || r.FractionLost != 2*256/10 {
		t.Fatalf("first report: last %#x lost %d fraction %d, want %#x, 2, %d", r.LastSequenceNumber, r.TotalLost, r.FractionLost, 1<<16|3, 2*256/10)
	}
	if r.Jitter != 0 {
		t.Fatalf("jitter %d of packets paced as they were sent", r.Jitter)
	}
	recv(2, 4, 5, 6, 7) // 2 retransmitted: the total falls, this interval loses nothing
	r = s.report(time.Time{})
	if r.LastSequenceNumber != 1<<16|7 || r.TotalLost != 1 || r.FractionLost != 0 {
		t.Fatalf("second report: last %#x lost %d fraction %d, want %#x, 1, 0", r.LastSequenceNumber, r.TotalLost, r.FractionLost, 1<<16|7)
	}
	recv(20000, 20001) // a restart, not 20000 losses
	r = s.report(time.Time{})
	if r.LastSequenceNumber != 20001 || r.TotalLost != 0 {
		t.Fatalf("after a restart: last %d lost %d, want 20001 and 0", r.LastSequenceNumber, r.TotalLost)
	}
	// Late by 20 ms every other packet: jitter grows towards the 1800 units of it.
	for i := range 64 {
		at += 10 * time.Millisecond
		late := time.Duration(i%2) * 20 * time.Millisecond
		ts += 900
		s.received(uint16(20002+i), ts, at+late)
	}
	if r = s.report(time.Time{}); r.Jitter < 1000 || r.Jitter > 1800 {
		t.Fatalf("jitter %d, want about 1800 (20 ms at 90 kHz)", r.Jitter)
	}
}

// feedbackPublisher is a Pion publisher that numbers its packets for transport-wide
// congestion control (its header extension interceptor) and records the feedback and
// receiver reports it gets.
type feedbackPublisher struct {
	track *webrtc.TrackLocalStaticRTP
	ssrc  uint32
	mu    sync.Mutex
	twcc  []*rtcp.TransportLayerCC
	rrs   []rtcp.ReceptionReport
}

func (p *feedbackPublisher) read(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		p.mu.Lock()
		for _, pkt := range pkts {
			switch pkt := pkt.(type) {
			case *rtcp.TransportLayerCC:
				p.twcc = append(p.twcc, pkt)
			case *rtcp.ReceiverReport:
				for _, r := range pkt.Reports {
					if r.SSRC == p.ssrc {
						p.rrs = append(p.rrs, r)
					}
				}
			}
		}
		p.mu.Unlock()
	}
}

// acked is the number of packets the transport-cc feedback so far reports received,
// each counted once however many feedbacks name it: a packet that arrives after later
// ones were acknowledged is acknowledged again with them (as libwebrtc's receiver
// does), which happens to a stream's first packets when Pion's reader hands them over
// after the socket reader already served the next ones.
func (p *feedbackPublisher) acked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[uint16]bool{}
	for _, fb := range p.twcc {
		seq, left := fb.BaseSequenceNumber, int(fb.PacketStatusCount)
		mark := func(symbol uint16) {
			if left == 0 {
				return
			}
			if symbol != rtcp.TypeTCCPacketNotReceived {
				seen[seq] = true
			}
			seq++
			left--
		}
		for _, c := range fb.PacketChunks {
			switch c := c.(type) {
			case *rtcp.RunLengthChunk:
				for range c.RunLength {
					mark(c.PacketStatusSymbol)
				}
			case *rtcp.StatusVectorChunk:
				for _, symbol := range c.SymbolList {
					mark(symbol)
				}
			}
		}
	}
	return len(seen)
}

// TestPublisherGetsFeedback: the SFU acknowledges every packet a publisher numbers in
// transport-cc feedback, every twccInterval of its clock, and reports per stream what
// was lost in a receiver report every rrInterval.
func TestPublisherGetsFeedback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	clock, _, room := newClockedRoom(t, true)
	pubP, err := room.Join("pub")
	if err != nil {
		t.Fatal(err)
	}
	m := defaultMediaEngine(t)
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, reg); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(testPeerSettings()))
	pc, track, tr := newCameraSender(t, api)
	pub := &feedbackPublisher{track: track, ssrc: uint32(tr.Sender().GetParameters().Encodings[0].SSRC)}
	go pub.read(tr.Sender())
	publishTo(ctx, t, pubP, pc, func() map[string]Source { return map[string]Source{tr.Mid(): SourceCamera} })
	conntest.Eventually(t, "the publish connection", func() bool { return pc.ConnectionState() == webrtc.PeerConnectionStateConnected })

	// 40 packets numbered 2000…2039, of which four never leave: the transport-cc
	// numbers only what is sent, so 36 acknowledgements are due; the receiver report
	// names four lost.
	const first, n = 2000, 40
	lost := map[uint16]bool{2005: true, 2006: true, 2020: true, 2031: true}
	for i := range uint16(n) {
		seq := first + i
		if lost[seq] {
			continue
		}
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true},
			Payload: []byte{0x10, 0x01, 0x00, 0x9d, 0x01, 0x2a, byte(seq)}}
		if err := track.WriteRTP(pkt); err != nil {
			t.Fatal(err)
		}
	}
	// The feedback goes out on the engine's (fake) timers: move them until all of it
	// has come, and a receiver report naming the last packet.
	deadline := time.Now().Add(conntest.Wait)
	for {
		pub.mu.Lock()
		var last *rtcp.ReceptionReport
		if len(pub.rrs) > 0 {
			last = &pub.rrs[len(pub.rrs)-1]
		}
		pub.mu.Unlock()
		if pub.acked() == n-len(lost) && last != nil && last.LastSequenceNumber == first+n-1 {
			if last.TotalLost != uint32(len(lost)) {
				t.Fatalf("the receiver report names %d packets lost, want %d", last.TotalLost, len(lost))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("feedback acknowledged %d of %d packets; last receiver report %+v", pub.acked(), n-len(lost), last)
		}
		clock.Advance(twccInterval)
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFeedbackTicksAreAligned: the feedback of publishers who joined at different
// moments is due at the same instants of the clock (one wake-up for all of them), a
// twccInterval apart.
func TestFeedbackTicksAreAligned(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_000_000, 0))
	var mu sync.Mutex
	sent := map[int][]time.Time{}
	publisher := func(i int) *pubFeedback {
		f := newPubFeedback(clock.Now, clock.AfterFunc, func([]rtcp.Packet) error {
			mu.Lock()
			sent[i] = append(sent[i], clock.Now())
			mu.Unlock()
			return nil
		})
		t.Cleanup(f.close)
		return f
	}
	clock.Advance(30 * time.Millisecond)
	a := publisher(1)
	clock.Advance(40 * time.Millisecond)
	b := publisher(2)
	streams := []*rrStream{a.addStream(1, 90000), b.addStream(2, 90000)}
	for round := range 3 { // every publisher has a packet to acknowledge: every tick sends
		for i, f := range []*pubFeedback{a, b} {
			f.received(streams[i], uint16(round), 0, []byte{0, byte(round)}, clock.Now())
		}
		if err := clock.WaitForTimers(context.Background(), 2); err != nil {
			t.Fatal(err)
		}
		clock.Advance(twccInterval - time.Duration(clock.Now().UnixNano()%int64(twccInterval)))
		conntest.Eventually(t, "both publishers' feedback", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(sent[1]) == round+1 && len(sent[2]) == round+1
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range 3 {
		want := time.Unix(1_000_000, 0).Add(time.Duration(i+1) * twccInterval)
		if !sent[1][i].Equal(want) || !sent[2][i].Equal(want) {
			t.Fatalf("tick %d sent at %v and %v, want both at %v", i, sent[1][i], sent[2][i], want)
		}
	}
}

// TestFeedbackTickSleepsWithoutPackets: with nothing to acknowledge the feedback's
// timer is set for the next receiver report, not the next twccInterval; a packet
// numbered for transport-cc brings the short tick back at once, and the receiver
// reports keep their cadence throughout.
func TestFeedbackTickSleepsWithoutPackets(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	clock := fakeclock.New(start)
	var mu sync.Mutex
	var waits []time.Duration
	var rrs, ccs []time.Duration // when each kind was sent, from the start
	after := func(d time.Duration, f func()) func() bool {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return clock.AfterFunc(d, f)
	}
	f := newPubFeedback(clock.Now, after, func(pkts []rtcp.Packet) error {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.ReceiverReport:
				rrs = append(rrs, clock.Now().Sub(start))
			case *rtcp.TransportLayerCC:
				ccs = append(ccs, clock.Now().Sub(start))
			}
		}
		return nil
	})
	t.Cleanup(f.close)
	s := f.addStream(1, 90000)
	lastWait := func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return waits[len(waits)-1]
	}
	// step moves the clock by d once the next tick is armed, and waits for the tick
	// that falls due (if any) to arm the one after it.
	step := func(d time.Duration) {
		t.Helper()
		if err := clock.WaitForTimers(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n := len(waits)
		mu.Unlock()
		clock.Advance(d)
		conntest.Eventually(t, "the next tick armed", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(waits) > n || clock.Pending() == 1
		})
	}

	step(twccInterval) // the first tick: nothing to acknowledge
	if w := lastWait(); w != rrInterval-twccInterval {
		t.Fatalf("after an empty tick the next is %v away, want %v (the receiver report's)", w, rrInterval-twccInterval)
	}
	clock.Advance(250 * time.Millisecond)
	f.received(s, 1, 0, []byte{0, 1}, clock.Now())
	if w := lastWait(); w != 50*time.Millisecond || clock.Pending() != 1 {
		t.Fatalf("a numbered packet armed a tick %v away (%d pending), want the next multiple of %v, 50ms, alone", w, clock.Pending(), twccInterval)
	}
	step(50 * time.Millisecond) // 400 ms: the packet acknowledged
	step(twccInterval)          // 500 ms: nothing more, asleep until the report at 1 s
	if w := lastWait(); w != 500*time.Millisecond {
		t.Fatalf("after the acknowledgement and an empty tick the next is %v away, want 500ms", w)
	}
	step(500 * time.Millisecond) // 1 s: the report
	step(time.Second)            // 2 s: the next report
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(ccs, []time.Duration{400 * time.Millisecond}) {
		t.Errorf("transport-cc feedback sent at %v, want at 400ms only", ccs)
	}
	if !slices.Equal(rrs, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("receiver reports sent at %v, want at 1s and 2s", rrs)
	}
	if got := len(waits); got != 7 {
		t.Errorf("%d ticks armed in 2 s (%v), want 7", got, waits)
	}
}
