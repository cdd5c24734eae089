package sfu

import (
	"encoding/binary"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// paddingRig is a video layer without simulcast received into as the socket reader
// does (layer.receive) and one subscription to it, sent as it comes, whose queue the
// test drains: what the subscription is handed waits in its queue until then, as it
// does behind a writer that a flood keeps busy.
type paddingRig struct {
	t     *testing.T
	clock *fakeclock.Clock
	l     *layer
	d     *downTrack
	q     *sendQueue
	w     *recordingWriter
}

func newPaddingRig(t *testing.T) *paddingRig {
	clock := fakeclock.New(time.Unix(1_000_000, 0))
	up := newTestUpTrack()
	up.clock = clock.Now
	w := &recordingWriter{}
	q := newIdleSendQueue(urgentQueueLen, rtxQueueLen, videoQueueLen)
	d := &downTrack{up: up, sub: &Participant{out: q}, fw: &forwarder{cur: 0, passthrough: true}}
	d.binding.Store(&binding{ssrc: 1, pt: 96, stream: w})
	up.subs.Store(&[]*downTrack{d})
	return &paddingRig{t: t, clock: clock, l: up.layer(0), d: d, q: q, w: w}
}

// media receives a delta frame's packet numbered seq, a frame of its own.
func (r *paddingRig) media(seq uint16) {
	b := make([]byte, 12, 15)
	b[0], b[1] = 0x80, 0x80|96 // the marker: the frame's last
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], uint32(seq)*3000)
	binary.BigEndian.PutUint32(b[8:], 7)
	r.receive(append(b, 0x10, 0x01, 0x00))
}

// padding receives a padding-only packet numbered seq, as a browser sends it: the last
// media packet's timestamp, 200 bytes of padding.
func (r *paddingRig) padding(seq, after uint16) {
	b := make([]byte, 212)
	b[0], b[1] = 0xa0, 96 // version 2, padding
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], uint32(after)*3000)
	binary.BigEndian.PutUint32(b[8:], 7)
	b[len(b)-1] = 200
	r.receive(b)
}

func (r *paddingRig) receive(b []byte) {
	r.l.rx.Lock()
	r.l.receive(b, true, 0)
	r.l.rx.Unlock()
}

// drain has the writer send what the subscription was handed, and returns the
// sequence numbers the subscriber got and how many items the writer took.
func (r *paddingRig) drain() (seqs []uint16, items int) {
	for {
		it, ok := r.q.pop()
		if !ok {
			break
		}
		items++
		r.q.write(it, false)
	}
	for _, h := range r.w.got() {
		seqs = append(seqs, h.SequenceNumber)
	}
	return seqs, items
}

// TestPaddingFloodIsHandedOnAsRuns: a modified client sends 20,000 padding-only
// packets, numbered one after another, between two media packets, faster than the
// subscriber's writer takes them. The subscription is handed the run of them as a few
// items, not one each: both media packets reach the subscriber, numbered one after
// the other, and nothing is dropped from its queue. Handed on one by one, the padding
// filled the queue, and the media packet after it was dropped.
func TestPaddingFloodIsHandedOnAsRuns(t *testing.T) {
	r := newPaddingRig(t)
	r.media(100)
	const flood = 20_000
	for i := range uint16(flood) {
		r.padding(101+i, 100)
	}
	r.media(101 + flood)
	seqs, items := r.drain()
	if len(seqs) != 2 || seqs[1] != seqs[0]+1 {
		t.Errorf("the subscriber got %v, want the two media packets numbered one after the other", seqs)
	}
	if dropped := r.l.up.stats.dropped.Load(); dropped != 0 {
		t.Errorf("%d packets dropped from the subscriber's queue, want none", dropped)
	}
	if want := 2 + (flood+maxPaddingRun-1)/maxPaddingRun; items != want {
		t.Errorf("the writer took %d items, want %d: the media packets and runs of at most %d padding packets",
			items, want, maxPaddingRun)
	}
	if n := r.l.up.stats.paddingUnforwarded.Load(); n != 0 {
		t.Errorf("PaddingUnforwarded = %d, want 0: every run followed on", n)
	}
}

