package sfu

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// retireRig is a subscribe connection the server runs itself, its sections and its
// own SRTP writer (profile), without the network: tracks are added and removed as a
// room does (ownSub.addTrack, removeTrack), bound as an answer binds them, and their
// packets go through the participant's writeRTP into q.
type retireRig struct {
	t    testing.TB
	sub  *Participant
	out  *srtpOut
	q    *capturedQueue
	seq  map[*downTrack]uint16
	keys srtp.SessionKeys // the writer's
}

func newRetireRig(t testing.TB, profile srtp.ProtectionProfile) *retireRig {
	t.Helper()
	sub := &Participant{out: newIdleSendQueue(4, 4, 4)}
	sub.own = &ownSub{p: sub}
	salt := 12
	if !gcmProfile(profile) {
		salt = 14
	}
	keys := srtp.SessionKeys{LocalMasterKey: bytes.Repeat([]byte{7}, 16), LocalMasterSalt: bytes.Repeat([]byte{9}, salt)}
	var dst atomic.Pointer[route]
	dst.Store(&route{ap: netip.MustParseAddrPort("127.0.0.1:5004")})
	q := &capturedQueue{}
	out, err := newSRTPOut(keys, profile, q, &dst, nil, new(atomic.Uint64))
	if err != nil {
		t.Fatal(err)
	}
	sub.useSRTP(out)
	return &retireRig{t: t, sub: sub, out: out, q: q, seq: map[*downTrack]uint16{}, keys: keys}
}

// add is a new track in a section of the connection, bound as the answer binds it.
func (r *retireRig) add() *downTrack {
	d := &downTrack{up: newTestUpTrack(), sub: r.sub}
	if err := r.sub.own.addTrack(d); err != nil {
		r.t.Fatal(err)
	}
	r.sub.own.mu.Lock()
	ssrc := r.sub.own.sectionOf[d].ssrc
	r.sub.own.mu.Unlock()
	d.binding.Store(&binding{ssrc: ssrc, pt: 96})
	return d
}

// send writes d's next packet through the participant's writer.
func (r *retireRig) send(d *downTrack) error {
	r.seq[d]++
	return r.sendAs(d.binding.Load(), r.seq[d])
}

func (r *retireRig) sendAs(b *binding, seq uint16) error {
	h := rtp.Header{Version: 2, PayloadType: b.pt, SSRC: b.ssrc, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}
	_, _, err := r.sub.writeRTP(b, &h, []byte{0x10, 0x01, 0x02}, twccStamp{})
	return err
}

// streams is how many streams' state the writer holds.
func (r *retireRig) streams() int {
	if r.out.gcm != nil {
		return len(r.out.gcm.streams)
	}
	return len(r.out.indexes.streams)
}

// seqStep is how far a track's sequence number moves at each packet of
// TestOwnSubscribeWriterForgetsRetiredStreams: a quarter of the sequence space, so
// that each stream wraps (its rollover counter moves on) every fourth packet, not
// every 65,536th. The writer seals a jump ahead by less than half the space as the
// receiver reads it (RFC 3711 §3.3.1), as a jump over lost packets.
const seqStep = 1 << 14

