package sfu

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// estLink is a simulated downlink: a drop-tail queue drained at rate, a fixed
// propagation delay, random loss, and a receiver that stalls (its arrival stamps are
// taken when it runs again, as a starved browser's are).
type estLink struct {
	rate     func(at time.Duration) float64 // bit/s; 0: unlimited
	queueMax int                            // bytes
	loss     float64
	stall    func(at time.Duration) time.Duration // when a packet arriving at at is stamped
	busy     time.Duration                        // when the queue is empty again
	burst    int                                  // bytes a token bucket lets through at once after a quiet while
	tokens   float64                              // of the bucket, as of busy
}

// estSim drives an estimator over an estLink: packets of 1200 bytes at send(estimate)
// bit/s, feedback every 100 ms from Pion's TWCC recorder (what a Pion receiver sends),
// marshalled and parsed as on the wire.
type estSim struct {
	t       *testing.T
	e       *estimator
	w       interceptor.RTPWriter
	link    *estLink
	rnd     *rand.Rand
	now     time.Duration
	seq     uint16
	arrived []estArrival
	rec     *twcc.Recorder
	nextFB  time.Duration
	lost    int
	sent    int
	// deaf: the receiver's feedback is built, as it is, and lost on the way.
	deaf bool
}

type estArrival struct {
	at  time.Duration
	seq uint16
}

func newEstSim(t *testing.T, link *estLink) *estSim {
	s := &estSim{t: t, link: link, rnd: rand.New(rand.NewPCG(1, 2)), rec: twcc.NewRecorder(1), nextFB: 100 * time.Millisecond}
	epoch := time.Unix(1_700_000_000, 0)
	s.e = newEstimator(func() time.Time { return epoch.Add(s.now) })
	info := &interceptor.StreamInfo{SSRC: 7, RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: sdp.TransportCCURI, ID: 3}}}
	s.w = s.e.AddStream(info, interceptor.RTPWriterFunc(func(*rtp.Header, []byte, interceptor.Attributes) (int, error) { return 0, nil }))
	return s
}

const estPacket = 1200

// run sends for d at send(estimate) bit/s, calling each after every feedback.
func (s *estSim) run(d time.Duration, send func(est int64) float64, each func()) {
	end := s.now + d
	payload := make([]byte, estPacket-20)
	for s.now < end {
		h := rtp.Header{Version: 2, SSRC: 7, SequenceNumber: s.seq}
		if err := h.SetExtension(3, []byte{byte(s.seq >> 8), byte(s.seq)}); err != nil {
			s.t.Fatal(err)
		}
		if _, err := s.w.Write(&h, payload, nil); err != nil {
			s.t.Fatal(err)
		}
		s.sent++
		s.deliver(s.seq, estPacket)
		s.seq++
		rate := send(s.e.target.Load())
		s.now += time.Duration(float64(estPacket*8) / rate * float64(time.Second))
		for s.now >= s.nextFB {
			s.feedback(s.nextFB)
			s.nextFB += 100 * time.Millisecond
			if each != nil {
				each()
			}
		}
	}
}

func (s *estSim) deliver(seq uint16, size int) {
	l := s.link
	if s.rnd.Float64() < l.loss {
		s.lost++
		return
	}
	at := s.now
	if r := l.rate(s.now); r > 0 {
		backlog := int(max(l.busy-s.now, 0).Seconds() * r / 8)
		if backlog+size > l.queueMax {
			s.lost++
			return
		}
		if l.busy < s.now { // the queue is empty: the bucket filled meanwhile
			l.tokens = min(float64(l.burst), l.tokens+(s.now-l.busy).Seconds()*r/8)
			l.busy = s.now
		}
		if l.tokens >= float64(size) {
			l.tokens -= float64(size) // through at once
		} else {
			l.busy += time.Duration((float64(size) - l.tokens) * 8 / r * float64(time.Second))
			l.tokens = 0
			at = l.busy
		}
	}
	at += 10 * time.Millisecond
	if l.stall != nil {
		at = l.stall(at)
	}
	s.arrived = append(s.arrived, estArrival{at, seq})
}

// feedback reports what arrived by at, as a receiver does.
func (s *estSim) feedback(at time.Duration) {
	sort.SliceStable(s.arrived, func(i, j int) bool { return s.arrived[i].at < s.arrived[j].at })
	n := 0
	for n < len(s.arrived) && s.arrived[n].at <= at {
		s.rec.Record(7, s.arrived[n].seq, s.arrived[n].at.Microseconds())
		n++
	}
	s.arrived = s.arrived[n:]
	for _, p := range s.rec.BuildFeedbackPacket() {
		if s.deaf {
			continue
		}
		raw, err := p.Marshal()
		if err != nil {
			s.t.Fatal(err)
		}
		pkts, err := rtcp.Unmarshal(raw)
		if err != nil {
			s.t.Fatal(err)
		}
		if err := s.e.WriteRTCP(pkts, nil); err != nil {
			s.t.Fatal(err)
		}
	}
}

