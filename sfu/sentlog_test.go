package sfu

import (
	"bytes"
	"errors"
	"math"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// TestSentLog: the log tells a number sent (with its transport-wide number) from one
// not sent within its reach (passed over, or not yet), and from one older than it
// reaches, across the sequence numbers' wrap and a jump past everything.
func TestSentLog(t *testing.T) {
	var l sentLog
	id := func(seq uint16) uint32 { return uint32(seq)<<8 | 1 } // the packet that goes under seq
	want := func(seq uint16, was sentBefore, num uint16) {
		t.Helper()
		if got, n := l.lookup(seq, id(seq)); got != was || was == sentAlready && n != num {
			t.Fatalf("lookup(%d) = %d, %d; want %d, %d", seq, got, n, was, num)
		}
	}
	want(0, sentNever, 0)
	start := uint16(65000)
	for i := range uint16(1000) { // across the wrap, one number in ten passed over
		if i%10 != 3 {
			l.note(start+i, 7*i, id(start+i))
		}
	}
	top := start + 999
	want(top, sentAlready, 7*999)
	want(top-1, sentAlready, 7*998)
	want(top+1, sentNever, 0)
	want(top-6, sentNever, 0) // passed over (i = 993)
	want(top-sentLogSize+1, sentAlready, 7*(999-sentLogSize+1))
	want(top-sentLogSize, sentUnknown, 0)
	want(top-30000, sentUnknown, 0)

	l.note(top-6, 4242, id(top-6)) // the one passed over goes late: now it is known
	want(top-6, sentAlready, 4242)
	want(top, sentAlready, 7*999)

	l.note(top+3, 1, id(top+3)) // two passed over at the top
	want(top+1, sentNever, 0)
	want(top+2, sentNever, 0)
	want(top+3, sentAlready, 1)

	l.note(top+3+2*sentLogSize, 2, id(top+3+2*sentLogSize)) // a jump past the log: nothing before it was sent
	want(top+3+2*sentLogSize-1, sentNever, 0)
	want(top+3+sentLogSize+1, sentNever, 0)
	want(top+3+sentLogSize, sentUnknown, 0)
	want(top+3, sentUnknown, 0)

	// Under a number sent, another packet (one of another layer, another the
	// publisher sent under the same number, a train's padding) is not the packet that
	// went.
	last := top + 3 + 2*sentLogSize
	for _, other := range []uint32{id(last) + 1, id(last) + 1<<16, trainID} {
		if got, _ := l.lookup(last, other); got != sentOther {
			t.Fatalf("lookup(%d) as packet %d = %d, want sentOther", last, other, got)
		}
	}
}

// newSRTPSub is a video subscription with forwarder fw (nil: an audio one) on a
// connection that sends its own SRTP (AES-GCM, transport-wide numbers under extension
// 5) into the datagrams it returns, and the subscriber's writer (called directly).
func newSRTPSub(t *testing.T, fw *forwarder) (*downTrack, *sendQueue, *capturedQueue) {
	t.Helper()
	d, q, _ := newWriterSub(fw)
	if fw != nil {
		d.sent = new(sentLog)
	} else {
		d.up.kind = webrtc.RTPCodecTypeAudio
	}
	d.binding.Store(&binding{ssrc: 1, pt: 96, twcc: 5})
	keys := srtp.SessionKeys{LocalMasterKey: bytes.Repeat([]byte{7}, 16), LocalMasterSalt: bytes.Repeat([]byte{9}, 12)}
	var dst atomic.Pointer[route]
	dst.Store(&route{ap: netip.MustParseAddrPort("127.0.0.1:5004")})
	cq := &capturedQueue{}
	out, err := newSRTPOut(keys, srtp.ProtectionProfileAeadAes128Gcm, cq, &dst, d.sub.trainer(), new(atomic.Uint64))
	if err != nil {
		t.Fatal(err)
	}
	cq.gcm = out.gcm
	d.sub.srtp.Store(out)
	return d, q, cq
}

// TestRetransmissionGoesAsItWent: a packet a subscriber NACKs goes again byte for byte
// as it went, transport-wide number included: sealed again under its nonce (SRTP's
// index), a copy with another number would give the two tags to solve for the
// connection's authentication key. A packet the NACK names that never went (passed
// over) goes with the next number. On Pion's path, which numbers every packet anew,
// nothing goes again. For a track sent as it comes and one sent in segments.
func TestRetransmissionGoesAsItWent(t *testing.T) {
	for _, c := range streamCases {
		t.Run(c.name, func(t *testing.T) {
			d, q, cq := newSRTPSub(t, c.fw())
			pkt := func(seq uint16) *packet {
				return &packet{id: uint32(seq), header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq/3) * 3000},
					payload: append([]byte{0x10, 0x01, 0x00}, bytes.Repeat([]byte{byte(seq)}, 900)...)}
			}
			cache := &d.up.layer(0).cache
			for s := uint16(1); s <= 8; s++ {
				p := pkt(s)
				cache.put(p)
				if s != 5 { // 5 never went (its queue was full, say)
					q.write(sendItem{d: d, p: p}, false)
				}
			}
			sent := map[uint16][]byte{}
			for _, b := range cq.got {
				var h rtp.Header
				if _, err := h.Unmarshal(b); err != nil {
					t.Fatal(err)
				}
				sent[h.SequenceNumber] = b
			}
			if len(sent) != 7 {
				t.Fatalf("%d packets went, want 7", len(sent))
			}
			nack := func(in uint16) []byte {
				t.Helper()
				before := len(cq.got)
				budget := maxNackedPerDatagram
				d.answerNack(&rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: []rtcp.NackPair{{PacketID: in + c.off}}}, &budget)
				it, ok := q.pop()
				if !ok {
					t.Fatalf("NACK for %d: nothing queued again", in)
				}
				q.write(it, true)
				if len(cq.got) != before+1 {
					t.Fatalf("NACK for %d: %d datagrams went", in, len(cq.got)-before)
				}
				return cq.got[before]
			}
			for _, in := range []uint16{3, 7, 3} {
				if again, was := nack(in), sent[in+c.off]; !bytes.Equal(again, was) {
					t.Fatalf("packet %d went again with header %x… tag %x, not as it went (%x… tag %x)",
						in, again[:20], again[len(again)-16:], was[:20], was[len(was)-16:])
				}
			}
			var h rtp.Header
			if _, err := h.Unmarshal(nack(5)); err != nil {
				t.Fatal(err)
			}
			if ext := h.GetExtension(5); h.SequenceNumber != 5+c.off || !bytes.Equal(ext, []byte{0, 8}) {
				t.Fatalf("the packet that never went went as %d with number %x, want %d with the next (8)", h.SequenceNumber, ext, 5+c.off)
			}
			if again := nack(5); !bytes.Equal(again, cq.got[len(cq.got)-2]) {
				t.Fatal("the late packet, asked for again, went otherwise")
			}

			// Pion's path: nothing goes again, and what did not is counted.
			w := &recordingWriter{}
			d.sub.srtp.Store(nil)
			d.binding.Store(&binding{ssrc: 1, pt: 96, twcc: 5, stream: w})
			dropped := d.up.stats.retransmissionsDropped.Load()
			budget := maxNackedPerDatagram
			d.answerNack(&rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: []rtcp.NackPair{{PacketID: 3 + c.off}}}, &budget)
			it, _ := q.pop()
			q.write(it, true)
			if len(w.got()) != 0 || d.up.stats.retransmissionsDropped.Load() != dropped+1 {
				t.Fatalf("on Pion's path %d packets went again, %d counted dropped", len(w.got()), d.up.stats.retransmissionsDropped.Load()-dropped)
			}
		})
	}
}

