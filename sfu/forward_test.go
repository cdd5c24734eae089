package sfu

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// recordingWriter is a subscription's write stream that records what it is given and can
// be made to block, like a congested TCP connection.
type recordingWriter struct {
	mu      sync.Mutex
	headers []rtp.Header
	block   chan struct{} // nil: never blocks
	once    sync.Once
	entered chan struct{} // if not nil, told each time a write begins
}

func (w *recordingWriter) unblock() {
	if w.block != nil {
		w.once.Do(func() { close(w.block) })
	}
}

func (w *recordingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.entered != nil {
		w.entered <- struct{}{}
	}
	if w.block != nil {
		<-w.block
	}
	w.mu.Lock()
	w.headers = append(w.headers, *h)
	w.mu.Unlock()
	return len(payload), nil
}

func (w *recordingWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *recordingWriter) got() []rtp.Header {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]rtp.Header(nil), w.headers...)
}

func newTestSub(t *testing.T, up *upTrack, ssrc uint32, w *recordingWriter) *downTrack {
	t.Helper()
	p := &Participant{out: newSendQueue(nil)}
	t.Cleanup(func() {
		w.unblock()
		p.out.close()
	})
	d := &downTrack{up: up, sub: p}
	d.binding.Store(&binding{ssrc: ssrc, pt: 100, stream: w})
	return d
}

// TestBlockedSubscriberDoesNotStallOthers: one subscriber's writes block forever; the
// reader never blocks, the other subscriber gets every packet, rewritten to its own SSRC
// and payload type with the publisher's header extensions removed.
func TestBlockedSubscriberDoesNotStallOthers(t *testing.T) {
	up := newTestUpTrack()
	slowW := &recordingWriter{block: make(chan struct{})}
	fastW := &recordingWriter{}
	slow := newTestSub(t, up, 1111, slowW)
	fast := newTestSub(t, up, 2222, fastW)
	up.addSub(slow)
	up.addSub(fast)

	const n = 1500
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			h := rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i / 5 * 3000), PayloadType: 96, SSRC: 42, Marker: i%5 == 4}
			_ = h.SetExtension(3, []byte{1, 2})
			p := &packet{header: h, payload: []byte{byte(i)}}
			p.header.Extension, p.header.Extensions = false, nil
			for _, d := range *up.subs.Load() {
				d.forward(p)
			}
			// Pace the producer just enough for the fast writer to keep up.
			for len(fastW.got()) < i-videoQueueLen/2 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(conntest.Wait):
		t.Fatal("the reader blocked behind a stuck subscriber")
	}
	conntest.Eventually(t, "every packet at the fast subscriber", func() bool { return len(fastW.got()) >= n })
	got := fastW.got()
	if len(got) != n {
		t.Fatalf("fast subscriber got %d of %d packets", len(got), n)
	}
	for i, h := range got {
		if h.SequenceNumber != uint16(i) || h.SSRC != 2222 || h.PayloadType != 100 || h.Extension || len(h.Extensions) != 0 {
			t.Fatalf("packet %d: %+v", i, h)
		}
	}
}

