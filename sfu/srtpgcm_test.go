package sfu

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// gcmPlan is a stream's packets as a sealer sees them: two streams interleaved, one
// across a sequence number wrap, with a late packet from before the wrap (a
// retransmission, sent after the wrap with the rollover counter it had), one with
// header extensions and padding.
var gcmPlan = []struct {
	ssrc uint32
	seq  uint16
}{
	{0x1111, 65530}, {0x2222, 100}, {0x1111, 65531}, {0x1111, 65535}, {0x2222, 101},
	{0x1111, 0}, {0x1111, 1}, {0x1111, 65533}, {0x2222, 102}, {0x1111, 5}, {0x1111, 40000},
	{0x1111, 7000}, {0x1111, 7001},
}

func gcmPacket(t *testing.T, i int, ssrc uint32, seq uint16) (*rtp.Header, []byte) {
	t.Helper()
	p := rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(i) * 3000, SSRC: ssrc, Marker: i%2 == 0},
		Payload: bytes.Repeat([]byte{byte(i)}, 100+i*37),
	}
	if i%3 == 0 {
		if err := p.Header.SetExtension(3, []byte{byte(i), 0xaa}); err != nil {
			t.Fatal(err)
		}
		p.Header.Padding, p.Header.PaddingSize = true, 7
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return &p.Header, b
}

// TestGCMSealerWritesWhatPionWrites: for both AES-GCM profiles, every packet the
// sealer writes is byte for byte what Pion's SRTP context writes for it, and a
// receiving context decrypts it to the packet sent.
func TestGCMSealerWritesWhatPionWrites(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile srtp.ProtectionProfile
		keyLen  int
	}{{"AES-128-GCM", srtp.ProtectionProfileAeadAes128Gcm, 16}, {"AES-256-GCM", srtp.ProtectionProfileAeadAes256Gcm, 32}} {
		t.Run(tc.name, func(t *testing.T) {
			key := bytes.Repeat([]byte{0x5c}, tc.keyLen)
			for i := range key {
				key[i] ^= byte(i * 7)
			}
			salt := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
			if !gcmProfile(tc.profile) {
				t.Fatalf("%s is not taken as an AES-GCM profile", tc.name)
			}
			sealer, err := newGCMSealer(key, salt)
			if err != nil {
				t.Fatal(err)
			}
			pionSend, err := srtp.CreateContext(key, salt, tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			recv, err := srtp.CreateContext(key, salt, tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			for i, pk := range gcmPlan {
				h, plain := gcmPacket(t, i, pk.ssrc, pk.seq)
				want, err := pionSend.EncryptRTP(nil, plain, nil)
				if err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, len(plain)+srtpOverhead)
				copy(buf, plain)
				got, err := sealer.seal(buf, h.MarshalSize(), len(plain), pk.ssrc, pk.seq)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("packet %d (ssrc %x, seq %d): the sealer's SRTP differs from Pion's", i, pk.ssrc, pk.seq)
				}
				dec, err := recv.DecryptRTP(nil, got, nil)
				if err != nil {
					t.Fatalf("packet %d (ssrc %x, seq %d): %v", i, pk.ssrc, pk.seq, err)
				}
				if !bytes.Equal(dec, plain) {
					t.Fatalf("packet %d decrypted to other bytes", i)
				}
			}
		})
	}
}

// TestGCMSealerStopsAtTheLastIndex: after 2^48 packets a key must not be used again
// (RFC 3711 §9.2); the sealer refuses rather than reuse an initialisation vector.
func TestGCMSealerStopsAtTheLastIndex(t *testing.T) {
	r := rocState{index: uint64(^uint32(0))<<16 | 65000}
	if _, ok := r.next(65535); !ok {
		t.Fatal("the last packet index was refused")
	}
	if roc, ok := r.next(3); ok {
		t.Fatalf("a packet past the last index was given rollover counter %d", roc)
	}
	if _, err := newGCMSealer(make([]byte, 16), make([]byte, 14)); err == nil {
		t.Fatal("a 14-byte master salt (an AES-CM profile's) was taken for AES-GCM")
	}
}

// BenchmarkSRTPSeal encrypts a 1150-byte video payload in place, as the SRTP writer
// does, with Pion's context and with the sealer. ns/op is per packet.
func BenchmarkSRTPSeal(b *testing.B) {
	key, salt := make([]byte, 16), make([]byte, 12)
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 0x1234, Timestamp: 1}
	if err := h.SetExtension(3, []byte{0, 0}); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 1150)
	hdrLen := h.MarshalSize()
	size := hdrLen + len(payload)
	buf := make([]byte, size+srtpOverhead)
	for _, mode := range []string{"pion", "sealer"} {
		b.Run(mode, func(b *testing.B) {
			ctx, err := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm)
			if err != nil {
				b.Fatal(err)
			}
			sealer, err := newGCMSealer(key, salt)
			if err != nil {
				b.Fatal(err)
			}
			var parsed rtp.Header
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				h.SequenceNumber = uint16(i)
				if _, err := h.MarshalTo(buf); err != nil {
					b.Fatal(err)
				}
				copy(buf[hdrLen:], payload)
				if mode == "pion" {
					_, err = ctx.EncryptRTP(buf[:0], buf[:size], &parsed)
				} else {
					_, err = sealer.seal(buf, hdrLen, size, h.SSRC, h.SequenceNumber)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
