package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"

	"conclave/internal/conntest"
)

// TestRetransmissionsWithinTheEstimate: a subscriber whose estimate is 300 kbit/s and
// that asks again, every 50 ms of the rig's fake clock, for every packet of the last
// second gets retransmissions at no more than the bound its estimate gives (an eighth of
// the estimate or what the allocation leaves, a burst of 200 ms of the estimate), not at
// the fixed 1 Mbit/s and 57.6 KB burst that, uncounted by the estimator, could take a
// slow link from the audio beside them. Measured as payload bytes arriving again at the
// subscriber against the fake clock. With the estimate raised to 3 Mbit/s at the next
// allocation, a loss burst of 40 full packets is repaired at once, all of it.
func TestRetransmissionsWithinTheEstimate(t *testing.T) {
	r := newSimRig(t)
	r.view(camTile(320, 180))
	r.settleOn(0)
	p := r.subP
	d := r.subTrack()
	r.pub.mu.Lock()
	r.pub.bulk[0] = 1000 // q's frames about a full packet each
	r.pub.mu.Unlock()

	const estimate = 300_000
	p.bw.enabled.Store(true)
	p.bw.estimated.Store(true)
	p.bw.budget.Store(estimate)
	p.reallocate()
	if l, ok := p.layerLimit(d.up); !ok || l != 0 {
		t.Fatalf("at %d bit/s: layer %d (%v), want q", estimate, l, ok)
	}

	r.sub.mu.Lock()
	ssrc := r.sub.ssrc
	r.sub.mu.Unlock()
	// seen: every sequence number received, with when (fake clock) it first came; a
	// number that comes again is a retransmission.
	seen := map[uint16]time.Time{}
	from := 0
	resent, resentBytes := 0, 0
	collect := func() {
		got := r.sub.packets()
		for _, sp := range got[from:] {
			if _, ok := seen[sp.seq]; ok {
				resent++
				resentBytes += sp.size
			} else {
				seen[sp.seq] = r.clock.Now()
			}
		}
		from = len(got)
	}
	// nackRecent asks again for every full-size packet received in the last 900 ms
	// (still cached) and waits until the SFU took the NACK.
	nackRecent := func(maxAge time.Duration) int {
		collect()
		var seqs []uint16
		for _, sp := range r.sub.packets() {
			if sp.size >= 1000 && sp.layer == 0 && r.clock.Now().Sub(seen[sp.seq]) <= maxAge {
				seqs = append(seqs, sp.seq)
			}
		}
		if len(seqs) == 0 {
			return 0
		}
		nacks := r.eng.Stats().NACKsReceived
		if err := r.sub.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: ssrc,
			Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}}); err != nil {
			t.Fatal(err)
		}
		conntest.Eventually(t, "the NACK taken", func() bool { return r.eng.Stats().NACKsReceived > nacks })
		return len(seqs)
	}
	// settle waits until every retransmission queued has arrived.
	settle := func(queuedBefore uint64, resentBefore int) {
		conntest.Eventually(t, "the retransmissions to arrive", func() bool {
			collect()
			return uint64(resent-resentBefore) >= r.eng.Stats().Retransmissions-queuedBefore
		})
	}
	round := func(step time.Duration) {
		r.pub.sendRound()
		r.waitRoundReceived()
		r.advance(step)
	}
	// A second of full-size frames to ask for.
	for range 20 {
		round(50 * time.Millisecond)
	}
	p.reallocate() // the rig's allocation tick
	if l, ok := p.layerLimit(d.up); !ok || l != 0 {
		t.Fatalf("at %d bit/s: layer %d (%v), want q", estimate, l, ok)
	}

	queued0, resent0, bytes0 := r.eng.Stats().Retransmissions, resent, resentBytes
	start := r.clock.Now()
	asked := 0
	const steps = 40 // 2 s
	for range steps {
		asked += nackRecent(900 * time.Millisecond)
		round(50 * time.Millisecond)
	}
	elapsed := r.clock.Now().Sub(start)
	settle(queued0, resent0)
	got := resentBytes - bytes0
	rate, burst := p.out.pacer.limits()
	bound := burst + rate*elapsed.Seconds()
	t.Logf("asked for %d packets again in %v; %d retransmissions, %d bytes arrived; bound %.0f bytes (%.0f bit/s, burst %.0f)",
		asked, elapsed, resent-resent0, got, bound, rate*8, burst)
	// Whatever the bound, retransmissions alone never exceed the estimate (with a
	// burst of 200 ms of it).
	if most := estimate / 8 * (elapsed.Seconds() + 0.2); float64(got) > most {
		t.Fatalf("%d bytes of retransmissions in %v of the fake clock, %.0f kbit/s, on a link estimated at %d kbit/s",
			got, elapsed, float64(got)*8/elapsed.Seconds()/1000, estimate/1000)
	}
	if rate*8 > estimate || burst > estimate/8*0.2 {
		t.Fatalf("a retransmission bound of %.0f bit/s and %.0f bytes for an estimate of %d bit/s", rate*8, burst, estimate)
	}
	if float64(got) > bound {
		t.Fatalf("%d bytes of retransmissions in %v of the fake clock, %.0f kbit/s, on a link estimated at %d kbit/s: bound %.0f bytes",
			got, elapsed, float64(got)*8/elapsed.Seconds()/1000, estimate/1000, bound)
	}
	if float64(got) < bound/2 {
		t.Fatalf("only %d bytes of retransmissions arrived for a bound of %.0f: repairs starved", got, bound)
	}

	// A fast subscriber: a loss burst of 40 full packets is repaired, all of it.
	const fast = 3_000_000
	p.bw.budget.Store(fast)
	p.reallocate()
	for range 20 { // the bucket refills
		round(50 * time.Millisecond)
	}
	collect()
	var lost []uint16
	picked := map[uint16]bool{}
	for len(lost) < 40 {
		n := r.sub.count()
		round(10 * time.Millisecond)
		conntest.Eventually(t, "the round's frame", func() bool { return r.sub.count() > n })
		collect()
		if last := r.sub.last(); last.size >= 1000 && last.layer == 0 && !picked[last.seq] {
			picked[last.seq] = true
			lost = append(lost, last.seq)
		}
	}
	queued1, resent1, dropped1 := r.eng.Stats().Retransmissions, resent, r.eng.Stats().RetransmissionsDropped
	if err := r.sub.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: ssrc,
		Nacks: rtcp.NackPairsFromSequenceNumbers(lost)}}); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the loss burst repaired", func() bool {
		collect()
		return resent-resent1 >= len(lost)
	})
	if st := r.eng.Stats(); st.Retransmissions-queued1 != uint64(len(lost)) || st.RetransmissionsDropped != dropped1 {
		t.Fatalf("at %d bit/s a burst of %d lost packets: %d queued again, %d dropped", fast, len(lost),
			st.Retransmissions-queued1, st.RetransmissionsDropped-dropped1)
	}
}