// TestCongestedSubscriberSkipsToFrameEnd: when the queue is full the rest of that frame
// is dropped, and forwarding resumes at the next frame.
func TestCongestedSubscriberSkipsToFrameEnd(t *testing.T) {
	up := newTestUpTrack()
	w := &recordingWriter{block: make(chan struct{}), entered: make(chan struct{}, 1024)}
	d := newTestSub(t, up, 1, w)
	// Fill the queue (the writer goroutine holds one more item, blocked in WriteRTP).
	var seq uint16
	send := func(ts uint32) {
		seq++
		d.forward(&packet{header: rtp.Header{SequenceNumber: seq, Timestamp: ts}})
	}
	send(1)
	<-w.entered // the writer has taken it and blocks
	for d.sub.out.videoLen() < videoQueueLen {
		send(1)
	}
	send(2) // queue full: frame 2 is being dropped
	if !d.drop[0].on || d.drop[0].ts != 2 {
		t.Fatalf("dropping=%v frame=%d, want dropping frame 2", d.drop[0].on, d.drop[0].ts)
	}
	w.unblock()
	conntest.Eventually(t, "the queue written", func() bool { return len(w.got()) >= videoQueueLen+1 })
	send(2) // rest of frame 2: still dropped although there is room now
	send(3) // next frame: forwarded
	conntest.Eventually(t, "the next frame written", func() bool { return len(w.got()) >= videoQueueLen+2 })
	got := w.got()
	for _, h := range got {
		if h.Timestamp == 2 {
			t.Fatalf("a packet of the dropped frame was sent: %+v", h)
		}
	}
	if last := got[len(got)-1]; last.Timestamp != 3 {
		t.Fatalf("forwarding did not resume at the next frame; last %+v", last)
	}
	// The monitoring counters saw the same: both packets of frame 2 dropped, every
	// written packet forwarded.
	if n := up.stats.dropped.Load(); n != 2 {
		t.Errorf("dropped counter %d, want 2", n)
	}
	// The writer counts a packet just after writing it: wait for the count.
	q := d.sub.out
	conntest.Eventually(t, "the written packets counted", func() bool { return q.forwarded.Load() >= uint64(len(got)) })
	if n := q.forwarded.Load(); n != uint64(len(got)) {
		t.Errorf("forwarded counter %d, want %d", n, len(got))
	}
}

// TestKeyframeThrottle: a burst of requests sends one keyframe request at once and one
// at the end of the interval, on the engine's clock, never more; stop cancels a deferred
// one.
func TestKeyframeThrottle(t *testing.T) {
	clock := fakeclock.New(time.Unix(1000, 0))
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	var k keyframeThrottle
	sent := make(chan struct{}, 100)
	send := func() { sent <- struct{}{} }
	for i := 0; i < 50; i++ {
		k.request(clock.Now, clock.AfterFunc, send)
	}
	if len(sent) != 1 || clock.Pending() != 1 {
		t.Fatalf("%d requests sent at once and %d deferred, want 1 and 1", len(sent), clock.Pending())
	}
	clock.Advance(keyframeInterval - time.Millisecond)
	if len(sent) != 1 {
		t.Fatalf("%d requests sent before the interval ended, want 1", len(sent))
	}
	clock.Advance(time.Millisecond)
	select {
	case <-ctx.Done():
		t.Fatal("the deferred request was never sent")
	case <-waitLen(sent, 2):
	}
	for i := 0; i < 50; i++ {
		k.request(clock.Now, clock.AfterFunc, send) // inside the interval after the deferred send: deferred again, once
	}
	if err := clock.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	k.stop()
	if clock.Pending() != 0 {
		t.Fatalf("%d timers pending after stop, want 0", clock.Pending())
	}
	clock.Advance(keyframeInterval)
	if len(sent) != 2 {
		t.Fatalf("%d requests sent, want 2 (stop cancels the pending one)", len(sent))
	}
}

// waitLen is closed once c holds n items.
func waitLen(c chan struct{}, n int) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for len(c) < n {
			time.Sleep(time.Millisecond)
		}
		close(done)
	}()
	return done
}

// newTestUpTrack is a video track of one layer, as a publisher without simulcast makes,
// for tests that drive forwarding without connections.
func newTestUpTrack() *upTrack {
	up := &upTrack{kind: webrtc.RTPCodecTypeVideo, stats: &counters{}, blocked: new(atomic.Bool)}
	l := &layer{up: up}
	up.layers[0].Store(l)
	return up
}

