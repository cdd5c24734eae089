package sfu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// openerStep is one packet a publisher's SRTP reader gets: seq of stream ssrc, sent
// with rollover counter roc; first: the stream's first packet read here (its counter
// known from the takeover); spoil: 0 genuine, else which byte to change (1: the
// payload's, 2: the header's, 3: the tag's, 4: cut the tag short); want: the opener
// takes it.
type openerStep struct {
	ssrc  uint32
	seq   uint16
	roc   uint32
	first bool
	spoil int
	want  bool
}

// openerPlan: two streams interleaved, one taken over just before a wrap and read
// across it with packets late, repeated and forged, one taken over at counter 3 with a
// packet from before its last wrap and a jump ahead.
var openerPlan = []openerStep{
	{ssrc: 0xa, seq: 65500, first: true, want: true},
	{ssrc: 0xb, seq: 10, roc: 3, first: true, want: true},
	{ssrc: 0xa, seq: 65501, want: true},
	{ssrc: 0xa, seq: 65501},                     // repeated
	{ssrc: 0xa, seq: 65535, want: true},         // a gap
	{ssrc: 0xa, seq: 2, roc: 1, want: true},     // past the wrap
	{ssrc: 0xa, seq: 65535},                     // repeated once the window moved on
	{ssrc: 0xa, seq: 65530, want: true},         // late, from before the wrap, within the window
	{ssrc: 0xa, seq: 65530},                     // and repeated
	{ssrc: 0xa, seq: 65400},                     // more than the window behind
	{ssrc: 0xa, seq: 3, roc: 1, spoil: 1},       // forged payload
	{ssrc: 0xa, seq: 3, roc: 1, spoil: 2},       // forged header
	{ssrc: 0xa, seq: 3, roc: 1, spoil: 3},       // forged tag
	{ssrc: 0xa, seq: 3, roc: 1, spoil: 4},       // tag cut short
	{ssrc: 0xa, seq: 3, roc: 1, want: true},     // the genuine one after its forgeries
	{ssrc: 0xb, seq: 65530, roc: 2, want: true}, // from before b's last wrap
	{ssrc: 0xb, seq: 11, roc: 3, want: true},    // b goes on
	{ssrc: 0xb, seq: 31000, roc: 3, want: true}, // a jump ahead
	{ssrc: 0xb, seq: 12, roc: 3},                // now more than the window behind
	{ssrc: 0xb, seq: 31001, roc: 3, want: true},
	{ssrc: 0xa, seq: 4, roc: 1, want: true},
	{ssrc: 0xb, seq: 63000, roc: 3, want: true},          // half the sequence space on
	{ssrc: 0xb, seq: 200, roc: 4, want: true},            // past the next wrap
	{ssrc: 0xb, seq: 63001, roc: 3, spoil: 1},            // forged, from before it
	{ssrc: 0xb, seq: 63001, roc: 3},                      // too old by then
	{ssrc: 0xa, seq: 5, roc: 1, first: true, want: true}, // a taken over anew
}

// sealAt is packet seq of ssrc encrypted by a sender whose rollover counter is roc.
func sealAt(t testing.TB, send *srtp.Context, ssrc uint32, seq uint16, roc uint32, ext bool) []byte {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 90, SSRC: ssrc},
		Payload: bytes.Repeat([]byte{byte(seq), byte(ssrc)}, 40+int(seq%50))}
	if ext {
		if err := p.Header.SetExtension(1, []byte{byte(seq)}); err != nil {
			t.Fatal(err)
		}
	}
	plain, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	send.SetROC(ssrc, roc) // the next packet's index is roc's, whatever came before
	b, err := send.EncryptRTP(nil, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newOpenerRig is a sender's context, a receiving Pion context with the SRTP
// session's replay window, and an opener, all of one key of keyLen bytes.
func newOpenerRig(t testing.TB, profile srtp.ProtectionProfile, keyLen int) (send, pion *srtp.Context, o *gcmOpener) {
	t.Helper()
	key, salt := srtcpTestKey(keyLen)
	send, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		t.Fatal(err)
	}
	if pion, err = srtp.CreateContext(key, salt, profile, srtp.SRTPReplayProtection(srtpReplayWindow)); err != nil {
		t.Fatal(err)
	}
	if o, err = newGCMOpener(key, salt); err != nil {
		t.Fatal(err)
	}
	return send, pion, o
}