// TestPaddingRunsKeepTheNumbersWhole: padding as browsers send it, in bursts between
// media packets, one of them lost on the way (so that the run breaks at the gap) and
// one burst at the start of a frame's run: the subscriber gets every media packet, in
// numbers without a gap but the lost packet's, which is held for it.
func TestPaddingRunsKeepTheNumbersWhole(t *testing.T) {
	r := newPaddingRig(t)
	r.media(10)
	r.padding(11, 10)
	r.padding(12, 10)
	r.media(13)
	r.padding(14, 13)
	// 15 lost
	r.padding(16, 13)
	r.padding(17, 13)
	r.media(18)
	r.media(19)
	for s := uint16(20); s < 25; s++ {
		r.padding(s, 19)
	}
	r.media(25)
	seqs, _ := r.drain()
	if len(seqs) != 5 {
		t.Fatalf("the subscriber got %v, want the 5 media packets", seqs)
	}
	// 10, 13, then 15 held, 18 and 19 after it, then 25.
	want := []uint16{seqs[0], seqs[0] + 1, seqs[0] + 3, seqs[0] + 4, seqs[0] + 5}
	for i := range want {
		if seqs[i] != want[i] {
			t.Fatalf("the subscriber got %v, want %v (the lost packet's number held)", seqs, want)
		}
	}
	if n := r.l.up.stats.paddingUnforwarded.Load(); n != 0 {
		t.Errorf("PaddingUnforwarded = %d, want 0", n)
	}
}

// TestPaddingWithGapsIsBounded: a modified client numbers its padding with gaps, so
// that no two make a run: the subscription is handed paddingRunBurst runs at once and
// paddingRunRate a second after, on the engine's clock; the rest is handed to nobody
// and counted, and the media packet after it still reaches the subscriber.
func TestPaddingWithGapsIsBounded(t *testing.T) {
	r := newPaddingRig(t)
	r.media(100)
	const flood = 10_000
	send := func(from uint16) {
		for i := range uint16(flood) {
			r.padding(from+2*i, 100)
		}
	}
	send(102)
	_, items := r.drain()
	if want := 1 + paddingRunBurst; items != want { // the media packet, the burst's runs
		t.Errorf("the writer took %d items for %d padding packets with gaps, want %d", items, flood, want)
	}
	r.clock.Advance(time.Second)
	send(102 + 2*flood)
	r.media(102 + 4*flood)
	seqs, items := r.drain()
	if want := paddingRunRate + 2; items != want { // a second's runs, the last run, the media packet
		t.Errorf("the writer took %d items a second later, want %d", items, want)
	}
	if len(seqs) != 2 {
		t.Errorf("the subscriber got %v, want the two media packets", seqs)
	}
	if n, want := r.l.up.stats.paddingUnforwarded.Load(), uint64(2*flood-paddingRunBurst-paddingRunRate-1); n != want {
		t.Errorf("PaddingUnforwarded = %d, want %d", n, want)
	}
}