// TestLongSegmentKeepsForwarding: a simulcast subscription that stays on one layer past
// half the sequence number space (32768 packets, two minutes of a 720p layer) goes on
// sending every packet, numbered on without a jump; a NACK for a packet sent lately
// still finds it.
func TestLongSegmentKeepsForwarding(t *testing.T) {
	d, q, w := newWriterSub(&forwarder{cur: 0, segs: []segment{{layer: 0, open: true, inStart: 1, seqOff: 7}}})
	const n = 70000 // past the wrap of the publisher's sequence numbers too
	for s := 1; s <= n; s++ {
		seq := uint16(s)
		q.write(sendItem{d: d, p: &packet{header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000},
			payload: []byte{0x10, 0x01, 0x00}}}, false)
	}
	got := w.got()
	if len(got) != n {
		t.Fatalf("%d of %d packets sent; the last sent was %d", len(got), n, got[len(got)-1].SequenceNumber)
	}
	for i := 1; i < len(got); i++ {
		if got[i].SequenceNumber != got[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d numbered %d after %d", i, got[i].SequenceNumber, got[i-1].SequenceNumber)
		}
	}
	last := got[len(got)-1].SequenceNumber
	want := uint16(n % 65536)
	if layer, in, ok := d.mapSent(last - 100); !ok || layer != 0 || in != want-100 {
		t.Fatalf("a NACK for a packet sent lately maps to layer %d, %d, %v; want 0, %d", layer, in, ok, want-100)
	}
}

// TestViewTogglesKeepTheKeyframeLimit: one subscriber's keyframe requests reach the
// publisher track at most once per subscriberKeyframeInterval (2 s), after a burst.
// A subscriber that hides and shows a tile (a `view` message; signaling allows 5 a
// second) makes its forwarder ask for a keyframe on every show; those asks once went
// straight to the track, held only by its 500 ms throttle, so every subscriber of the
// track got a keyframe twice a second for as long as one member liked.
func TestViewTogglesKeepTheKeyframeLimit(t *testing.T) {
	clock := fakeclock.New(time.Unix(1000, 0))
	up := newTestUpTrack()
	up.clock, up.after = clock.Now, clock.AfterFunc
	fw := &forwarder{cur: 0, passthrough: true}
	w := &recordingWriter{}
	q := newIdleSendQueue(4, 4, 4)
	sub := &Participant{out: q}
	d := &downTrack{up: up, sub: sub, fw: fw}
	d.binding.Store(&binding{ssrc: 1, pt: 96, stream: w})

	seq := uint16(1)
	delta := func() { // a delta frame's packet from the publisher reaches the writer
		q.write(sendItem{d: d, p: &packet{header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000},
			payload: []byte{0x10, 0x01, 0x00}}}, false)
		seq++
	}
	delta()
	kf := &up.layer(0).kf
	settle := func() { // a deferred request the clock made due runs on a goroutine of fakeclock's: wait for it
		for {
			kf.mu.Lock()
			due := kf.pending && !kf.last.Add(keyframeInterval).After(clock.Now())
			kf.mu.Unlock()
			if !due {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	const span = 60 * time.Second
	for elapsed := time.Duration(0); elapsed < span; elapsed += 400 * time.Millisecond {
		d.setWant(-1, -1, -1) // view without the tile
		delta()
		clock.Advance(200 * time.Millisecond)
		settle()
		d.setWant(0, 0, -1) // view with it again
		delta()
		clock.Advance(200 * time.Millisecond)
		settle()
	}
	got := up.stats.keyframesOut.Load()
	limit := uint64(span/subscriberKeyframeInterval) + 8 // its PLIs' rate, and a burst of a few for view changes
	t.Logf("keyframe requests sent to the publisher in %v: %d (coalesced %d)", span, got, up.stats.keyframesCoalesced.Load())
	if got > limit {
		t.Fatalf("one subscriber toggling its view made the server send %d keyframe requests to the publisher in %v; "+
			"its own PLIs would pass at most %d (subscriberKeyframeInterval)", got, span, limit)
	}
}