// openBoth gives b to the opener and to Pion's receiving context and fails the test
// when they disagree; it reports whether the opener took it.
func openBoth(t testing.TB, o *gcmOpener, pion *srtp.Context, b []byte, first bool, roc uint32) bool {
	t.Helper()
	var h rtp.Header
	hdrLen, herr := h.Unmarshal(b)
	mine, pions := bytes.Clone(b), bytes.Clone(b)
	var got []byte
	var err error
	switch {
	case herr != nil:
		err = herr
	case first:
		got, err = o.openFirst(mine, hdrLen, h.SSRC, h.SequenceNumber, roc)
	default:
		got, err = o.open(mine, hdrLen, h.SSRC, h.SequenceNumber)
	}
	if first && len(b) >= 12 { // as rtpIn.serve does, before the header is parsed
		pion.SetROC(binary.BigEndian.Uint32(b[8:12]), roc)
	}
	want, perr := pion.DecryptRTP(nil, pions, nil)
	if (err == nil) != (perr == nil) {
		t.Fatalf("seq %d of %x: the opener says %v, Pion's context %v", h.SequenceNumber, h.SSRC, err, perr)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Fatalf("seq %d of %x: opened to other bytes than Pion's context", h.SequenceNumber, h.SSRC)
	}
	return err == nil
}

// TestGCMOpenerReadsWhatPionReads: for both AES-GCM profiles, the opener takes what
// Pion's context (with the SRTP session's replay window) takes and refuses what it
// refuses, across wraps, late, repeated and forged packets, and opens each to the
// same bytes; and what it takes is what the plan says.
func TestGCMOpenerReadsWhatPionReads(t *testing.T) {
	for _, tc := range srtcpProfiles {
		t.Run(tc.name, func(t *testing.T) {
			send, pion, o := newOpenerRig(t, tc.profile, tc.keyLen)
			for i, st := range openerPlan {
				b := sealAt(t, send, st.ssrc, st.seq, st.roc, i%2 == 0)
				switch st.spoil {
				case 1:
					b[len(b)-gcmTagLen-1] ^= 1
				case 2:
					b[1] ^= 1 // the payload type
				case 3:
					b[len(b)-1] ^= 0x80
				case 4:
					b = b[:len(b)-1]
				}
				if got := openBoth(t, o, pion, b, st.first, st.roc); got != st.want {
					t.Fatalf("step %d (seq %d of %x): taken %v, want %v", i, st.seq, st.ssrc, got, st.want)
				}
			}
		})
	}
}

// TestGCMOpenerRefusesWhatItDoesNotKnow: a packet of a stream the reader did not take
// over, and one past the last rollover counter, are refused and change nothing.
func TestGCMOpenerRefusesWhatItDoesNotKnow(t *testing.T) {
	send, _, o := newOpenerRig(t, srtp.ProtectionProfileAeadAes128Gcm, 16)
	b := sealAt(t, send, 9, 100, 0, false)
	if _, err := o.open(b, 12, 9, 100); !errors.Is(err, errSRTPUnknownStream) || len(o.streams) != 0 {
		t.Fatalf("a stream not taken over: %v, %d streams", err, len(o.streams))
	}
	b = sealAt(t, send, 9, 65535, 0xffffffff, false)
	if _, err := o.openFirst(b, 12, 9, 65535, 0xffffffff); err != nil {
		t.Fatal(err)
	}
	b = sealAt(t, send, 9, 1, 0, false)
	if _, err := o.open(b, 12, 9, 1); !errors.Is(err, errSRTPExhausted) || o.streams[0].index != 1<<48-1 {
		t.Fatalf("past the last index: %v, index %x", err, o.streams[0].index)
	}
	if _, err := newGCMOpener(make([]byte, 16), make([]byte, 14)); err == nil {
		t.Fatal("a 14-byte master salt (an AES-CM profile's) was taken for AES-GCM")
	}
}

// FuzzGCMOpener: a publisher's packets, as the input scripts them (each step three
// bytes: which stream and whether to spoil it, and how far its sequence number moves,
// back or ahead), are taken by the opener exactly when Pion's context takes them, and
// opened to the same bytes; nothing panics.
func FuzzGCMOpener(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{0, 0x7f, 0xff, 0, 0x7f, 0xff, 0, 0x80, 0x10, 2, 0, 1, 0, 0xff, 0xc0})
	f.Add([]byte{4, 0, 3, 0, 0xff, 0xff, 6, 0, 1, 1, 0, 0x40, 0, 0xff, 0xbf})
	f.Fuzz(func(t *testing.T, script []byte) {
		send, pion, o := newOpenerRig(t, srtp.ProtectionProfileAeadAes128Gcm, 16)
		// Each stream's true packet index; the first packet of each is at 65000 of
		// counter 1, so scripts reach both sides of a wrap at once.
		index := [2]int64{1<<16 + 65000, 1<<16 + 65000}
		ssrcs := [2]uint32{0x100, 0x101}
		for i := 0; i+3 <= len(script) && i < 3*64; i += 3 {
			s := script[i] & 1
			index[s] += int64(int16(binary.BigEndian.Uint16(script[i+1:])))
			index[s] = max(index[s], 0)
			roc := uint32(index[s] >> 16)
			b := sealAt(t, send, ssrcs[s], uint16(index[s]), roc, i%2 == 0)
			if spoil := int(script[i] >> 1); spoil > 0 {
				b[spoil%len(b)] ^= script[i] | 1
			}
			// The reader serves a packet by the SSRC it names (rtpRoutes.take), a
			// stream's first with the counter the takeover tells.
			to := binary.BigEndian.Uint32(b[8:12])
			if to != ssrcs[0] && to != ssrcs[1] {
				continue
			}
			openBoth(t, o, pion, b, o.ids.find(to) < 0, roc)
		}
	})
}

