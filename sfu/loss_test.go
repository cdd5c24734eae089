package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"conclave/internal/conntest"
)

// lossClock is a clock the lossTracker tests move by hand.
type lossClock struct{ t time.Time }

func (c *lossClock) now() time.Time { return c.t }

// TestLossTrackerAcrossWrap: a gap across the 16-bit wrap is NACKed at once, asked for
// again when due, forgotten when the packet arrives late, and given up after
// maxNackTries when it never does.
func TestLossTrackerAcrossWrap(t *testing.T) {
	c := &lossClock{t: time.Unix(0, 0)}
	var l lossTracker
	feed := func(seq uint16) ([]uint16, int) { return l.onPacket(seq, c.now, nil) }
	feed(65533)
	feed(65534)
	got, _ := feed(1) // 65535 and 0 missing
	if len(got) != 2 || got[0] != 65535 || got[1] != 0 {
		t.Fatalf("NACK on the gap %v, want [65535 0]", got)
	}
	if got, _ := feed(2); len(got) != 0 {
		t.Fatalf("asked again before it was due: %v", got)
	}
	feed(0) // arrives late: no longer missing
	tries := 1
	for i := uint16(3); i < 40; i++ {
		c.t = c.t.Add(nackRetryInterval)
		got, gaveUp := feed(i)
		for _, s := range got {
			if s != 65535 {
				t.Fatalf("asked for %d, which arrived", s)
			}
			tries++
		}
		if gaveUp > 1 {
			t.Fatalf("gave up %d", gaveUp)
		}
	}
	if tries != maxNackTries || len(l.missing) != 0 {
		t.Fatalf("asked %d times (want %d), still tracking %d", tries, maxNackTries, len(l.missing))
	}
}

// TestLossTrackerBounded: a large gap tracks at most maxMissing packets, and a jump
// beyond maxNackGap (a restarted stream) is not taken for loss.
func TestLossTrackerBounded(t *testing.T) {
	c := &lossClock{t: time.Unix(0, 0)}
	var l lossTracker
	l.onPacket(100, c.now, nil)
	got, gaveUp := l.onPacket(100+200, c.now, nil)
	if len(l.missing) != maxMissing || gaveUp != 199-maxMissing || len(got) != 199 {
		t.Fatalf("tracking %d, gave up %d, asked %d", len(l.missing), gaveUp, len(got))
	}
	got, gaveUp = l.onPacket(100+200+maxNackGap+1, c.now, nil)
	if len(got) != 0 || len(l.missing) != 0 || gaveUp != maxMissing {
		t.Fatalf("after a jump: asked %d, tracking %d, gave up %d", len(got), len(l.missing), gaveUp)
	}
}

// FuzzLossTracker: whatever sequence numbers and clock steps arrive, the tracker stays
// bounded and asks for no packet more than maxNackTries times.
func FuzzLossTracker(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 5, 3, 9, 1, 3, 255, 255, 0, 0})
	f.Add([]byte{0xff, 0xfe, 0x00, 0x10, 0x00, 0x02, 0x80, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &lossClock{t: time.Unix(0, 0)}
		var l lossTracker
		asked := map[uint16]int{}
		for i := 0; i+1 < len(b); i += 2 {
			seq := uint16(b[i])<<8 | uint16(b[i+1])
			c.t = c.t.Add(time.Duration(b[i]%100) * time.Millisecond)
			got, _ := l.onPacket(seq, c.now, nil)
			for _, s := range got {
				asked[s]++
			}
			if len(l.missing) > maxMissing {
				t.Fatalf("tracking %d", len(l.missing))
			}
		}
		for s, n := range asked {
			// A packet can go missing again after its sequence number comes round.
			if n > maxNackTries*(len(b)/2+1) {
				t.Fatalf("asked for %d %d times", s, n)
			}
		}
		for _, m := range l.missing {
			if m.tries > maxNackTries {
				t.Fatalf("%d tried %d times", m.seq, m.tries)
			}
		}
	})
}

// TestRtxPacer: the budget allows a burst, refuses beyond it, and refills with time.
func TestRtxPacer(t *testing.T) {
	var p rtxPacer
	now := time.Unix(0, 0)
	n := 0
	for p.take(now, 1200) {
		n++
	}
	if n != rtxBurst/1200 {
		t.Fatalf("burst of %d packets, want %d", n, rtxBurst/1200)
	}
	now = now.Add(100 * time.Millisecond) // 12500 bytes at 1 Mbit/s
	n = 0
	for p.take(now, 1200) {
		n++
	}
	if n != 10 {
		t.Fatalf("%d packets after 100 ms, want 10", n)
	}
}