// TestEstimatorDoesNotTimeACopy: a packet that went twice under one number counts as
// delivered when reported so, but its arrival is not timed (it may be the copy's,
// late by a round trip); reported lost first, the copy's late arrival changes nothing.
func TestEstimatorDoesNotTimeACopy(t *testing.T) {
	e := newEstimator(func() time.Time { return time.Unix(1e9, 0) })
	e.onSent(1, 1000)
	e.onSent(2, 1000)
	e.onSentAgain(1)
	e.onSentAgain(2)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.acked(1, true, 5000)
	if e.iv.recv != 1 || e.iv.recvBytes != 1000 || e.iv.haveArrival {
		t.Fatalf("a copy reported received: recv %d, bytes %d, timed %v", e.iv.recv, e.iv.recvBytes, e.iv.haveArrival)
	}
	e.acked(2, false, 0)
	e.acked(2, true, 9000)
	if e.iv.lost != 1 || e.iv.recv != 1 || e.iv.haveArrival {
		t.Fatalf("a copy's late arrival: lost %d, recv %d, timed %v", e.iv.lost, e.iv.recv, e.iv.haveArrival)
	}
}

// TestNoNonceForTwoPacketsAfterALongGap: packets that were not sent for more than half
// the sequence space (a source blocked while its publisher kept sending, a route gone)
// come back with numbers that read as far behind the last sealed: the sealer refuses
// them rather than seal them under indexes it used for other packets. Audio (no log),
// a track sent as it comes, and one in segments without a route meanwhile.
func TestNoNonceForTwoPacketsAfterALongGap(t *testing.T) {
	pkt := func(n int) *packet {
		return &packet{header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: uint32(n/3) * 3000},
			payload: []byte{0x10, 0x01, 0x00, byte(n), byte(n >> 8), byte(n >> 16)}}
	}
	for _, c := range []struct {
		name    string
		fw      func() *forwarder
		noRoute bool // the gap's packets written without a route; else not written
	}{
		{"audio", func() *forwarder { return nil }, false},
		{"passthrough", func() *forwarder { return &forwarder{passthrough: true} }, false},
		{"segments", streamCases[1].fw, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, q, cq := newSRTPSub(t, c.fw())
			for n := 1000; n < 2000; n++ {
				q.write(sendItem{d: d, p: pkt(n)}, false)
			}
			const gap = 65536 - 100
			out := d.sub.srtp.Load()
			r := out.route.Swap(nil)
			if c.noRoute {
				for n := 2000; n < 2000+gap; n++ {
					q.write(sendItem{d: d, p: pkt(n)}, false)
				}
			}
			out.route.Store(r)
			for n := 2000 + gap; n < 2000+gap+200; n++ {
				q.write(sendItem{d: d, p: pkt(n)}, false)
			}
			cq.noNonceReused(t)
			if len(cq.got) <= 1000 {
				t.Fatal("nothing went after the gap")
			}
			if st := d.up.stats; st.packetsIndexRefused.Load() == 0 || st.retransmissionsDropped.Load() != 0 {
				t.Fatalf("%d packets counted refused for their numbers, %d retransmissions dropped; want some, and none",
					st.packetsIndexRefused.Load(), st.retransmissionsDropped.Load())
			}
		})
	}
}