// TestPaddingFloodWithGapsFromAPublisher: a modified publisher sends, through its
// connection and the server's socket reader, padding-only packets of its camera's
// stream numbered two apart, far more than paddingRunBurst while the engine's clock
// stands still: beyond the budget they are handed to no subscription and counted, and
// its media packets still reach the subscriber. The flood goes in chunks, each
// followed by a media packet that the subscriber gets (sent again until it does), so
// that loopback loses little of it: a lost padding packet only lowers the count.
func TestPaddingFloodWithGapsFromAPublisher(t *testing.T) {
	r := newMediaRig(t)
	const chunks, chunk = 15, 100
	seq := r.pub.send()
	for range chunks {
		for range chunk {
			seq += 2
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, PaddingSize: 4, PayloadType: 96,
				SequenceNumber: seq, Timestamp: uint32(seq) * 3000}}
			if err := r.pub.track.WriteRTP(pkt); err != nil {
				t.Fatal(err)
			}
		}
		r.pub.mu.Lock()
		r.pub.seq = seq + 1 // the media packets after the chunk, from seq+2 on
		r.pub.mu.Unlock()
		// They go out under numbers of the subscription's (the padding taken out).
		before := r.sub.count()
		conntest.Eventually(t, "a media packet after the padding at the subscriber", func() bool {
			if r.sub.count() > before {
				return true
			}
			seq = r.pub.send()
			return false
		})
	}
	// Each media packet hands on the run before it; of the rest, the budget's runs.
	const flood = chunks * chunk
	if n := r.eng.Stats().PaddingUnforwarded; n < flood/2 || n > flood-paddingRunBurst-chunks {
		t.Errorf("PaddingUnforwarded = %d, want at least %d and at most %d", n, flood/2, flood-paddingRunBurst-chunks)
	}
}

// TestNackForPaddingIsNotAnswered: a subscriber asks for the numbers it did not get
// between two media packets, where the numbers are padding's that were not taken out
// of its stream: a modified client's padding numbered with gaps beyond the budget of
// runs, and a browser's padding packet that came after one numbered above it (so that
// it came too late to be taken out). Nothing can be sent for such a number (padding
// goes to no subscriber, dropPadding), so nothing is queued, no retransmission nor
// answered NACK is counted, and the subscriber's keyframe request after its NACK is
// not taken for one that retransmissions repair. Answered from the cache, each
// padding packet was queued again only for the writer to drop it, a NACK of padding
// alone counted as answered, and the keyframe request after it was absorbed.
func TestNackForPaddingIsNotAnswered(t *testing.T) {
	t.Run("beyond the budget", func(t *testing.T) {
		r := newPaddingRig(t)
		r.media(100)
		const n = paddingRunBurst + 10
		for i := range uint16(n) {
			r.padding(102+2*i, 100)
		}
		r.media(102 + 2*n)
		if r.l.up.stats.paddingUnforwarded.Load() == 0 {
			t.Fatal("no padding was left unforwarded: the test's runs are within the budget")
		}
		r.nackTheGap()
	})
	t.Run("late", func(t *testing.T) {
		r := newPaddingRig(t)
		r.media(10)
		r.padding(11, 10)
		r.padding(13, 10)
		r.padding(12, 10) // after 13: its number is held for it, and it is too late
		r.media(14)
		r.nackTheGap()
	})
}

// nackTheGap has the subscriber, which got two media packets, ask for every number
// between them, and checks that nothing is sent again for the padding.
func (r *paddingRig) nackTheGap() {
	t := r.t
	t.Helper()
	seqs, _ := r.drain()
	if len(seqs) != 2 || seqs[1]-seqs[0] < 2 {
		t.Fatalf("the subscriber got %v, want two media packets with a gap between", seqs)
	}
	nack := &rtcp.TransportLayerNack{MediaSSRC: 1}
	for s := seqs[0] + 1; s != seqs[1]; s++ {
		nack.Nacks = append(nack.Nacks, rtcp.NackPair{PacketID: s})
	}
	budget := 1 << 16
	r.d.answerNack(nack, &budget)
	if _, items := r.drain(); items != 0 {
		t.Errorf("%d retransmissions queued for the numbers %d to %d, want none", items, seqs[0]+1, seqs[1]-1)
	}
	st := r.l.up.stats
	if got, answered := st.retransmissions.Load(), st.nacksAnswered.Load(); got != 0 || answered != 0 {
		t.Errorf("Retransmissions = %d, NACKsAnswered = %d; want 0, 0: nothing was sent again", got, answered)
	}
	if v := r.d.kf.request(r.clock.Now()); v != keyframeForward {
		t.Errorf("the subscriber's keyframe request after its NACK: verdict %v, want %v (forwarded)", v, keyframeForward)
	}
}