// TestOwnSubscribeWriterForgetsRetiredStreams: a subscriber that is sent one track
// after another through a long meeting (each leaving its section to the next, with an
// SSRC of its own, after the next came: a share handed on) holds the writer's state
// for the tracks it is sent now only, and the tracks that stay keep theirs across
// every wrap of their sequence numbers: the stream that goes is not the writer's
// last, so the last takes its place, its SSRC and rollover counter with it. A stream
// whose state were lost or misplaced would start again at rollover 0 and seal an
// (SSRC, index), the AES-GCM nonce, it sealed before; so every stream's last packet
// sent again as a new one after each retirement must be refused (errIndexUsed), no
// (SSRC, index) goes out twice, and the peer opens every packet at the index the
// test counted. A packet under a retired SSRC, its stream's indexes forgotten, is
// refused rather than sealed under a nonce that may have sealed another. For the
// profile the writer seals itself and one it leaves to Pion's context (whose own
// rollover counters the writer's guard against a used index stands beside).
func TestOwnSubscribeWriterForgetsRetiredStreams(t *testing.T) {
	const tracks = 40
	for _, profile := range []srtp.ProtectionProfile{srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAes128CmHmacSha1_80} {
		t.Run(profile.String(), func(t *testing.T) {
			r := newRetireRig(t, profile)
			r.q.gcm = r.out.gcm             // the nonce of each datagram, for noNonceReused
			var want []sealedAt             // each packet that went, as the test counts it
			next := map[*downTrack]uint64{} // each track's index to send next
			add := func() *downTrack {
				d := r.add()
				next[d] = uint64(1000+7919*len(next)) % (1 << 16) // a start of its own, at rollover 0
				return d
			}
			step := func(d *downTrack) error {
				b := d.binding.Load()
				if err := r.sendAs(b, uint16(next[d])); err != nil {
					return err
				}
				want = append(want, sealedAt{b.ssrc, next[d]})
				next[d] += seqStep
				return nil
			}
			camera, mic, going := add(), add(), add()
			seen := map[uint32]bool{}
			for _, d := range []*downTrack{camera, mic, going} {
				seen[d.binding.Load().ssrc] = true
			}
			var retired []*binding
			var resealed []string
			for i := range tracks {
				share := add()
				b := share.binding.Load()
				if seen[b.ssrc] {
					t.Fatalf("track %d drawn SSRC %d, sent under before", i, b.ssrc)
				}
				seen[b.ssrc] = true
				for range 5 { // every stream held wraps at least once
					if err := errors.Join(step(camera), step(mic), step(going), step(share)); err != nil {
						t.Fatalf("track %d: %v", i, err)
					}
				}
				retired = append(retired, going.binding.Load())
				r.sub.own.removeTrack(going)
				going = share
				// The writer forgets the retired stream at the next packet: each stream
				// that stays, the one moved into its place first, still knows its index.
				for _, d := range []*downTrack{going, camera, mic} {
					b, last := d.binding.Load(), next[d]-seqStep
					err := r.sendAs(b, uint16(last))
					if errors.Is(err, errIndexUsed) {
						continue
					}
					resealed = append(resealed, fmt.Sprintf("track %d's SSRC %#x at rollover %d, sequence number %d: %v",
						i, b.ssrc, last>>16, uint16(last), err))
					if err == nil { // it went, at the index it went at before
						want = append(want, sealedAt{b.ssrc, last})
					}
				}
			}
			if len(resealed) > 0 {
				t.Errorf("%d packets sealed again under an index their stream had sealed (want errIndexUsed); the first: %s",
					len(resealed), resealed[0])
			}
			if err := errors.Join(step(camera), step(mic), step(going)); err != nil {
				t.Fatal(err)
			}
			if got := r.streams(); got != 3 {
				t.Fatalf("after %d tracks came and went beside 3 that stayed, the writer holds %d streams, want 3", tracks, got)
			}
			sent := len(r.q.got)
			for i, b := range retired {
				// As if the writer had loaded the binding just before the track left.
				if err := r.sendAs(b, 100); !errors.Is(err, errSSRCRetired) {
					t.Fatalf("a packet under track %d's retired SSRC: %v, want errSSRCRetired", i, err)
				}
			}
			if len(r.q.got) != sent || r.streams() != 3 {
				t.Fatalf("the retired SSRCs' packets: %d sent, the writer holds %d streams", len(r.q.got)-sent, r.streams())
			}
			if n := r.sub.own.retired.count(); n != tracks {
				t.Fatalf("%d SSRCs retired, want %d", n, tracks)
			}
			r.opensAt(t, profile, want)
		})
	}
}

// sealedAt is a packet's stream and SRTP index (rollover counter and sequence
// number): with the session's key, its AES-GCM nonce.
type sealedAt struct {
	ssrc  uint32
	index uint64
}

// opensAt fails t unless a receiving Pion context opens every packet the writer sent,
// in order, at the (SSRC, index) of want, and no (SSRC, index) went out twice (for
// AES-GCM also no nonce the writer used, compared as it used it).
func (r *retireRig) opensAt(t *testing.T, profile srtp.ProtectionProfile, want []sealedAt) {
	t.Helper()
	if len(r.q.got) != len(want) {
		t.Fatalf("%d packets sent, want %d", len(r.q.got), len(want))
	}
	peer, err := srtp.CreateContext(r.keys.LocalMasterKey, r.keys.LocalMasterSalt, profile)
	if err != nil {
		t.Fatal(err)
	}
	first := map[sealedAt]int{}
	for i, b := range r.q.got {
		w := want[i]
		var h rtp.Header
		if _, err := peer.DecryptRTP(nil, b, &h); err != nil {
			t.Fatalf("packet %d (SSRC %#x, rollover %d, sequence number %d): the peer cannot open it: %v",
				i, w.ssrc, w.index>>16, uint16(w.index), err)
		}
		roc, _ := peer.ROC(h.SSRC)
		got := sealedAt{h.SSRC, uint64(roc)<<16 | uint64(h.SequenceNumber)}
		if j, ok := first[got]; ok {
			t.Fatalf("packets %d and %d sealed under one SSRC %#x and index (rollover %d, sequence number %d)",
				j, i, got.ssrc, got.index>>16, uint16(got.index))
		}
		first[got] = i
		if got != w {
			t.Fatalf("packet %d opened under SSRC %#x at rollover %d, sequence number %d; want SSRC %#x, rollover %d, sequence number %d",
				i, got.ssrc, got.index>>16, uint16(got.index), w.ssrc, w.index>>16, uint16(w.index))
		}
	}
	r.q.noNonceReused(t)
}