// TestPublisherCryptexGoesToPion: a publisher's SRTP is opened by the opener until a
// packet in cryptex's form (RFC 9335) is authentic; then every packet goes to Pion's
// context, which opens both forms, with the rollover counter the opener had. A forged
// packet in cryptex's form moves nothing.
func TestPublisherCryptexGoesToPion(t *testing.T) {
	routes, ap := newFuzzRTPIn(t, 65530)
	in := routes.lookup(ap)
	plainSend, err := srtp.CreateContext(fuzzRTCPKeys.RemoteMasterKey, fuzzRTCPKeys.RemoteMasterSalt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	cryptexSend, err := srtp.CreateContext(fuzzRTCPKeys.RemoteMasterKey, fuzzRTCPKeys.RemoteMasterSalt, srtp.ProtectionProfileAeadAes128Gcm,
		srtp.Cryptex(srtp.CryptexModeEnabled))
	if err != nil {
		t.Fatal(err)
	}
	seal := func(send *srtp.Context, seq uint16, roc uint32) []byte {
		b := sealAt(t, send, 1, seq, roc, true)
		if cryptex := binary.BigEndian.Uint16(b[12:14]) == 0xc0de; cryptex != (send == cryptexSend) {
			t.Fatalf("packet %d: cryptex %v", seq, cryptex)
		}
		return b
	}
	read, refused := uint64(0), uint64(0)
	step := func(what string, b []byte, taken bool, cryptex bool) {
		t.Helper()
		if taken {
			read++
		} else {
			refused++
		}
		if !routes.take(b, ap, 0) || routes.read.Load() != read || routes.refused.Load() != refused {
			t.Fatalf("%s: %d read, %d refused, want %d and %d", what, routes.read.Load(), routes.refused.Load(), read, refused)
		}
		if in.cryptex != cryptex {
			t.Fatalf("%s: handed to Pion %v, want %v", what, in.cryptex, cryptex)
		}
	}
	step("the first packet", seal(plainSend, 65534, 0), true, false)
	step("past the wrap", seal(plainSend, 1, 1), true, false)
	forged := seal(cryptexSend, 2, 1)
	forged[len(forged)-gcmTagLen-1] ^= 1
	step("a forged packet in cryptex's form", forged, false, false)
	step("a genuine one", seal(cryptexSend, 2, 1), true, true)
	step("the plain form after it", seal(plainSend, 3, 1), true, true)
	step("the cryptex form again", seal(cryptexSend, 4, 1), true, true)
	step("a replay of it", seal(cryptexSend, 4, 1), false, true)
}

// TestPublisherLayerTakenElsewhereIsRead: a layer whose stream this reader never took
// over but which is marked taken (by a reader of the connection before this one) is
// read from rollover counter 0, as Pion's context read it; a forgery does not start it.
func TestPublisherLayerTakenElsewhereIsRead(t *testing.T) {
	l := &layer{takenAt: 1, taken: true}
	routes, ap := newTestRTPIn(t, webrtc.RTPCodecTypeAudio, l)
	send, err := srtp.CreateContext(fuzzRTCPKeys.RemoteMasterKey, fuzzRTCPKeys.RemoteMasterSalt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	forged := sealAt(t, send, 1, 500, 0, false)
	forged[len(forged)-1] ^= 1
	if !routes.take(forged, ap, 0) || routes.read.Load() != 0 || routes.refused.Load() != 1 {
		t.Fatalf("the forgery: %d read, %d refused", routes.read.Load(), routes.refused.Load())
	}
	for _, seq := range []uint16{500, 501} {
		if !routes.take(sealAt(t, send, 1, seq, 0, false), ap, 0) {
			t.Fatalf("packet %d not taken", seq)
		}
	}
	if routes.read.Load() != 2 || routes.refused.Load() != 1 {
		t.Fatalf("%d read, %d refused, want 2 and 1", routes.read.Load(), routes.refused.Load())
	}
}