// TestNoNonceForTwoPacketsAfterDroppedPadding: padding that overtook a late packet is
// dropped (dropPadding), then a train goes, or the subscription switches layers, before
// the late packet comes: the numbers the late packet holds are not the train's nor the
// new layer's, and it goes under its own.
func TestNoNonceForTwoPacketsAfterDroppedPadding(t *testing.T) {
	media := func(layer uint8, s uint16, key bool) *packet {
		p := &packet{layer: layer, header: rtp.Header{Version: 2, SequenceNumber: s, Timestamp: uint32(s) * 3000},
			payload: []byte{0x10, 0x01, 0x00, byte(s)}}
		if key {
			p.payload[1] = 0x00
		}
		return p
	}
	padding := &packet{header: rtp.Header{Version: 2, SequenceNumber: 5, Timestamp: 5 * 3000, Padding: true, PaddingSize: 255}}
	for _, c := range []struct {
		name string
		fw   func() *forwarder
		then func(d *downTrack, q *sendQueue)
	}{
		{"train, passthrough", streamCases[0].fw, func(d *downTrack, q *sendQueue) { q.write(sendItem{d: d, p: trainMarker}, false) }},
		{"train, segments", streamCases[1].fw, func(d *downTrack, q *sendQueue) { q.write(sendItem{d: d, p: trainMarker}, false) }},
		{"switch", streamCases[1].fw, func(d *downTrack, q *sendQueue) {
			d.up.layers[1].Store(&layer{up: d.up, index: 1})
			d.ctl.Store(packCtl(0, 1))
			q.write(sendItem{d: d, p: media(1, 500, true)}, false)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, q, cq := newSRTPSub(t, c.fw())
			for s := uint16(1); s <= 3; s++ {
				q.write(sendItem{d: d, p: media(0, s, false)}, false)
			}
			q.write(sendItem{d: d, p: padding}, false)
			c.then(d, q)
			before := len(cq.got)
			q.write(sendItem{d: d, p: media(0, 4, false)}, false) // late
			cq.noNonceReused(t)
			if len(cq.got) != before+1 {
				t.Fatal("the late packet did not go")
			}
		})
	}
}

