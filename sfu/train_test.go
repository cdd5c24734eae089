package sfu

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// streamCases are the two ways a video subscription sends: a track as it comes
// (passthrough), and a simulcast track in segments, here adding off to sequence
// numbers.
var streamCases = []struct {
	name string
	fw   func() *forwarder
	off  uint16
}{
	{"passthrough", func() *forwarder { return &forwarder{passthrough: true} }, 0},
	{"segments", func() *forwarder {
		return &forwarder{cur: 0, segs: []segment{{layer: 0, open: true, inStart: 1, seqOff: 7}}}
	}, 7},
}

// newWriterSub is a video subscription with forwarder fw, its subscriber's writer
// (called directly, no goroutine) and an estimator, writing to w.
func newWriterSub(fw *forwarder) (*downTrack, *sendQueue, *recordingWriter) {
	w := &recordingWriter{}
	q := newIdleSendQueue(4, 4, 4)
	sub := &Participant{out: q}
	sub.bw.est = newEstimator(time.Now)
	d := &downTrack{up: newTestUpTrack(), sub: sub, fw: fw}
	d.binding.Store(&binding{ssrc: 1, pt: 96, stream: w})
	return d, q, w
}

// TestTrainInsideTheStream: a train goes out as padding in sequence numbers right
// after the last packet sent, with its timestamp; the packets after it are shifted
// past it, so the receiver sees one stream without gaps; a NACK maps a packet from
// before and one from after the train to the publisher's, and one for the padding to
// nothing. The same for a track sent as it came (passthrough) and one sent in
// segments (simulcast), whose offsets the train adds to.
func TestTrainInsideTheStream(t *testing.T) {
	for _, c := range streamCases {
		t.Run(c.name, func(t *testing.T) {
			d, q, w := newWriterSub(c.fw())
			pkt := func(seq uint16) *packet {
				return &packet{header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000},
					payload: []byte{0x10, 0x01, 0x00}}
			}
			for s := uint16(1); s <= 3; s++ {
				q.write(sendItem{d: d, p: pkt(s)}, false)
			}
			q.write(sendItem{d: d, p: trainMarker}, false)
			for _, s := range []uint16{5, 4, 6} { // 5 overtook 4
				q.write(sendItem{d: d, p: pkt(s)}, false)
			}

			got := w.got()
			if len(got) != 6+trainPackets {
				t.Fatalf("%d packets sent, want %d", len(got), 6+trainPackets)
			}
			var seqs []uint16
			for i, h := range got {
				pad := i >= 3 && i < 3+trainPackets
				if h.Padding != pad || pad && (h.PaddingSize != trainPadding || h.Timestamp != 3*3000) {
					t.Errorf("packet %d: padding %v (%d bytes), timestamp %d", i, h.Padding, h.PaddingSize, h.Timestamp)
				}
				seqs = append(seqs, h.SequenceNumber)
			}
			want := []uint16{1 + c.off, 2 + c.off, 3 + c.off}
			for i := range uint16(trainPackets) {
				want = append(want, 4+c.off+i)
			}
			shift := c.off + trainPackets
			want = append(want, 5+shift, 4+shift, 6+shift)
			if !slices.Equal(seqs, want) {
				t.Fatalf("sent %v, want %v", seqs, want)
			}

			for _, m := range []struct {
				out  uint16
				in   uint16
				okay bool
			}{{2 + c.off, 2, true}, {4 + c.off, 0, false}, {3 + shift, 0, false}, {4 + shift, 4, true}, {6 + shift, 6, true}} {
				_, in, ok := d.mapSent(m.out)
				if ok != m.okay || ok && in != m.in {
					t.Errorf("mapSent(%d) = %d, %v; want %d, %v", m.out, in, ok, m.in, m.okay)
				}
			}
		})
	}
}