// TestRtxPacerFollowsTheEstimate: the bound the allocation sets holds from the next
// retransmission, a full bucket cut down to the new burst at once (a cut of the estimate
// after a failed climb), and it follows what the estimate allows: at least an eighth of
// it, what the allocation leaves when more, never above 1 Mbit/s; a burst of 200 ms of
// it, within a few packets and 48.
func TestRtxPacerFollowsTheEstimate(t *testing.T) {
	for _, c := range []struct {
		budget, left, rate, burst int64
	}{
		{300_000, 100_000, 100_000 / 8, 7_500},
		{300_000, -50_000, 300_000 / 8 / 8, 7_500},
		{100_000, 0, 100_000 / 8 / 8, rtxMinBurst},
		{5_000_000, 3_000_000, rtxRate, rtxBurst},
		{20_000_000, 0, rtxRate, rtxBurst},
	} {
		rate, burst := rtxLimitFor(c.budget, c.left)
		if want := min(c.rate, rtxRate); rate != want || burst != c.burst {
			t.Errorf("estimate %d, %d left: %d B/s, burst %d; want %d, %d", c.budget, c.left, rate, burst, want, c.burst)
		}
	}

	var p rtxPacer
	now := time.Unix(0, 0)
	if !p.take(now, 1200) { // full at 57.6 KB
		t.Fatal("refused at first")
	}
	p.setLimit(rtxLimitFor(300_000, 100_000))
	n := 0
	for p.take(now, 1200) {
		n++
	}
	if n != 7_500/1200 {
		t.Fatalf("%d packets at once after the cut, want %d", n, 7_500/1200)
	}
	now = now.Add(time.Second) // 12.5 KB at 100 kbit/s, but the burst is 7.5 KB
	n = 0
	for p.take(now, 1200) {
		n++
	}
	if n != 7_500/1200 {
		t.Fatalf("%d packets after a second, want %d", n, 7_500/1200)
	}
	now = now.Add(480 * time.Millisecond) // 6 KB
	n = 0
	for p.take(now, 1200) {
		n++
	}
	if n != 5 {
		t.Fatalf("%d packets after 480 ms at 100 kbit/s, want 5", n)
	}
}

// TestRetransmissionsQueueBehindAudio: with audio, retransmissions and video all waiting,
// the writer sends audio first, then retransmissions, then video; retransmissions beyond
// their queue are dropped and counted, never put among the audio.
func TestRetransmissionsQueueBehindAudio(t *testing.T) {
	up := newTestUpTrack()
	w := &recordingWriter{block: make(chan struct{}), entered: make(chan struct{}, 1024)}
	d := newTestSub(t, up, 1, w)
	q := d.sub.out
	q.enqueue(sendItem{d: d, p: &packet{header: rtp.Header{SequenceNumber: 1}}}, false)
	<-w.entered // the writer holds packet 1 and blocks
	for i := 0; i < 5; i++ {
		q.enqueue(sendItem{d: d, p: &packet{header: rtp.Header{SequenceNumber: uint16(100 + i)}}}, false)
	}
	for i := 0; i < cacheSize; i++ {
		up.layer(0).cache.put(&packet{header: rtp.Header{SequenceNumber: uint16(200 + i)}, payload: make([]byte, 500)})
	}
	var seqs []uint16
	for i := 0; i < rtxQueueLen+10; i++ {
		seqs = append(seqs, uint16(200+i))
	}
	d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}})
	for i := 0; i < 3; i++ {
		q.enqueue(sendItem{d: d, p: &packet{header: rtp.Header{SequenceNumber: uint16(300 + i)}}}, true)
	}
	if got := up.stats.retransmissionsDropped.Load(); got != 10 {
		t.Fatalf("%d retransmissions dropped, want 10 (queue of %d)", got, rtxQueueLen)
	}
	w.unblock()
	want := 1 + 3 + rtxQueueLen + 5
	conntest.Eventually(t, "every queued packet written", func() bool { return len(w.got()) == want })
	got := w.got()
	class := func(s uint16) int {
		switch {
		case s >= 300:
			return 0 // audio
		case s >= 200:
			return 1 // retransmission
		default:
			return 2 // video
		}
	}
	for i := 2; i < len(got); i++ {
		if class(got[i].SequenceNumber) < class(got[i-1].SequenceNumber) {
			t.Fatalf("packet %d went out after %d", got[i].SequenceNumber, got[i-1].SequenceNumber)
		}
	}
}

