package sfu

import (
	"bytes"
	"errors"
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