// train sends a train of padding at once, as the writer does, unless the estimator
// refuses one now.
func (s *estSim) train() {
	if !s.e.startTrain(trainPackets) {
		return
	}
	for range trainPackets {
		h := rtp.Header{Version: 2, SSRC: 7, SequenceNumber: s.seq, Padding: true, PaddingSize: trainPadding}
		if err := h.SetExtension(3, []byte{byte(s.seq >> 8), byte(s.seq)}); err != nil {
			s.t.Fatal(err)
		}
		if _, err := s.w.Write(&h, nil, nil); err != nil {
			s.t.Fatal(err)
		}
		s.deliver(s.seq, h.MarshalSize()+trainPadding)
		s.seq++
	}
	s.e.endTrain()
}

func fixedRate(r float64) func(time.Duration) float64 {
	return func(time.Duration) float64 { return r }
}
func sendAt(r float64) func(int64) float64 { return func(int64) float64 { return r } }

// sendEstimate is a subscriber sent what its estimate allows, up to offered.
func sendEstimate(offered float64) func(int64) float64 {
	return func(est int64) float64 { return min(float64(est), offered) }
}

func TestEstimatorFindsASlowLink(t *testing.T) {
	s := newEstSim(t, &estLink{rate: fixedRate(300_000), queueMax: 32_000})
	s.run(4*time.Second, sendEstimate(1_000_000), nil)
	if est := s.e.GetTargetBitrate(); est > 300_000 || est < 150_000 {
		t.Fatalf("estimate %d on a 300 kbit/s link", est)
	}
}

func TestEstimatorSettlesOnALink(t *testing.T) {
	s := newEstSim(t, &estLink{rate: fixedRate(300_000), queueMax: 32_000})
	s.run(3*time.Second, sendEstimate(2_000_000), nil)
	sent, lost := s.sent, s.lost
	lo, hi := int64(1<<62), int64(0)
	s.run(20*time.Second, sendEstimate(2_000_000), func() {
		est := s.e.target.Load()
		lo, hi = min(lo, est), max(hi, est)
	})
	if lo < 150_000 || hi > 450_000 {
		t.Fatalf("estimate on a 300 kbit/s link ranged %d … %d once settled", lo, hi)
	}
	if loss := float64(s.lost-lost) / float64(s.sent-sent); loss > 0.02 {
		t.Fatalf("%.1f %% lost once settled", 100*loss)
	}
}

func TestEstimatorKeepsAFastLink(t *testing.T) {
	for name, stall := range map[string]func(time.Duration) time.Duration{
		"steady": nil,
		// The receiver stalls 600 ms out of every 2 s: a starved browser. Delay
		// grows for some packets of an interval, never for all of them.
		"stalling": func(at time.Duration) time.Duration {
			if at%(2*time.Second) < 600*time.Millisecond {
				return at - at%(2*time.Second) + 600*time.Millisecond
			}
			return at
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := newEstSim(t, &estLink{rate: fixedRate(0), stall: stall})
			low := int64(bweInitial)
			s.run(20*time.Second, sendAt(1_000_000), func() { low = min(low, s.e.target.Load()) })
			if low < bweInitial {
				t.Fatalf("estimate fell to %d on a fast link sent 1 Mbit/s", low)
			}
			if est := s.e.GetTargetBitrate(); est > 1_550_000 { // 1.5 × 1 Mbit/s, and the measure of a rate over n packets counts n-1 gaps
				t.Fatalf("estimate %d: more than half again what is sent", est)
			}
		})
	}
}

func TestEstimatorCutsOnLoss(t *testing.T) {
	s := newEstSim(t, &estLink{rate: fixedRate(0), loss: 0.2})
	s.run(3*time.Second, sendAt(1_000_000), nil)
	if est := s.e.GetTargetBitrate(); est > 900_000 {
		t.Fatalf("estimate %d with 20 %% loss at 1 Mbit/s", est)
	}
}

func TestEstimatorClimbsWhenTheLinkGrows(t *testing.T) {
	lifted := 5 * time.Second
	s := newEstSim(t, &estLink{queueMax: 32_000, rate: func(at time.Duration) float64 {
		if at < lifted {
			return 300_000
		}
		return 3_000_000
	}})
	s.run(lifted, sendEstimate(2_000_000), nil)
	if est := s.e.GetTargetBitrate(); est > 450_000 {
		t.Fatalf("estimate %d before the link grew", est)
	}
	var reached time.Duration
	s.run(20*time.Second, sendEstimate(2_000_000), func() {
		if reached == 0 && s.e.target.Load() >= 2_000_000 {
			reached = s.now - lifted
		}
	})
	if reached == 0 {
		t.Fatalf("estimate %d 20 s after the link grew to 3 Mbit/s", s.e.GetTargetBitrate())
	}
	t.Logf("climbed to 2 Mbit/s in %v", reached)
}