// BenchmarkSRTPWriteAfterRetiredStreams is the writer's part of a packet for a
// subscriber sent a camera and a microphone in turn, after 1,000 other tracks came
// and went on its connection (a long day's screen shares), each sent once: ns/packet.
func BenchmarkSRTPWriteAfterRetiredStreams(b *testing.B) {
	for _, retired := range []int{0, 1000} {
		b.Run(fmt.Sprint(retired), func(b *testing.B) {
			r := newRetireRig(b, srtp.ProtectionProfileAeadAes128Gcm)
			r.out.sock = discardQueue{newFullDatagram()}
			for range retired {
				d := r.add()
				if err := r.send(d); err != nil {
					b.Fatal(err)
				}
				r.sub.own.removeTrack(d)
			}
			// The writer's own call, as the subscriber's writer makes it, on a header
			// of its own (downTrack.write).
			var live [2]rtp.Header
			for i := range live {
				live[i] = rtp.Header{Version: 2, PayloadType: 96, SSRC: r.add().binding.Load().ssrc}
			}
			payload := make([]byte, 1150)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				h := &live[i%2]
				h.SequenceNumber++
				if _, _, err := r.out.write(nil, h, payload, 0, twccStamp{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
		})
	}
}

// TestOwnSubscribeDrawsNoSSRCSentBefore: the SSRCs a connection draws are odd and
// never one drawn before, retired or live, so a new track never goes under an SSRC
// the connection's key sealed packets of another under; exactly the retired ones are
// known as retired (the writer refuses those), and once 2³¹ were drawn the next
// track is refused. Their order is the connection's secret: the differences between
// consecutive draws are not one number (an affine map's are, and give away the draw
// of every SSRC seen later). For keys of each kind: none (a connection's zero value),
// a fixed one, random ones.
func TestOwnSubscribeDrawsNoSSRCSentBefore(t *testing.T) {
	var fixed, random1, random2 [16]byte
	for i := range fixed {
		fixed[i] = byte(i + 1)
	}
	_, _ = rand.Read(random1[:])
	_, _ = rand.Read(random2[:])
	for _, key := range [][16]byte{{}, fixed, random1, random2} {
		r := retiredSSRCs{key: key}
		var prev uint32
		steps := map[uint32]bool{}
		seen := map[uint32]bool{}
		var live, retired []uint32
		for i := range 1 << 13 {
			ssrc, err := r.draw()
			if err != nil || ssrc&1 == 0 || seen[ssrc] {
				t.Fatalf("key %#x: draw %d gave %#x, %v (drawn before: %v)", key, i, ssrc, err, seen[ssrc])
			}
			seen[ssrc] = true
			if i > 0 && i <= 64 {
				steps[ssrc-prev] = true
			}
			prev = ssrc
			if r.has(ssrc) {
				t.Fatalf("key %#x: draw %d, %#x, is retired as it is drawn", key, i, ssrc)
			}
			if i%3 == 0 { // one track in three stays; the others come and go
				live = append(live, ssrc)
			} else {
				r.retire(ssrc)
				retired = append(retired, ssrc)
			}
		}
		for _, ssrc := range retired {
			if !r.has(ssrc) {
				t.Fatalf("key %#x: %#x was retired, has says not", key, ssrc)
			}
		}
		for _, ssrc := range live {
			if r.has(ssrc) || r.has(ssrc+2) && !seen[ssrc+2] || r.has(ssrc-1) {
				t.Fatalf("key %#x: %#x (live), the next odd one (never drawn) or the even one below is said retired", key, ssrc)
			}
		}
		if len(steps) < 32 {
			t.Fatalf("key %#x: the first 64 draws step by %d different numbers, want at least 32: the draws' order is not secret", key, len(steps))
		}
		if r.count() != len(retired) || len(r.live) != len(live) {
			t.Fatalf("key %#x: %d retired, %d live; want %d and %d", key, r.count(), len(r.live), len(retired), len(live))
		}
	}
	r := retireRig{t: t, sub: &Participant{}}
	r.sub.own = &ownSub{p: r.sub}
	r.sub.own.retired.drawn = ssrcDraws - 1
	last := r.add().binding.Load().ssrc
	if err := r.sub.own.addTrack(&downTrack{up: newTestUpTrack(), sub: r.sub}); !errors.Is(err, errSSRCsSpent) {
		t.Fatalf("a track after the 2³¹st (%#x): %v, want errSSRCsSpent", last, err)
	}
}

// TestOwnSubscribeRetiredSSRCsStayBounded: a connection that a long meeting's tracks
// came and went on (10,000 of them beside two that stayed) holds no more to know its
// retired SSRCs than it held with the two: the set kept 4 bytes a retired SSRC for
// the connection's life.
func TestOwnSubscribeRetiredSSRCsStayBounded(t *testing.T) {
	r := newRetireRig(t, srtp.ProtectionProfileAeadAes128Gcm)
	r.add()
	r.add()
	before := r.sub.own.retired.held()
	for range 10000 {
		d := r.add()
		if err := r.send(d); err != nil {
			t.Fatal(err)
		}
		r.sub.own.removeTrack(d)
	}
	if got := r.sub.own.retired.held(); got > max(before, 4*4) || r.sub.own.retired.count() != 10000 {
		t.Fatalf("after 10000 tracks came and went beside 2 that stayed, the retired SSRCs hold %d bytes (%d with the 2 alone), %d retired",
			got, before, r.sub.own.retired.count())
	}
}

// held is the bytes the set holds in its slices.
func (r *retiredSSRCs) held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return 4 * cap(r.live)
}
