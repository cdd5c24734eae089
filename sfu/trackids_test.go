package sfu

import (
	"bytes"
	"math"
	"testing"

	"github.com/pion/rtp"
)

// TestTrackIDsEndAtTheirLast: a track's packet ids run from 1 to 2^32-1: the packet
// that takes the last is cached and forwarded, the next is neither, nor copied into
// the layer's slab, and is counted (conclave_packets_beyond_track_ids_total).
func TestTrackIDsEndAtTheirLast(t *testing.T) {
	d, q, cq := newSRTPSub(t, streamCases[0].fw())
	l := d.up.layer(0)
	l.tailTimer, d.up.owner = &timerLog{}, &Participant{}
	d.up.addSub(d)
	receive := func(seq uint16) {
		t.Helper()
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: 3000 * uint32(seq)},
			Payload: append([]byte{0x10, 0x01, 0x00}, bytes.Repeat([]byte{byte(seq)}, 900)...)}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		l.receiveLocked(b)
		for it, ok := q.pop(); ok; it, ok = q.pop() {
			q.write(it, false)
		}
	}
	receive(1)
	d.up.packets.Store(math.MaxUint32 - 1)
	receive(2)
	if p := l.cache.get(2); len(cq.got) != 2 || p == nil || p.id != math.MaxUint32 {
		t.Fatalf("the packet that takes the last id: %d of 2 datagrams went, cached %v", len(cq.got), p != nil)
	}
	// A packet below a quarter of a chunk is copied into the slab's chunk (packetslab.go):
	// a copy would show in what is left of it.
	if n := 3 + 900 + 12; n >= l.slab.chunkSize()/4 {
		t.Fatalf("a %d-byte packet gets bytes of its own: the slab shows no copy", n)
	}
	slab := len(l.slab.bytes)
	receive(3)
	if len(cq.got) != 2 || l.cache.get(3) != nil || len(l.slab.bytes) != slab {
		t.Fatalf("the packet beyond the last id: %d datagrams went, cached %v, slab %d → %d bytes left", len(cq.got)-2, l.cache.get(3) != nil, slab, len(l.slab.bytes))
	}
	if n := d.up.stats.packetsBeyondIDs.Load(); n != 1 {
		t.Fatalf("counted %d packets beyond the ids, want 1", n)
	}
}
