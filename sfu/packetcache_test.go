package sfu

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// cacheFeed puts packets into a cache as a publisher's reader would: one every
// interval from the start time on, the first packet of a keyframe where asked.
type cacheFeed struct {
	c        *packetCache
	seq      uint16
	at       time.Time
	interval time.Duration
}

func (f *cacheFeed) next(keyframe bool) uint16 {
	f.seq++
	f.at = f.at.Add(f.interval)
	p := &packet{header: rtp.Header{SequenceNumber: f.seq}, payload: []byte{0}, arrival: f.at.UnixNano()}
	if keyframe {
		f.c.putKeyframe(p, f.at)
	} else {
		f.c.put(p)
	}
	return f.seq
}

// held is how many packets the cache holds.
func (c *packetCache) held() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.slots {
		if p != nil {
			n++
		}
	}
	return n
}

// TestPacketCacheKeepsASecond: at 100 packets a second without keyframes the cache
// holds the last second (for NACKs), not its 512 slots; what is older is gone.
func TestPacketCacheKeepsASecond(t *testing.T) {
	c := &packetCache{}
	f := &cacheFeed{c: c, seq: 65000, at: time.Unix(1_000_000, 0), interval: 10 * time.Millisecond}
	var first uint16
	for i := range 400 { // four seconds, across the numbers' wrap
		s := f.next(false)
		if i == 0 {
			first = s
		}
	}
	if n := c.held(); n != 101 {
		t.Errorf("holds %d packets, want the 101 of the last second", n)
	}
	for back := range uint16(101) {
		if c.get(f.seq-back) == nil {
			t.Fatalf("packet %d (%d behind the newest) not held", f.seq-back, back)
		}
	}
	for _, s := range []uint16{first, f.seq - 101, f.seq - 300} {
		if c.get(s) != nil {
			t.Errorf("packet %d, older than a second, still held", s)
		}
	}
}

// TestPacketCacheKeepsTheKeyframeRun: the latest keyframe and everything after it stay
// while a new subscriber could be sent them (keyframeReplayAge), then go by age.
func TestPacketCacheKeepsTheKeyframeRun(t *testing.T) {
	c := &packetCache{}
	f := &cacheFeed{c: c, at: time.Unix(1_000_000, 0), interval: 10 * time.Millisecond}
	for range 50 {
		f.next(false)
	}
	key := f.next(true)
	for range 180 { // 1.8 s after the keyframe
		f.next(false)
	}
	if n := c.held(); n != 181 {
		t.Errorf("holds %d packets 1.8 s after the keyframe, want its run of 181", n)
	}
	if c.get(key-1) != nil {
		t.Error("the packet before the keyframe, older than a second, is still held")
	}
	run, ok := c.keyframeRun(f.at, keyframeReplayAge, 0, true, nil)
	if !ok || len(run) != 181 || run[0].header.SequenceNumber != key {
		t.Fatalf("keyframe run: %d packets from %v (ok %v), want 181 from %d", len(run), run[0].header.SequenceNumber, ok, key)
	}
	for range 30 { // 2.1 s after it: too old to replay
		f.next(false)
	}
	if n := c.held(); n != 101 {
		t.Errorf("holds %d packets once the keyframe is too old to replay, want 101", n)
	}
	if c.get(key) != nil {
		t.Error("the keyframe too old to replay is still held")
	}
}

// TestPacketCacheLateAndOutOfOrder: a packet that comes after a newer one is kept
// (reordered, or the publisher's retransmission), one too far behind is forwarded but
// not kept, and a numbering that starts again far behind, or jumps far ahead, leaves
// nothing of the old one.
func TestPacketCacheLateAndOutOfOrder(t *testing.T) {
	c := &packetCache{}
	f := &cacheFeed{c: c, seq: 1000, at: time.Unix(1_000_000, 0), interval: 10 * time.Millisecond}
	put := func(seq uint16) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.putLocked(&packet{header: rtp.Header{SequenceNumber: seq}, arrival: f.at.UnixNano()})
	}

	if !put(1001) || !put(1000) || c.get(1000) == nil || c.get(1001) == nil {
		t.Fatal("the first two packets out of order: not both kept")
	}
	f.seq = 1001
	for range 300 {
		f.next(false)
	}
	if !put(f.seq-150) || c.get(f.seq-150) == nil {
		t.Error("a retransmission 150 behind the newest (older than the tail) was not kept")
	}
	if put(f.seq-cacheSize/2) || c.get(f.seq-cacheSize/2) != nil {
		t.Error("a packet half the cache behind the newest was kept")
	}
	if c.get(f.seq) == nil {
		t.Fatal("the newest packet went with the late ones")
	}

	old := f.seq
	if !put(old-cacheSize) || c.get(old-cacheSize) == nil || c.get(old) != nil || c.held() != 1 {
		t.Errorf("numbering started again %d behind: holds %d packets, want the new one alone", cacheSize, c.held())
	}
	if !put(old+5000) || c.held() != 1 || c.get(old+5000) == nil {
		t.Errorf("numbering jumped 5000 ahead: holds %d packets, want the new one alone", c.held())
	}
}