// TestRetransmissionOfAPacketThatNeverWent: a packet sealed whose datagram could not
// be queued did not go: asked for, it goes (its index was given back), under the
// next transport-wide number.
func TestRetransmissionOfAPacketThatNeverWent(t *testing.T) {
	d, q, cq := newSRTPSub(t, &forwarder{passthrough: true})
	cache := &d.up.layer(0).cache
	for s := uint16(1); s <= 6; s++ {
		p := &packet{id: uint32(s), header: rtp.Header{Version: 2, SequenceNumber: s, Timestamp: uint32(s) * 3000}, payload: []byte{0x10, 0x01, 0x00, byte(s)}}
		cache.put(p)
		if s == 4 {
			cq.fail = 1
		}
		q.write(sendItem{d: d, p: p}, false)
	}
	if len(cq.got) != 5 {
		t.Fatalf("%d datagrams, want 5 (4 refused by the socket)", len(cq.got))
	}
	budget := maxNackedPerDatagram
	d.answerNack(&rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: []rtcp.NackPair{{PacketID: 4}}}, &budget)
	it, ok := q.pop()
	if !ok {
		t.Fatal("nothing queued again")
	}
	q.write(it, true)
	if len(cq.got) != 6 {
		t.Fatalf("the packet that never went was not sent when asked for (dropped %d)", d.up.stats.retransmissionsDropped.Load())
	}
	var h rtp.Header
	if _, err := h.Unmarshal(cq.got[5]); err != nil || h.SequenceNumber != 4 || !bytes.Equal(h.GetExtension(5), []byte{0, 6}) {
		t.Fatalf("went as %d with number %x, want 4 with the next (6)", h.SequenceNumber, h.GetExtension(5))
	}
	cq.noNonceReused(t)
}

// TestNackOnPionsPathIsNoRepair: on Pion's path with transport-wide numbers nothing
// goes again (it would be renumbered), so a NACK queues nothing and the keyframe
// request that follows it is sent on, not absorbed as repaired.
func TestNackOnPionsPathIsNoRepair(t *testing.T) {
	up := newTestUpTrack()
	w := &recordingWriter{}
	d := newTestSub(t, up, 7, w)
	d.binding.Store(&binding{ssrc: 7, pt: 100, twcc: 5, stream: w})
	up.layer(0).cache.put(&packet{header: rtp.Header{SequenceNumber: 10}, payload: []byte("abcd")})
	d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: 10}}}})
	d.handleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{}})
	st := up.stats
	if st.retransmissions.Load() != 0 || st.retransmissionsDropped.Load() != 1 || st.keyframesRepaired.Load() != 0 {
		t.Fatalf("retransmissions %d, dropped %d, keyframe requests absorbed as repaired %d; want 0, 1, 0",
			st.retransmissions.Load(), st.retransmissionsDropped.Load(), st.keyframesRepaired.Load())
	}
	// What it counts is bounded per datagram, as what it answers is elsewhere.
	nack := &rtcp.TransportLayerNack{}
	for range 360 {
		nack.Nacks = append(nack.Nacks, rtcp.NackPair{PacketID: 200, LostPackets: 0xffff})
	}
	d.handleRTCP([]rtcp.Packet{nack})
	if n := st.retransmissionsDropped.Load() - 1; n != maxNackedPerDatagram {
		t.Fatalf("a datagram naming 6120 packets counted %d dropped, want %d", n, maxNackedPerDatagram)
	}
}

