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
	t   testing.TB
	sub *Participant
	out *srtpOut
	q   *capturedQueue
	seq map[*downTrack]uint16
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
	return &retireRig{t: t, sub: sub, out: out, q: q, seq: map[*downTrack]uint16{}}
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

// TestOwnSubscribeWriterForgetsRetiredStreams: a subscriber that is sent one track
// after another through a long meeting (each leaving its section to the next, with an
// SSRC of its own) holds the writer's state for the tracks it is sent now only, and a
// packet under a retired SSRC, its stream's indexes forgotten, is refused rather than
// sealed under a nonce that may have sealed another: for the profile the writer seals
// itself and one it leaves to Pion's context.
func TestOwnSubscribeWriterForgetsRetiredStreams(t *testing.T) {
	const tracks = 40
	for _, profile := range []srtp.ProtectionProfile{srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAes128CmHmacSha1_80} {
		t.Run(profile.String(), func(t *testing.T) {
			r := newRetireRig(t, profile)
			camera, mic := r.add(), r.add()
			var retired []*binding
			seen := map[uint32]bool{camera.binding.Load().ssrc: true, mic.binding.Load().ssrc: true}
			for i := range tracks {
				share := r.add()
				b := share.binding.Load()
				if seen[b.ssrc] {
					t.Fatalf("track %d drawn SSRC %d, sent under before", i, b.ssrc)
				}
				seen[b.ssrc] = true
				for range 3 {
					if err := errors.Join(r.send(camera), r.send(mic), r.send(share)); err != nil {
						t.Fatalf("track %d: %v", i, err)
					}
				}
				r.sub.own.removeTrack(share)
				retired = append(retired, b)
			}
			if err := errors.Join(r.send(camera), r.send(mic)); err != nil {
				t.Fatal(err)
			}
			if got := r.streams(); got != 2 {
				t.Fatalf("after %d tracks came and went beside 2 that stayed, the writer holds %d streams, want 2", tracks, got)
			}
			sent := len(r.q.got)
			for i, b := range retired {
				// As if the writer had loaded the binding just before the track left.
				if err := r.sendAs(b, 100); !errors.Is(err, errSSRCRetired) {
					t.Fatalf("a packet under track %d's retired SSRC: %v, want errSSRCRetired", i, err)
				}
			}
			if len(r.q.got) != sent || r.streams() != 2 {
				t.Fatalf("the retired SSRCs' packets: %d sent, the writer holds %d streams", len(r.q.got)-sent, r.streams())
			}
			if n := r.sub.own.retired.count(); n != tracks {
				t.Fatalf("%d SSRCs retired, want %d", n, tracks)
			}
		})
	}
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