// TestPacketCacheInvariants puts a long random mix of new, late, repeated and jumping
// packets with keyframes among them, and checks after each that every packet held sits
// in its own slot between the tail and the newest, the newest is held, and the oldest
// held is one a NACK or a replay could still use (those behind it go when it does).
func TestPacketCacheInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 2026))
	c := &packetCache{}
	seq, at := uint16(0), int64(1_000_000_000_000)
	for i := range 20_000 {
		switch r := rng.IntN(100); {
		case r < 80:
			seq++
		case r < 90:
			seq -= uint16(rng.IntN(40)) // late, or repeated
		case r < 95:
			seq += uint16(rng.IntN(3000))
		default:
			seq -= uint16(rng.IntN(3000))
		}
		at += rng.Int64N(int64(30 * time.Millisecond))
		p := &packet{header: rtp.Header{SequenceNumber: seq}, arrival: at}
		if rng.IntN(50) == 0 {
			c.putKeyframe(p, time.Unix(0, at))
		} else {
			c.put(p)
		}

		c.mu.Lock()
		if c.slots[c.newest%cacheSize] == nil {
			t.Fatalf("put %d: the newest (%d) is not held", i, c.newest)
		}
		if c.tail != c.newest {
			p := c.slots[c.tail%cacheSize]
			keyRun := c.hasKey && c.newestAt-c.keyArrival <= int64(keyframeReplayAge) && int16(c.newest-c.keySeq) < cacheSize/2 &&
				int16(c.tail-c.keySeq) >= 0
			if p == nil || p.arrival < c.newestAt-int64(cacheAge) && !keyRun {
				t.Fatalf("put %d: the oldest held (%d) is neither within cacheAge nor in a replayable keyframe run", i, c.tail)
			}
		}
		for j, p := range c.slots {
			if p == nil {
				continue
			}
			s := p.header.SequenceNumber
			if int(s%cacheSize) != j || int16(s-c.tail) < 0 || int16(c.newest-s) < 0 {
				t.Fatalf("put %d: packet %d in slot %d, tail %d newest %d", i, s, j, c.tail, c.newest)
			}
		}
		c.mu.Unlock()
	}
}

// BenchmarkPacketCacheHeld reports what a track's caches hold (bytes of packet
// payload, averaged over the last five of ten seconds) for a camera with and without
// simulcast, a screen share and a microphone, at typical rates; "ring-B" is what the
// fixed ring of cacheSize packets the cache was before would hold. Packets are put
// as a reader would, evenly spaced, with a keyframe every three seconds on video (a
// browser sends one only when asked: more often than it would).
func BenchmarkPacketCacheHeld(b *testing.B) {
	type layer struct {
		kbps, size int
		keyframes  bool
	}
	for _, tc := range []struct {
		name   string
		layers []layer
	}{
		{"camera-1M", []layer{{1000, 1150, true}}},
		{"camera-simulcast", []layer{{150, 1000, true}, {500, 1150, true}, {1500, 1150, true}}},
		{"screen-300k", []layer{{300, 1150, true}}},
		{"mic-32k", []layer{{32, 100, false}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var held, ring float64
			for range b.N {
				held, ring = 0, 0
				for _, l := range tc.layers {
					h, r := cacheHeld(l.kbps, l.size, l.keyframes)
					held += h
					ring += r
				}
			}
			b.ReportMetric(held, "held-B")
			b.ReportMetric(ring, "ring-B")
		})
	}
}

// cacheHeld feeds one layer's packets for ten seconds and returns the payload bytes
// its cache held on average over the last five, and what a full ring would.
func cacheHeld(kbps, size int, keyframes bool) (held, ring float64) {
	perSecond := kbps * 1000 / 8 / size
	f := &cacheFeed{c: &packetCache{}, at: time.Unix(1_000_000, 0), interval: time.Second / time.Duration(perSecond)}
	var sum, samples float64
	for i := range 10 * perSecond {
		f.next(keyframes && i%(3*perSecond) == 0)
		if i >= 5*perSecond {
			sum += float64(f.c.held() * size)
			samples++
		}
	}
	return sum / samples, float64(min(cacheSize, 10*perSecond) * size)
}
