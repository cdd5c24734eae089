package sfu

import (
	"context"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"conclave/internal/conntest"
)

// TestNACKCounters: a NACK for three packets, two of them still cached, counts one NACK
// received and answered and two retransmissions, and the two packets are written again
// (counted as forwarded); a NACK for packets long gone counts as received only.
func TestNACKCounters(t *testing.T) {
	up := newTestUpTrack()
	w := &recordingWriter{}
	d := newTestSub(t, up, 7, w)
	for _, seq := range []uint16{10, 11} {
		up.layer(0).cache.put(&packet{header: rtp.Header{SequenceNumber: seq}, payload: []byte("abcd")})
	}
	d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: 10, LostPackets: 0b11}}}}) // 10, 11, 12
	d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: 500}}}})
	conntest.Eventually(t, "the two retransmissions written", func() bool { return len(w.got()) >= 2 })
	if got := w.got(); len(got) != 2 || got[0].SequenceNumber != 10 || got[1].SequenceNumber != 11 {
		t.Fatalf("retransmitted %+v, want 10 and 11", got)
	}
	s := up.stats
	if n := s.nacks.Load(); n != 2 {
		t.Errorf("NACKs received %d, want 2", n)
	}
	if n := s.nacksAnswered.Load(); n != 1 {
		t.Errorf("NACKs answered %d, want 1", n)
	}
	if n := s.retransmissions.Load(); n != 2 {
		t.Errorf("retransmissions %d, want 2", n)
	}
	// The writer counts a packet just after writing it, its bytes after the packet:
	// wait for both counts (under load the packets' count was seen first).
	q := d.sub.out
	conntest.Eventually(t, "the retransmissions counted", func() bool { return q.forwarded.Load() >= 2 && q.bytes.Load() >= 8 })
	if n := q.forwarded.Load(); n != 2 {
		t.Errorf("forwarded %d, want 2", n)
	}
	if n := q.bytes.Load(); n != 8 {
		t.Errorf("bytes %d, want 8", n)
	}
}

// TestStatsSumSubscribers: the engine's forwarded counts are the sum over the writers of
// subscribers present and gone.
func TestStatsSumSubscribers(t *testing.T) {
	var e Engine
	a, b := newSendQueue(nil), newSendQueue(nil)
	defer a.close()
	e.queues.add(a)
	e.queues.add(b)
	a.forwarded.Store(3)
	a.bytes.Store(300)
	b.forwarded.Store(2)
	b.bytes.Store(20)
	b.close()
	e.queues.remove(b)
	b.forwarded.Store(99) // gone: no longer read
	if s := e.Stats(); s.PacketsForwarded != 5 || s.BytesForwarded != 320 {
		t.Fatalf("forwarded %d packets, %d bytes; want 5 and 320", s.PacketsForwarded, s.BytesForwarded)
	}
}

// TestPublishConnectionsCounted: a member that joins has no publish connection; its
// first offer opens one, a second offer (a renegotiation) does not open another, and
// leaving closes it.
func TestPublishConnectionsCounted(t *testing.T) {
	_, eng, room := newClockedRoom(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	listener, err := room.Join("listener")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	speaker, err := room.Join("speaker")
	if err != nil {
		t.Fatal(err)
	}
	if n := eng.Stats().PublishConnections; n != 0 {
		t.Fatalf("%d publish connections before any offer, want 0", n)
	}
	pc, _, tr := newCameraSender(t, testPeerAPI(t))
	sources := func() map[string]Source { return map[string]Source{tr.Mid(): SourceCamera} }
	publishTo(ctx, t, speaker, pc, sources)
	publishTo(ctx, t, speaker, pc, sources)
	if n := eng.Stats().PublishConnections; n != 1 {
		t.Fatalf("%d publish connections after two offers of one member, want 1", n)
	}
	speaker.Close()
	if n := eng.Stats().PublishConnections; n != 0 {
		t.Fatalf("%d publish connections after the publisher left, want 0", n)
	}
}