// TestSubscriberKeyframes: an answered NACK absorbs one request; requests come through
// at most once per interval; absorbing cannot hold requests back for ever.
func TestSubscriberKeyframes(t *testing.T) {
	var s subscriberKeyframes
	t0 := time.Unix(0, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	steps := []struct {
		nack bool
		at   time.Duration
		want keyframeVerdict
	}{
		{false, 0, keyframeForward},
		{false, time.Second, keyframeLimited},
		{true, 2 * time.Second, keyframeRepaired},
		{false, 2*time.Second + 10*time.Millisecond, keyframeForward},
		{true, 5 * time.Second, keyframeRepaired}, // the last absorb was 3 s ago
	}
	for i, st := range steps {
		if st.nack {
			s.answeredNack(at(st.at))
		}
		if got := s.request(at(st.at)); got != st.want {
			t.Fatalf("step %d: verdict %d, want %d", i, got, st.want)
		}
	}
	// An answered NACK before every request, but absorbed only once per interval.
	s.answeredNack(at(5*time.Second + 100*time.Millisecond))
	if got := s.request(at(5*time.Second + 100*time.Millisecond)); got != keyframeForward {
		t.Fatalf("second absorb inside the interval: verdict %d, want forward", got)
	}
}

// TestLossTrackerProbeTail: the packet after the newest is asked for once, tracked as
// missing, forgotten when it arrives, and not asked for again when the packet after it
// comes first.
func TestLossTrackerProbeTail(t *testing.T) {
	c := &lossClock{t: time.Unix(0, 0)}
	var l lossTracker
	if got, _ := l.probeTail(c.now, nil); len(got) != 0 {
		t.Fatalf("probed %v before any packet", got)
	}
	l.onPacket(10, c.now, nil)
	if got, _ := l.probeTail(c.now, nil); len(got) != 1 || got[0] != 11 {
		t.Fatalf("probed %v, want [11]", got)
	}
	if got, _ := l.onPacket(12, c.now, nil); len(got) != 0 {
		t.Fatalf("the next packet asked for %v again", got)
	}
	l.onPacket(11, c.now, nil)
	if len(l.missing) != 0 {
		t.Fatalf("still missing %v after it arrived", l.missing)
	}
}

// TestTailWatch: armed after a packet whose frame goes on, for a wait that follows the
// gaps between a frame's packets within its bounds; disarmed by the frame's last.
func TestTailWatch(t *testing.T) {
	var w tailWatch
	at := time.Unix(0, 0)
	wait, change := w.seen(1, false, at)
	if !change || wait != tailWaitMin {
		t.Fatalf("first packet: wait %v change %v, want %v", wait, change, tailWaitMin)
	}
	for i := 0; i < 100; i++ { // a paced frame: a packet every 20 ms
		at = at.Add(20 * time.Millisecond)
		wait, _ = w.seen(2, false, at)
	}
	if wait != tailWaitMax {
		t.Fatalf("paced at 20 ms: wait %v, want %v", wait, tailWaitMax)
	}
	if wait, change = w.seen(2, true, at); wait != 0 || !change {
		t.Fatalf("last packet: wait %v change %v, want disarmed", wait, change)
	}
	if _, change = w.seen(3, true, at); change {
		t.Fatal("a second frame end changed a disarmed deadline")
	}
}

// TestLossTrackerRetryFollowsRepairs: until a repair is timed a packet is asked for
// again after nackRetryInterval; once the publisher resends within a few milliseconds,
// after nackRetryMin; a slow publisher's repairs keep the wait at nackRetryInterval.
func TestLossTrackerRetryFollowsRepairs(t *testing.T) {
	c := &lossClock{t: time.Unix(0, 0)}
	var l lossTracker
	feed := func(seq uint16) []uint16 { got, _ := l.onPacket(seq, c.now, nil); return got }
	feed(10)
	feed(12) // 11 asked for
	if got := l.retryAfter(); got != nackRetryInterval {
		t.Fatalf("untimed: retry after %v, want %v", got, nackRetryInterval)
	}
	c.t = c.t.Add(4 * time.Millisecond)
	feed(11) // resent within 4 ms
	if got := l.retryAfter(); got != nackRetryMin {
		t.Fatalf("4 ms repairs: retry after %v, want %v", got, nackRetryMin)
	}
	feed(14) // 13 asked for
	c.t = c.t.Add(nackRetryMin)
	if got := feed(15); len(got) != 1 || got[0] != 13 {
		t.Fatalf("after %v: asked for %v, want [13] again", nackRetryMin, got)
	}
	for s := uint16(20); s < 80; s += 2 { // a publisher that takes 200 ms to resend
		feed(s)
		c.t = c.t.Add(200 * time.Millisecond)
		feed(s - 1)
	}
	if got := l.retryAfter(); got != nackRetryInterval {
		t.Fatalf("200 ms repairs: retry after %v, want %v", got, nackRetryInterval)
	}
}

// TestNackAnsweredForABoundedCount: NACKs that fill their datagram with pairs naming
// the same cached packets thousands of times, in one NACK packet or in ten, are
// answered for at most maxNackedPerDatagram of them (and the pair that crosses it):
// each is a lock and a search, and a subscriber may send such NACKs as fast as it likes.
func TestNackAnsweredForABoundedCount(t *testing.T) {
	up := newTestUpTrack()
	w := &recordingWriter{block: make(chan struct{}), entered: make(chan struct{}, 1024)}
	d := newTestSub(t, up, 1, w)
	t.Cleanup(w.unblock)
	for i := 0; i < 17; i++ {
		up.layer(0).cache.put(&packet{header: rtp.Header{SequenceNumber: uint16(200 + i)}, payload: make([]byte, 500)})
	}
	st := up.stats
	for _, split := range []int{1, 10} {
		before := st.retransmissions.Load() + st.retransmissionsDropped.Load()
		var pkts []rtcp.Packet
		for range split { // 17 sequence numbers a pair: 6,120 in 1,452 bytes
			nack := &rtcp.TransportLayerNack{}
			for range 360 / split {
				nack.Nacks = append(nack.Nacks, rtcp.NackPair{PacketID: 200, LostPackets: 0xffff})
			}
			pkts = append(pkts, nack)
		}
		d.handleRTCP(pkts)
		answered := st.retransmissions.Load() + st.retransmissionsDropped.Load() - before
		if answered < maxNackedPerDatagram || answered > maxNackedPerDatagram+16 {
			t.Fatalf("in %d NACK packets: %d of 6120 named packets answered, want %d (and the rest of a pair)", split, answered, maxNackedPerDatagram)
		}
	}
}

// TestLossTrackerGapAtOnce: a gap's packets tracked in one pass are NACKed, tracked and
// given up exactly as when each packet of the gap was asked for in turn (which shifted
// the whole list once a packet when it was full: a publisher skipping maxNackGap
// numbers with every packet cost the socket reader tens of thousands of steps a
// packet; BenchmarkLossTracker).
func TestLossTrackerGapAtOnce(t *testing.T) {
	c := &lossClock{t: time.Unix(0, 0)}
	rnd := uint32(1)
	next := func() uint32 { rnd = rnd*1664525 + 1013904223; return rnd >> 8 }
	for run := 0; run < 200; run++ {
		var l, ref lossTracker
		seq := uint16(next())
		l.onPacket(seq, c.now, nil)
		ref.onPacket(seq, c.now, nil)
		for i := 0; i < 300; i++ {
			seq += uint16(next()%(maxNackGap+10)) - 5
			c.t = c.t.Add(time.Duration(next()%50) * time.Millisecond)
			var got, want []uint16
			var g, w int
			if d := int16(seq - ref.highest); d > 1 && int(d) <= maxNackGap {
				// the reference: the gap asked for one packet at a time
				ref.highest = seq
				tt := c.now()
				for s := seq - uint16(d) + 1; s != seq; s++ {
					w += ref.ask(s, tt)
					want = append(want, s)
				}
			} else {
				want, w = ref.onPacket(seq, c.now, nil)
			}
			got, g = l.onPacket(seq, c.now, nil)
			if g != w || len(got) != len(want) || len(l.missing) != len(ref.missing) {
				t.Fatalf("run %d step %d: gave up %d/%d, asked %d/%d, tracking %d/%d", run, i, g, w, len(got), len(want), len(l.missing), len(ref.missing))
			}
			for k := range got {
				if got[k] != want[k] {
					t.Fatalf("asked %v, want %v", got, want)
				}
			}
			for k := range l.missing {
				if l.missing[k] != ref.missing[k] {
					t.Fatalf("tracking %v, want %v", l.missing[k], ref.missing[k])
				}
			}
		}
	}
}

// BenchmarkLossTracker is a publisher's packets through the loss tracker: in order, and
// each maxNackGap after the one before (every packet a gap as large as is asked for).
func BenchmarkLossTracker(b *testing.B) {
	for _, c := range []struct {
		name string
		step uint16
	}{{"in-order", 1}, {"gap", maxNackGap}} {
		b.Run(c.name, func(b *testing.B) {
			clock := &lossClock{t: time.Unix(0, 0)}
			var l lossTracker
			buf := make([]uint16, 0, maxNackGap)
			seq := uint16(0)
			l.onPacket(seq, clock.now, buf[:0])
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				seq += c.step
				clock.t = clock.t.Add(time.Millisecond)
				l.onPacket(seq, clock.now, buf[:0])
			}
		})
	}
}