// TestPublisherPaddingStaysOut: padding a publisher sends (its browser probing the
// uplink) reaches no subscriber, and the stream stays without gaps: the packets after
// it go out that much earlier, a run of padding as one; a NACK maps what was sent to
// the publisher's packets. The same for a track sent as it came and one in segments.
func TestPublisherPaddingStaysOut(t *testing.T) {
	for _, c := range streamCases {
		t.Run(c.name, func(t *testing.T) {
			d, q, w := newWriterSub(c.fw())
			media := map[uint16]bool{1: true, 2: true, 5: true, 7: true, 8: true, 9: true}
			for _, s := range []uint16{1, 2, 3, 4, 5, 6, 8, 7, 9} { // 3, 4 and 6 padding; 8 overtook 7
				p := &packet{header: rtp.Header{Version: 2, SequenceNumber: s, Timestamp: uint32(s) * 3000}}
				if media[s] {
					p.payload = []byte{0x10, 0x01, 0x00}
				} else {
					p.header.Padding, p.header.PaddingSize = true, 255
				}
				q.write(sendItem{d: d, p: p}, false)
			}
			var seqs []uint16
			for _, h := range w.got() {
				if h.Padding {
					t.Errorf("padding %d sent", h.SequenceNumber)
				}
				seqs = append(seqs, h.SequenceNumber)
			}
			o := c.off
			if want := []uint16{1 + o, 2 + o, 3 + o, 5 + o, 4 + o, 6 + o}; !slices.Equal(seqs, want) {
				t.Fatalf("sent %v, want %v", seqs, want)
			}
			for out, in := range map[uint16]uint16{2 + o: 2, 3 + o: 5, 4 + o: 7, 5 + o: 8, 6 + o: 9} {
				if _, got, ok := d.mapSent(out); !ok || got != in {
					t.Errorf("mapSent(%d) = %d, %v; want %d", out, got, ok, in)
				}
			}
		})
	}
}

// collisionPacket is a video packet of layer with sequence number seq: media with a VP8
// descriptor (keyframe says whether it starts a keyframe), or padding (no payload).
func collisionPacket(layer uint8, seq uint16, kind string) *packet {
	p := &packet{layer: layer, header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}}
	switch kind {
	case "padding":
		p.header.Padding, p.header.PaddingSize = true, 255
	case "keyframe":
		p.payload = []byte{0x10, 0x00, 0x00, 0x00}
	default:
		p.payload = []byte{0x10, 0x01, 0x00}
	}
	return p
}

// TestLatePacketIsNotNumberedTwice: a publisher's packet that comes late (3, its
// retransmission) after padding (4) that closed its segment goes out above what was
// sent; a train that follows, or a switch to another layer at its keyframe, numbers on
// from it. A sequence number sent twice would be SRTP's nonce used for two different
// packets (the train's known padding would give away the media's keystream), and the
// receiver's replay check would drop the second.
func TestLatePacketIsNotNumberedTwice(t *testing.T) {
	for _, then := range []string{"train", "switch"} {
		d, q, w := newWriterSub(&forwarder{cur: 0, segs: []segment{{layer: 0, open: true, inStart: 1, seqOff: 7}}})
		d.up.layers[1].Store(&layer{up: d.up, index: 1})
		d.up.kind = webrtc.RTPCodecTypeVideo
		for _, p := range []*packet{collisionPacket(0, 1, ""), collisionPacket(0, 2, ""), collisionPacket(0, 4, "padding"), collisionPacket(0, 3, "")} {
			q.write(sendItem{d: d, p: p}, false)
		}
		if then == "train" {
			q.write(sendItem{d: d, p: trainMarker}, false)
		} else {
			d.ctl.Store(packCtl(0, 1)) // the allocation now wants layer 1
			q.write(sendItem{d: d, p: collisionPacket(1, 500, "keyframe")}, false)
		}
		got := w.got()
		seen := map[uint16]int{}
		for i, h := range got {
			if j, ok := seen[h.SequenceNumber]; ok {
				t.Fatalf("%s: sequence number %d sent twice (packets %d and %d of %d)", then, h.SequenceNumber, j, i, len(got))
			}
			seen[h.SequenceNumber] = i
		}
		if len(got) < 4 {
			t.Fatalf("%s: %d packets sent, want the three media packets and what followed", then, len(got))
		}
	}
}
