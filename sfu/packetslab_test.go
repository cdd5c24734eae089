package sfu

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// TestPacketSlab: what keep returns is a copy that the caller's buffer no longer
// touches, whose capacity ends where it does (an append cannot reach the next
// packet's bytes), and a packet too large for a chunk's rest gets bytes of its own.
func TestPacketSlab(t *testing.T) {
	var s packetSlab
	buf := []byte{1, 2, 3, 4}
	a := s.keep(buf)
	buf[0] = 9
	b := s.keep(buf)
	if !bytes.Equal(a, []byte{1, 2, 3, 4}) || !bytes.Equal(b, []byte{9, 2, 3, 4}) {
		t.Fatalf("kept %v and %v", a, b)
	}
	if cap(a) != len(a) {
		t.Fatalf("a kept packet's capacity %d runs past its %d bytes", cap(a), len(a))
	}
	_ = append(a, 7) // must not write into b
	if b[0] != 9 {
		t.Fatal("an append to one kept packet wrote into the next")
	}
	for _, chunk := range []int{0, audioSlabBytes} {
		s := packetSlab{chunk: chunk}
		s.keep([]byte{1})
		size := len(s.bytes) + 1
		want := chunk
		if chunk == 0 {
			want = slabBytes
		}
		if size != want {
			t.Errorf("chunk %d: made a chunk of %d bytes, want %d", chunk, size, want)
		}
		alone := size / 4
		big := make([]byte, alone)
		for len(s.bytes) >= alone { // use the chunk up to less than a large packet
			s.keep(make([]byte, alone/2))
		}
		rest := len(s.bytes)
		if c := s.keep(big); len(c) != alone || len(s.bytes) != rest {
			t.Fatalf("chunk %d: a large packet took %d bytes of the chunk's %d left", chunk, rest-len(s.bytes), rest)
		}
		if n := rest + 1; n < alone {
			if c := s.keep(make([]byte, n)); len(c) != n || len(s.bytes) != size-n {
				t.Fatalf("chunk %d: a packet larger than the rest did not start a new chunk (%d left)", chunk, len(s.bytes))
			}
		}
	}
	seen := map[*packet]bool{}
	for range 3 * slabPackets {
		p := s.newPacket()
		if seen[p] || p.payload != nil || p.header.SequenceNumber != 0 {
			t.Fatal("newPacket handed out a packet twice or not zero")
		}
		seen[p] = true
	}
}

// TestReceivedPacketsShareAllocations: packets read from the socket, decrypted and
// cached cost the reader a small fraction of an allocation each (two before the
// slab: the packet's bytes and its packet), and the cache holds each packet's own
// bytes, whatever became of the read buffer.
func TestReceivedPacketsShareAllocations(t *testing.T) {
	l := &layer{takenAt: 1}
	routes, ap := newTestRTPIn(t, webrtc.RTPCodecTypeAudio, l)
	l.up.blocked.Store(false) // cached and forwarded (to nobody) as a live track's
	// The packets come 2 ms apart on the track's clock: all of them within the cache's
	// second (cacheAge), and within what an audio stream may have forwarded with its
	// second to spare (audiocap.go), which a burst at one instant is not.
	at := time.Unix(1_000_000, 0)
	l.up.clock = func() time.Time { return at }
	enc, err := srtp.CreateContext(fuzzRTCPKeys.RemoteMasterKey, fuzzRTCPKeys.RemoteMasterSalt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	const runs = 400
	payload := func(seq uint16) []byte { return bytes.Repeat([]byte{byte(seq)}, 120) }
	sealed := make([][]byte, 0, runs+1)
	for seq := uint16(1); len(sealed) < cap(sealed); seq++ {
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: 1},
			Payload: payload(seq)}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if b, err = enc.EncryptRTP(nil, b, nil); err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, b)
	}
	// testing.AllocsPerRun rounds down to whole allocations a run: count them over
	// all the packets instead.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, b := range sealed {
		at = at.Add(2 * time.Millisecond)
		if !routes.take(b, ap, 0) {
			t.Fatal("the reader did not take the packet")
		}
		clear(b) // the read buffer is read into again
	}
	runtime.ReadMemStats(&after)
	allocs := float64(after.Mallocs-before.Mallocs) / float64(len(sealed))
	t.Logf("%.3f allocations a received packet", allocs)
	if allocs > 0.2 {
		t.Errorf("%.2f allocations a received packet, want at most 0.2", allocs)
	}
	for seq := uint16(1); seq <= runs+1; seq++ {
		p := l.cache.get(seq)
		if p == nil || !bytes.Equal(p.payload, payload(seq)) {
			t.Fatalf("the cache's packet %d: %v", seq, p)
		}
	}
}

// BenchmarkPublisherReceive is the socket reader's part of a received packet: its
// decryption, the bookkeeping, the copy out of the read batch and the cache, for a
// 1,100-byte video packet of a track nobody subscribes to.
func BenchmarkPublisherReceive(b *testing.B) {
	l := &layer{takenAt: 1, tailTimer: &timerLog{}}
	routes, ap := newTestRTPIn(b, webrtc.RTPCodecTypeVideo, l)
	l.up.blocked.Store(false)
	enc, err := srtp.CreateContext(fuzzRTCPKeys.RemoteMasterKey, fuzzRTCPKeys.RemoteMasterSalt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		b.Fatal(err)
	}
	// Sealed beforehand, in a ring larger than the replay window: each is taken again
	// b.N/len times, so the packets are sealed with fresh sequence numbers per lap.
	const ring = 256
	sealed := make([][]byte, ring)
	buf := make([]byte, 1500)
	seq := uint16(1)
	lap := func() {
		for i := range sealed {
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq/8) * 3000,
				SSRC: 1, Marker: seq%8 == 7}, Payload: make([]byte, 1100)}
			pkt.Payload[0] = 0x10
			seq++
			raw, err := pkt.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			if sealed[i], err = enc.EncryptRTP(sealed[i][:0], raw, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%ring == 0 {
			b.StopTimer()
			lap()
			b.StartTimer()
		}
		n := copy(buf, sealed[i%ring])
		if !routes.take(buf[:n], ap, 0) {
			b.Fatal("the reader did not take the packet")
		}
		if i%ring == ring-1 {
			routes.batchDone()
		}
	}
}
