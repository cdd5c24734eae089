package sfu

import (
	"bytes"
	"math"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

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