// TestResentPacketNotQueuedKeepsItsIndex: a retransmission the socket would not take
// leaves its index used (the first copy went): another packet under it is refused.
func TestResentPacketNotQueuedKeepsItsIndex(t *testing.T) {
	keys := srtp.SessionKeys{LocalMasterKey: bytes.Repeat([]byte{7}, 16), LocalMasterSalt: bytes.Repeat([]byte{9}, 12)}
	q := &capturedQueue{}
	var dst atomic.Pointer[route]
	dst.Store(&route{ap: netip.MustParseAddrPort("127.0.0.1:5004")})
	out, err := newSRTPOut(keys, srtp.ProtectionProfileAeadAes128Gcm, q, &dst, nil, new(atomic.Uint64))
	if err != nil {
		t.Fatal(err)
	}
	q.gcm = out.gcm
	write := func(seq uint16, ts uint32, payload string, st twccStamp) error {
		h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 1, SequenceNumber: seq, Timestamp: ts}
		_, _, err := out.write(nil, &h, []byte(payload), 0, st)
		return err
	}
	if write(10, 1000, "first", twccStamp{}) != nil || write(11, 2000, "next", twccStamp{}) != nil {
		t.Fatal("not written")
	}
	q.fail = 1
	if write(10, 1000, "first", twccStamp{again: true}) == nil {
		t.Fatal("the socket took the retransmission")
	}
	if err := write(10, 9999, "another", twccStamp{}); !errors.Is(err, errIndexUsed) {
		q.noNonceReused(t)
		t.Fatalf("another packet under the index of one that went: %v", err)
	}
}

// TestNoNonceForAPacketItsPublisherSentTwice: a publisher sends two packets under one
// sequence number (a hostile one; or a retransmission that came after the packet it
// repairs). The subscriber got the first: a NACK for it sends the first again, byte
// for byte, never the second under the first's nonce (an observer with both could
// solve the two tags for the connection's authentication key). Where the cache no
// longer holds the packet that went (the publisher's numbering started again and came
// back to it), a NACK sends nothing. Through the layer's receive, as the socket reader
// hands packets over.
func TestNoNonceForAPacketItsPublisherSentTwice(t *testing.T) {
	for _, c := range streamCases {
		t.Run(c.name, func(t *testing.T) {
			d, q, cq := newSRTPSub(t, c.fw())
			l := d.up.layer(0)
			l.tailTimer, d.up.owner = &timerLog{}, &Participant{}
			d.up.addSub(d)
			receive := func(seq uint16, fill byte) {
				t.Helper()
				b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: 3000 * uint32(seq/3)},
					Payload: append([]byte{0x10, 0x01, 0x00}, bytes.Repeat([]byte{fill}, 900)...)}).Marshal()
				if err != nil {
					t.Fatal(err)
				}
				l.receiveLocked(b)
				for it, ok := q.pop(); ok; it, ok = q.pop() {
					q.write(it, false)
				}
			}
			nack := func(seq uint16) []byte {
				t.Helper()
				before := len(cq.got)
				budget := maxNackedPerDatagram
				d.answerNack(&rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: []rtcp.NackPair{{PacketID: seq + c.off}}}, &budget)
				for it, ok := q.pop(); ok; it, ok = q.pop() {
					q.write(it, true)
				}
				switch len(cq.got) - before {
				case 0:
					return nil
				case 1:
					return cq.got[before]
				}
				t.Fatalf("NACK for %d: %d datagrams went", seq, len(cq.got)-before)
				return nil
			}
			for s := uint16(1); s <= 8; s++ {
				receive(s, 0xaa)
			}
			if len(cq.got) != 8 {
				t.Fatalf("%d of 8 packets went", len(cq.got))
			}
			first := cq.got[2]
			receive(3, 0xbb) // another packet under 3
			if again := nack(3); !bytes.Equal(again, first) {
				t.Fatalf("NACK for 3 after a second packet under it: %d bytes went, not the first packet as it went", len(again))
			}
			cq.noNonceReused(t)

			// The numbering starts again far behind (the cache lets go of everything) and
			// comes back to 3 with other bytes, while the log still holds what 3 went as.
			receive(uint16(65536+8-2*cacheSize), 0xcc)
			receive(3, 0xdd)
			if again := nack(3); again != nil && !bytes.Equal(again, first) {
				t.Fatalf("NACK for 3 once the cache held another packet under it: %d bytes went, not the first packet", len(again))
			}
			cq.noNonceReused(t)

			// A track takes no more packets than ids have values: one beyond is neither
			// cached nor sent, so no id comes round to one a log holds.
			d.up.packets.Store(math.MaxUint32)
			went := len(cq.got)
			receive(9, 0xee)
			if len(cq.got) != went || l.cache.get(9) != nil {
				t.Fatalf("a packet beyond the track's ids: %d datagrams went, cached %v", len(cq.got)-went, l.cache.get(9) != nil)
			}
			if n := d.up.stats.packetsBeyondIDs.Load(); n != 1 {
				t.Fatalf("a packet beyond the track's ids counted %d times, want once", n)
			}
		})
	}
}

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

