package sfu

import (
	"net"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// TestForwardDelayBuckets: a delay counts in the first bucket whose bound it does not
// exceed, one above every bound in the last, a negative one (a clock stepped back) as
// zero; the sum is the delays'. A batch's counts reach the histogram whole.
func TestForwardDelayBuckets(t *testing.T) {
	var batch delayBatch
	bounds := forwardDelayBounds()
	var sum time.Duration
	for _, b := range bounds {
		batch.observe(b)
		batch.observe(b + time.Nanosecond)
		sum += 2*b + time.Nanosecond
	}
	batch.observe(-time.Millisecond)
	var h delayHistogram
	batch.addTo(&h)
	var s DelayHistogram
	h.addTo(&s)
	h.addTo(&s) // adds again: Stats sums several writers this way
	if s.Bounds != bounds {
		t.Fatalf("bounds %v, want %v", s.Bounds, bounds)
	}
	for i, c := range s.Counts {
		want := uint64(4) // each bucket's bound and the previous bound plus 1 ns, twice
		if i == len(s.Counts)-1 {
			want = 2 // only the last bound plus 1 ns
		}
		if c != want {
			t.Errorf("bucket %d (bound %v): %d, want %d", i, s.Bounds[min(i, len(bounds)-1)], c, want)
		}
	}
	if s.Sum != 2*sum {
		t.Errorf("sum %v, want %v", s.Sum, 2*sum)
	}
	if n := s.Count(); n != uint64(2*(2*len(bounds)+1)) {
		t.Errorf("count %d, want %d", n, 2*(2*len(bounds)+1))
	}
}

// TestWriterBatchMeasuresForwardDelay: a writer's batch measures each datagram queued
// with an arrival once, at the send, against the clock read after it; a datagram
// queued without one (a retransmission's, a replay's) is sent and not measured.
func TestWriterBatchMeasuresForwardDelay(t *testing.T) {
	recv := listenLoopback(t)
	send := listenLoopback(t)
	b, err := newWriterBatch(send)
	if err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(time.Unix(1_000_000, 0))
	b.now = clock.Now
	to := recv.LocalAddr().(*net.UDPAddr).AddrPort()
	queue := func(arrival int64) {
		b.arrival = arrival
		d := b.newDatagram()
		d.n, d.ap = 4, to
		if err := b.queueDatagram(d); err != nil {
			t.Fatal(err)
		}
		b.arrival = 0
	}
	sent := clock.Now().Add(time.Second) // the send comes a second after the queueing
	for _, held := range []time.Duration{50 * time.Microsecond, 2500 * time.Microsecond, 40 * time.Millisecond} {
		queue(sent.Add(-held).UnixNano())
	}
	queue(0)
	clock.Advance(time.Second)
	b.flush()
	b.flush() // nothing held: nothing measured again
	readDatagrams(t, recv, send.LocalAddr(), 4)

	var s DelayHistogram
	b.delay.addTo(&s)
	want := [delayBuckets + 1]uint64{0: 1, 7: 1, 13: 1} // ≤ 100 µs, (2, 3] ms, (20, 50] ms
	if s.Counts != want {
		t.Errorf("counts %v, want %v", s.Counts, want)
	}
	if want := 50*time.Microsecond + 2500*time.Microsecond + 40*time.Millisecond; s.Sum != want {
		t.Errorf("sum %v, want %v", s.Sum, want)
	}
}

// TestForwardDelayThroughTheServer: a publisher's packets through the engine, each
// held by the server for exactly 3 ms of its clock (the tap, which runs after the
// arrival is taken and before the fan-out, moves the fake clock on): the engine's
// histogram has every live packet forwarded, each in the (2, 3] ms bucket, and the
// sum is theirs.
func TestForwardDelayThroughTheServer(t *testing.T) {
	const hold = 3 * time.Millisecond
	r := newMediaRigAPIs(t, testPeerAPI(t), testPeerAPI(t), func(clock *fakeclock.Clock, cfg *Config) {
		cfg.Tap = func(TapPacket) { clock.Advance(hold) }
	})
	if r.eng.writers == nil || r.eng.writers.shards[0].batch == nil {
		t.Skip("the media socket does not batch here: nothing is measured")
	}
	// The rig's set-up sent a packet of its own (and the subscription may have been
	// replayed it): what is judged is what the packets below add.
	before := r.eng.Stats()
	const n = 40
	for i := range n {
		seq := r.pub.send()
		conntest.Eventually(t, "the subscriber to get the packet", func() bool { return r.sub.has(seq) })
		// The writer reads the clock after its send returns: the next packet's tap
		// must not move it on before.
		conntest.Eventually(t, "the packet's delay measured", func() bool {
			return r.eng.Stats().ForwardDelay.Count() > before.ForwardDelay.Count()+uint64(i)
		})
	}
	after := r.eng.Stats()
	h, h0 := after.ForwardDelay, before.ForwardDelay
	live := after.PacketsForwarded - before.PacketsForwarded - (after.Retransmissions - before.Retransmissions)
	if got := h.Count() - h0.Count(); got != n || live != n {
		t.Fatalf("%d delays measured, %d live packets forwarded, want %d", got, live, n)
	}
	if got := h.Counts[7] - h0.Counts[7]; got != n {
		t.Errorf("counts %v before, %v after: want each new delay in the (2, 3] ms bucket", h0.Counts, h.Counts)
	}
	if got, want := h.Sum-h0.Sum, n*hold; got != want {
		t.Errorf("sum of the new delays %v, want %v", got, want)
	}
}

// TestArrivalIsTheKernelsReceiveTime: a packet the socket reader takes with the
// kernel's receive time is cached with that time as its arrival, the start of its
// forwarding delay; one taken without (0) arrives at the engine's clock's now.
func TestArrivalIsTheKernelsReceiveTime(t *testing.T) {
	l := &layer{takenAt: 1}
	routes, ap := newTestRTPIn(t, webrtc.RTPCodecTypeAudio, l)
	l.up.blocked.Store(false) // cached as a live track's
	clock := fakeclock.New(time.Unix(1_000_000, 0))
	l.up.clock = clock.Now
	enc, err := srtp.CreateContext(fuzzRTCPKeys.RemoteMasterKey, fuzzRTCPKeys.RemoteMasterSalt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	kernel := time.Unix(999_999, 5).UnixNano()
	for seq, at := range map[uint16]int64{1: kernel, 2: 0} {
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, SSRC: 1}, Payload: []byte{1}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if b, err = enc.EncryptRTP(nil, b, nil); err != nil {
			t.Fatal(err)
		}
		if !routes.take(b, ap, at) {
			t.Fatalf("packet %d not taken", seq)
		}
	}
	if p := l.cache.get(1); p == nil || p.arrival != kernel {
		t.Errorf("packet taken at the kernel's time: %+v, want arrival %d", p, kernel)
	}
	if p := l.cache.get(2); p == nil || p.arrival != clock.Now().UnixNano() {
		t.Errorf("packet taken without one: %+v, want arrival %d (the clock)", p, clock.Now().UnixNano())
	}
}
