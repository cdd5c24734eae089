package sfu

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// countingWriter counts packets; it stands in for Pion's SRTP write stream so the
// benchmark measures the SFU's own fan-out path.
type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.n.Add(1)
	return len(payload), nil
}

func (w *countingWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkFanout forwards one publisher's packets to 50 subscribers and reports the
// cost per forwarded packet and the memory each subscription holds.
func BenchmarkFanout(b *testing.B) {
	const subscribers = 50
	up := newTestUpTrack()
	w := &countingWriter{}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	pool := newWriterPool(0, nil)
	defer pool.close() // after the queues (deferred below)
	parts := make([]*Participant, subscribers)
	for i := range parts {
		parts[i] = &Participant{out: newSendQueue(pool)}
		// A video subscription of a track without simulcast, as subscribe makes it.
		d := &downTrack{up: up, sub: parts[i], fw: &forwarder{passthrough: true}, sent: new(sentLog)}
		d.binding.Store(&binding{ssrc: uint32(i + 1), pt: 96, stream: w})
		up.addSub(d)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	defer func() {
		for _, p := range parts {
			p.out.close()
		}
	}()

	// The reader makes each packet it receives (packetslab.go, BenchmarkPublisherReceive);
	// the benchmark cycles through packets made beforehand, more than the cache and a
	// full queue hold, so allocs/op counts the fan-out path alone.
	payload := make([]byte, 1100)
	ring := make([]packet, 4*cacheSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := &ring[i%len(ring)]
		*p = packet{header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i / 8 * 3000)}, payload: payload}
		up.layer(0).cache.put(p)
		for _, d := range *up.subs.Load() {
			// Keep the queue from overflowing so every packet is really written.
			for d.sub.out.videoLen() >= videoQueueLen-1 {
				runtime.Gosched()
			}
			d.forward(p)
		}
	}
	for w.n.Load() < int64(b.N)*subscribers {
		runtime.Gosched()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*subscribers), "ns/forwarded-packet")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/subscribers, "bytes/subscriber")
}

// BenchmarkWrite is one subscription's writer sending packets: as they come (a track
// without simulcast), and rewritten into one stream (a simulcast layer after a switch).
func BenchmarkWrite(b *testing.B) {
	payload := append([]byte{0x90, 0xe0, 0x80, 0x01, 0x05, 0x00, 0x01}, make([]byte, 1093)...)
	for _, tc := range []struct {
		name string
		fw   func() *forwarder // each run of the benchmark starts a new stream
	}{
		{"bare", func() *forwarder { return nil }},
		{"passthrough", func() *forwarder { return &forwarder{passthrough: true} }},
		{"rewrite", func() *forwarder {
			return &forwarder{cur: 0, segs: []segment{{layer: 0, open: true, seqOff: 7, tsOff: 9000, picOff: 3, tl0Off: 2}}}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			up := newTestUpTrack()
			d := &downTrack{up: up, sub: &Participant{out: newIdleSendQueue(1, 1, 1)}, fw: tc.fw()}
			if d.fw != nil {
				d.sent = new(sentLog) // as newDownTrack makes a video subscription
			}
			d.binding.Store(&binding{ssrc: 1, pt: 96, stream: &countingWriter{}})
			p := &packet{header: rtp.Header{Version: 2}, payload: payload}
			var h rtp.Header // the writer's scratch header (sendQueue.hdr)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.header.SequenceNumber = uint16(i) // on across the wrap: the open segment slides along
				p.header.Timestamp = uint32(i / 8 * 3000)
				if _, ok := d.write(p, &h, false); !ok {
					b.Fatalf("packet %d not written", i)
				}
			}
		})
	}
}

// TestForwardPathDoesNotAllocate: a forwarded packet costs no heap allocation, from the
// reader's hand-off (forward) through the queue to the write, for a track without
// simulcast, a rewritten simulcast stream, and audio. Counted, not timed: the queue is
// drained on the test's goroutine so nothing else allocates meanwhile.
func TestForwardPathDoesNotAllocate(t *testing.T) {
	payload := append([]byte{0x90, 0xe0, 0x80, 0x01, 0x05, 0x00, 0x01}, make([]byte, 1093)...)
	for _, tc := range []struct {
		name string
		kind webrtc.RTPCodecType
		fw   *forwarder
	}{
		{"audio", webrtc.RTPCodecTypeAudio, nil},
		{"passthrough", webrtc.RTPCodecTypeVideo, &forwarder{passthrough: true}},
		{"rewrite", webrtc.RTPCodecTypeVideo, &forwarder{cur: 0, segs: []segment{{layer: 0, open: true, seqOff: 7, tsOff: 9000, picOff: 3, tl0Off: 2}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newTestUpTrack()
			up.kind = tc.kind
			q := newIdleSendQueue(1, 1, 1)
			w := &countingWriter{}
			d := &downTrack{up: up, sub: &Participant{out: q}, fw: tc.fw}
			if tc.fw != nil {
				d.sent = new(sentLog) // as newDownTrack makes a video subscription
			}
			d.binding.Store(&binding{ssrc: 1, pt: 96, stream: w})
			p := &packet{header: rtp.Header{Version: 2, CSRC: []uint32{7}}, payload: payload}
			i := 0
			allocs := testing.AllocsPerRun(1000, func() {
				i++
				p.header.SequenceNumber = uint16(i)
				p.header.Timestamp = uint32(i / 8 * 3000)
				d.forward(p)
				if it, ok := q.pop(); ok {
					q.write(it, false)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per forwarded packet, want 0", allocs)
			}
			if n := w.n.Load(); n < 1000 {
				t.Errorf("%d packets written, want every one", n)
			}
		})
	}
}