// TestPionPathSealsNoIndexTwice: on Pion's path (a subscribe connection whose
// handshake's keys were not seen), whose SRTP context seals whatever it is given, a
// publisher's second packet under a sequence number does not go: it would share the
// first's nonce. Audio, which has no sent log, and video; a retransmission of the
// packet that went still goes (no transport-wide numbers on this connection). A packet
// given to Pion before its SRTP runs takes no index: sent again later (a new
// subscriber's replay), it goes. One Pion sealed but reported as nothing written keeps
// its index.
func TestPionPathSealsNoIndexTwice(t *testing.T) {
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		t.Run(kind.String(), func(t *testing.T) {
			var fw *forwarder
			if kind == webrtc.RTPCodecTypeVideo {
				fw = &forwarder{passthrough: true}
			}
			d, q, _ := newWriterSub(fw)
			d.up.kind = kind
			if fw != nil {
				d.sent = new(sentLog)
			}
			srtpRuns := false
			w := &plainWriter{byIndex: map[uint16][]byte{}, runs: func() bool { return srtpRuns }}
			d.binding.Store(&binding{ssrc: 1, pt: 111, stream: w}) // d.sub.srtp is nil: Pion's path
			d.sub.pion = &pionPath{connected: func() bool { return srtpRuns }}
			pkt := func(id uint32, seq uint16, fill byte) *packet {
				return &packet{id: id, header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: 960 * uint32(seq)}, payload: bytes.Repeat([]byte{fill}, 60)}
			}
			early := pkt(9, 2, 0x99)
			q.write(sendItem{d: d, p: early}, false) // Pion's SRTP does not run yet
			srtpRuns = true
			q.write(sendItem{d: d, p: early}, false) // the replay's copy of it
			if w.writes != 1 {
				t.Fatalf("a packet given before Pion's SRTP ran, sent again: %d writes, want 1", w.writes)
			}
			first, second := pkt(1, 3, 0xaa), pkt(2, 3, 0xbb)
			q.write(sendItem{d: d, p: first}, false)
			q.write(sendItem{d: d, p: second}, false)
			if w.twice != 0 || w.writes != 2 {
				t.Fatalf("%d writes, %d of them another packet under a number written", w.writes, w.twice)
			}
			if fw != nil {
				q.write(sendItem{d: d, p: first}, true) // NACKed
				if w.twice != 0 || w.writes != 3 {
					t.Fatalf("the packet that went, NACKed: %d writes, %d of another packet", w.writes, w.twice)
				}
			}
			w.swallow = true // sealed, reported as nothing written
			swallowed := pkt(3, 4, 0xcc)
			q.write(sendItem{d: d, p: swallowed}, false)
			w.swallow = false
			q.write(sendItem{d: d, p: pkt(4, 4, 0xdd)}, false)
			if w.twice != 0 {
				t.Fatal("a packet Pion sealed and reported as not written gave its index to another")
			}
			if fw != nil {
				before := w.writes
				q.write(sendItem{d: d, p: swallowed}, true) // NACKed: it goes as it went
				if w.writes != before+1 || w.twice != 0 {
					t.Fatalf("a packet Pion sealed and reported as not written, NACKed: %d writes, %d of another packet", w.writes-before, w.twice)
				}
			}
		})
	}
}

// plainWriter stands for Pion's stream: it keeps what each sequence number carried
// (SSRC 1 only, no rollover) and counts a number written again with other bytes. It
// drops what it is given while its SRTP does not run (runs), as Pion does; with
// swallow it reports a packet it took as nothing written, as Pion's mux does for one
// it sealed but had no candidate pair for.
type plainWriter struct {
	byIndex map[uint16][]byte
	writes  int
	twice   int
	runs    func() bool
	swallow bool
}

func (w *plainWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.runs != nil && !w.runs() {
		return 0, nil
	}
	b, err := (&rtp.Packet{Header: *h, Payload: payload}).Marshal()
	if err != nil {
		return 0, err
	}
	w.writes++
	if was, ok := w.byIndex[h.SequenceNumber]; ok && !bytes.Equal(was, b) {
		w.twice++
	}
	w.byIndex[h.SequenceNumber] = b
	if w.swallow {
		return 0, nil
	}
	return len(payload), nil
}

func (w *plainWriter) Write(b []byte) (int, error) { return len(b), nil }