// TestEstimatorTrainFindsRoom: a subscriber that found its link slow and is then sent
// 120 kbit/s cannot learn from what
// it is sent that its 300 kbit/s link (with a token bucket's burst) grew to 3 Mbit/s;
// a train tells. On the slow link, with the bucket full, trains do not take the
// estimate past what the link carries.
func TestEstimatorTrainFindsRoom(t *testing.T) {
	lifted := 8 * time.Second
	s := newEstSim(t, &estLink{queueMax: 32_000, burst: 4000, rate: func(at time.Duration) float64 {
		if at < lifted {
			return 300_000
		}
		return 3_000_000
	}})
	var trainAt time.Duration
	trainEach := func() {
		if s.now-trainAt >= time.Second {
			trainAt = s.now
			s.train()
		}
	}
	s.run(4*time.Second, sendEstimate(1_000_000), nil) // finds the slow link
	s.lost = 0
	s.run(lifted-s.now, sendAt(120_000), trainEach)
	if est := s.e.GetTargetBitrate(); est > 400_000 {
		t.Fatalf("estimate %d on a 300 kbit/s link with trains (measured %.0f)", est, s.e.last.trainRate)
	}
	s.run(1500*time.Millisecond, sendAt(120_000), trainEach)
	if est := s.e.GetTargetBitrate(); est < 1_500_000 {
		t.Fatalf("estimate %d after trains on the link lifted to 3 Mbit/s (measured %.0f)", est, s.e.last.trainRate)
	}
	if s.lost > 0 {
		t.Errorf("%d packets lost to the trains", s.lost)
	}
}

// TestEstimatorIgnoresForeignFeedback: feedback for packets never sent, reports that
// contradict themselves, and other RTCP change nothing and never fail.
func TestEstimatorIgnoresForeignFeedback(t *testing.T) {
	e := newEstimator(time.Now)
	pkts := []rtcp.Packet{
		&rtcp.TransportLayerCC{BaseSequenceNumber: 100, PacketStatusCount: 50,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: 50}}},
		&rtcp.TransportLayerCC{PacketStatusCount: 9000, // more statuses than deltas
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 8000}}},
		&rtcp.PictureLossIndication{MediaSSRC: 1},
	}
	if err := e.WriteRTCP(pkts, nil); err != nil {
		t.Fatal(err)
	}
	if got := e.GetTargetBitrate(); got != bweInitial {
		t.Fatalf("estimate %d after feedback on nothing sent", got)
	}
}

// FuzzTransportCCFeedback: whatever RTCP a subscriber sends, the estimator neither
// fails nor leaves its range.
func FuzzTransportCCFeedback(f *testing.F) {
	rec := twcc.NewRecorder(1)
	for i := range 40 {
		if i%7 != 3 {
			rec.Record(7, uint16(i), int64(i)*2500)
		}
	}
	for _, p := range rec.BuildFeedbackPacket() {
		raw, err := p.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte{0x8f, 0xcd, 0x00, 0x05, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 0, 0x20, 0x03, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		pkts, err := rtcp.Unmarshal(raw)
		if err != nil {
			return
		}
		e := newEstimator(time.Now)
		for i := range 64 {
			e.onSent(uint16(i), 1200)
		}
		if err := e.WriteRTCP(pkts, nil); err != nil {
			t.Fatal(err)
		}
		if got := e.GetTargetBitrate(); got < bweMin || got > bweMax {
			t.Fatalf("estimate %d out of range", got)
		}
	})
}

// TestEstimatorRingGrowsOnlyWhenNeeded: a subscriber sent a few packets a second keeps
// the small ring; a burst of packets whose feedback is still awaited grows it, so
// feedback for the first of them is still matched.
func TestEstimatorRingGrowsOnlyWhenNeeded(t *testing.T) {
	var now time.Duration
	epoch := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return epoch.Add(now) }

	slow := newEstimator(clock)
	for i := range 600 { // 50 packets a second, never acknowledged
		slow.onSent(uint16(i), 1200)
		now += 20 * time.Millisecond
	}
	if len(slow.ring) != estRingMin {
		t.Fatalf("ring of %d for 50 packets a second, want %d", len(slow.ring), estRingMin)
	}

	burst := newEstimator(clock)
	for i := range 600 { // 600 packets in 60 ms, none acknowledged yet
		burst.onSent(uint16(i), 1200)
		now += 100 * time.Microsecond
	}
	if len(burst.ring) != estRing {
		t.Fatalf("ring of %d after a burst of 600 awaited packets, want %d", len(burst.ring), estRing)
	}
	for _, seq := range []uint16{0, 1, 299, 599} {
		if p := burst.ring[int(seq)&(len(burst.ring)-1)]; p.seq != seq || p.at == 0 || p.state != pktAwaiting {
			t.Fatalf("packet %d forgotten after the ring grew: %+v", seq, p)
		}
	}
	burst.mu.Lock()
	burst.acked(0, true, 1000)
	burst.mu.Unlock()
	if p := burst.ring[0]; p.state != pktReceived {
		t.Fatalf("feedback for the first packet of the burst not matched: %+v", p)
	}
}
