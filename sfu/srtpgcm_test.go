package sfu

import (
	"bytes"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// gcmPlan is a stream's packets as a sealer sees them: two streams interleaved, one
// across a sequence number wrap, with a late packet from before the wrap (sent after
// the wrap with the rollover counter it had), one with header extensions and padding.
// The refused ones reuse an index: one sealed already (a different packet under the
// same number), and one half the sequence space away, which reads as far behind.
var gcmPlan = []struct {
	ssrc    uint32
	seq     uint16
	refused bool
}{
	{0x1111, 65530, false}, {0x2222, 100, false}, {0x1111, 65531, false}, {0x1111, 65535, false}, {0x2222, 101, false},
	{0x1111, 0, false}, {0x1111, 1, false}, {0x1111, 65533, false}, {0x2222, 102, false}, {0x1111, 5, false},
	{0x1111, 65533, true}, {0x1111, 40000, true}, {0x1111, 7000, false}, {0x1111, 7001, false}, {0x2222, 101, true},
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
				buf := make([]byte, len(plain)+srtpOverhead)
				copy(buf, plain)
				got, err := sealer.seal(buf, h.MarshalSize(), len(plain), pk.ssrc, pk.seq, false)
				if pk.refused {
					if !errors.Is(err, errIndexUsed) {
						t.Fatalf("packet %d (ssrc %x, seq %d) reuses an index, sealed: %v", i, pk.ssrc, pk.seq, err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				want, err := pionSend.EncryptRTP(nil, plain, nil)
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
	if _, err := r.next(65535, false); err != nil {
		t.Fatal("the last packet index was refused")
	}
	if roc, err := r.next(3, false); !errors.Is(err, errSRTPExhausted) {
		t.Fatalf("a packet past the last index was given rollover counter %d (%v)", roc, err)
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
					_, err = sealer.seal(buf, hdrLen, size, h.SSRC, h.SequenceNumber, false)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// capturedQueue is a media socket that keeps what is queued on it.
// capturedQueue keeps every datagram queued and, with gcm set, the initialisation
// vector each was sealed under.
type capturedQueue struct {
	got  [][]byte
	gcm  *gcmSealer
	ivs  [][12]byte
	fail int // the next fail datagrams are refused (a full socket queue)
}

func (q *capturedQueue) newDatagram() *datagram { return newFullDatagram() }

func (q *capturedQueue) queueDatagram(d *datagram) error {
	if q.fail > 0 {
		q.fail--
		return errors.New("queue full")
	}
	q.got = append(q.got, append([]byte(nil), d.buf[:d.n]...))
	if q.gcm != nil {
		q.ivs = append(q.ivs, q.gcm.iv)
	}
	return nil
}

// noNonceReused fails t if one initialisation vector sealed two different datagrams.
func (q *capturedQueue) noNonceReused(t *testing.T) {
	t.Helper()
	seen := map[[12]byte][]byte{}
	for i, iv := range q.ivs {
		if was, ok := seen[iv]; ok && !bytes.Equal(was, q.got[i]) {
			var a, b rtp.Header
			_, _ = a.Unmarshal(was)
			_, _ = b.Unmarshal(q.got[i])
			t.Fatalf("one nonce sealed two different packets: seq %d ts %d, and seq %d ts %d", a.SequenceNumber, a.Timestamp, b.SequenceNumber, b.Timestamp)
		}
		seen[iv] = q.got[i]
	}
}

// TestSRTPOutWritesWhatTheSubscriberReads: what the SRTP writer sends, with the
// transport-wide sequence number stamped and the payload sealed straight from the
// packet (or marshalled with it, when padded), a receiving Pion context decrypts to the
// packet written: for the profiles the writer seals itself and one it leaves to Pion's
// context, over the interleaved streams and sequence number wrap of gcmPlan.
func TestSRTPOutWritesWhatTheSubscriberReads(t *testing.T) {
	for _, profile := range []srtp.ProtectionProfile{srtp.ProtectionProfileAeadAes128Gcm,
		srtp.ProtectionProfileAeadAes256Gcm, srtp.ProtectionProfileAes128CmHmacSha1_80} {
		t.Run(profile.String(), func(t *testing.T) {
			keyLen, err := profile.KeyLen()
			if err != nil {
				t.Fatal(err)
			}
			saltLen, err := profile.SaltLen()
			if err != nil {
				t.Fatal(err)
			}
			keys := srtp.SessionKeys{LocalMasterKey: bytes.Repeat([]byte{7}, keyLen), LocalMasterSalt: bytes.Repeat([]byte{9}, saltLen)}
			q := &capturedQueue{}
			var dst atomic.Pointer[route]
			dst.Store(&route{ap: netip.MustParseAddrPort("127.0.0.1:5004")})
			out, err := newSRTPOut(keys, profile, q, &dst, nil, new(atomic.Uint64))
			if err != nil {
				t.Fatal(err)
			}
			if gcmProfile(profile) != (out.gcm != nil) {
				t.Fatalf("sealer %v for %s", out.gcm != nil, profile)
			}
			recv, err := srtp.CreateContext(keys.LocalMasterKey, keys.LocalMasterSalt, profile)
			if err != nil {
				t.Fatal(err)
			}
			for i, pk := range gcmPlan {
				h, plain := gcmPacket(t, i, pk.ssrc, pk.seq)
				var parsed rtp.Packet
				if err := parsed.Unmarshal(plain); err != nil {
					t.Fatal(err)
				}
				twcc := uint8(0)
				if i%2 == 1 {
					twcc = 5
				}
				hdr := *h
				hdr.Extensions = append([]rtp.Extension(nil), h.Extensions...)
				queued := len(q.got)
				_, _, err := out.write(nil, &hdr, parsed.Payload, twcc, twccStamp{})
				if pk.refused {
					if !errors.Is(err, errIndexUsed) || len(q.got) != queued {
						t.Fatalf("packet %d (ssrc %x, seq %d) reuses an index: %v, %d datagrams queued", i, pk.ssrc, pk.seq, err, len(q.got)-queued)
					}
					continue
				}
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if len(q.got) != queued+1 {
					t.Fatalf("packet %d: %d datagrams queued", i, len(q.got)-queued)
				}
				dec, err := recv.DecryptRTP(nil, q.got[queued], nil)
				if err != nil {
					t.Fatalf("packet %d (ssrc %x, seq %d): %v", i, pk.ssrc, pk.seq, err)
				}
				var got rtp.Packet
				if err := got.Unmarshal(dec); err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if !bytes.Equal(got.Payload, parsed.Payload) || got.SequenceNumber != pk.seq || got.SSRC != pk.ssrc ||
					got.Padding != h.Padding || got.PaddingSize != h.PaddingSize || got.Timestamp != h.Timestamp {
					t.Fatalf("packet %d decrypted to %+v", i, got.Header)
				}
				if ext := got.GetExtension(5); twcc != 0 && !bytes.Equal(ext, []byte{byte(out.twccSeq >> 8), byte(out.twccSeq)}) {
					t.Fatalf("packet %d: transport-wide sequence number %x, want %d", i, ext, out.twccSeq)
				}
				if want := h.GetExtension(3); want != nil && !bytes.Equal(got.GetExtension(3), want) {
					t.Fatalf("packet %d lost its header extension", i)
				}
			}
		})
	}
}

// BenchmarkSRTPWrite is the SRTP writer's part of a forwarded packet: the header with
// its transport-wide sequence number, sealed with the 1,100-byte payload into a
// datagram, for a subscriber of a ten-person meeting (nine streams in turn). ns/op is
// per packet.
func BenchmarkSRTPWrite(b *testing.B) {
	keys := srtp.SessionKeys{LocalMasterKey: make([]byte, 16), LocalMasterSalt: make([]byte, 12)}
	var dst atomic.Pointer[route]
	dst.Store(&route{ap: netip.MustParseAddrPort("127.0.0.1:5004")})
	out, err := newSRTPOut(keys, srtp.ProtectionProfileAeadAes128Gcm, discardQueue{newFullDatagram()}, &dst, nil, new(atomic.Uint64))
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 1100)
	var hs [9]rtp.Header
	for i := range hs {
		hs[i] = rtp.Header{Version: 2, PayloadType: 96, SSRC: uint32(0x1000 + i*7919)}
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h := &hs[i%len(hs)]
		h.SequenceNumber++
		h.Timestamp = uint32(i/36) * 3000
		if _, _, err := out.write(nil, h, payload, 3, twccStamp{}); err != nil {
			b.Fatal(err)
		}
	}
}

// discardQueue is a media socket that drops what is queued, reusing one datagram.
type discardQueue struct{ d *datagram }

func (q discardQueue) newDatagram() *datagram        { return q.d }
func (q discardQueue) queueDatagram(*datagram) error { return nil }
