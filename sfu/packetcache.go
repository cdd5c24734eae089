package sfu

import (
	"sync"
	"time"

	"github.com/pion/rtp"
)

// packet is one received RTP packet, shared read-only by every subscription and by the
// cache; nobody modifies it after the reader made it.
type packet struct {
	header  rtp.Header
	payload []byte
	layer   uint8 // the simulcast layer it came in (upTrack.layers)
	// padRun, on a packet without payload handed to the subscriptions, is how many
	// padding packets' numbers up to its own it stands for (paddingrun.go); 0 on one
	// that came (a replay's), which is one.
	padRun uint16
	// id tells it from every other packet its track received, under the same
	// sequence number too: the track's count of packets when it came (never 0, which
	// a sent log keeps for a train's padding). A NACK sends a packet again only if it
	// is the one that went under the number (sentlog.go).
	id uint32
	// arrival is when its layer took it (engine clock, Unix nanoseconds): the start
	// of its forwarding delay (forwarddelay.go).
	arrival int64
}

// packetCache keeps the last packets of one publisher track so that subscribers' NACKs
// are answered from one shared buffer instead of a retransmission buffer per subscriber,
// and so that a new subscriber can be sent the latest keyframe and what followed it at
// once (replay.go) instead of waiting for the publisher's next one.
//
// It keeps a packet for cacheAge after the newest one's arrival, and the latest
// keyframe's run for as long as replay.go could still use it, within cacheSize packets
// in all: at 1 Mbit/s about 110 to 240 packets instead of the 512 a fixed ring keeps
// whatever the rate. The cache holds the only lasting reference to most packets (and
// through them to their slab chunks), so this is most of a forwarded track's memory.
type packetCache struct {
	mu    sync.Mutex
	slots [cacheSize]*packet

	// The newest sequence number put and its packet's arrival; tail is the oldest
	// sequence number the cache may still hold (every slot before it is empty).
	newest    uint16
	newestAt  int64
	tail      uint16
	hasNewest bool
	// The first packet of the latest keyframe, when it arrived on the engine clock
	// (keyAt, for keyframeRun) and its packet's arrival (keyArrival, for expiry).
	keySeq     uint16
	keyAt      int64
	keyArrival int64
	hasKey     bool
	// keyHold: the latest keyframe is still being judged (keyframeProgress), so it is
	// kept past keyframeReplayAge, within keyframeAssembleMax.
	keyHold bool
}

const (
	// cacheSize bounds a track's cache: roughly two seconds of 2.5 Mbit/s video.
	cacheSize = 512
	// cacheAge is how long a packet stays to answer NACKs: a subscriber asks again
	// within a few round trips, and a packet repaired later than a second would
	// arrive after its receiver's jitter buffer gave it up.
	cacheAge = time.Second
)

func (c *packetCache) put(p *packet) {
	c.mu.Lock()
	c.putLocked(p)
	c.mu.Unlock()
}

// putKeyframe puts p, the first packet of a keyframe that arrived at the engine time at.
func (c *packetCache) putKeyframe(p *packet, at time.Time) {
	c.mu.Lock()
	if seq := p.header.SequenceNumber; c.putLocked(p) && (!c.hasKey || int16(seq-c.keySeq) > 0) {
		c.keySeq, c.keyAt, c.keyArrival, c.hasKey, c.keyHold = seq, at.UnixNano(), p.arrival, true, false
	}
	c.mu.Unlock()
}

// putLocked keeps p unless it is too far behind the newest to be of use or the cache
// holds a packet under its number, and reports whether it did.
func (c *packetCache) putLocked(p *packet) bool {
	seq := p.header.SequenceNumber
	if q := c.slots[seq%cacheSize]; q != nil && q.header.SequenceNumber == seq {
		// The number came twice (a retransmission after the packet it repairs, or a
		// publisher that sends other bytes under a number it used): the first stays,
		// since it is the one subscriptions were sent, and a NACK sends a packet again
		// only as it went (sentlog.go).
		return false
	}
	switch ahead := int16(seq - c.newest); {
	case !c.hasNewest || ahead <= -cacheSize:
		// The first packet, or a numbering that started again further back than the
		// cache reaches: nothing held before belongs to it.
		clear(c.slots[:])
		c.newest, c.newestAt, c.tail, c.hasNewest, c.hasKey = seq, p.arrival, seq, true, false
	case ahead >= cacheSize:
		clear(c.slots[:]) // a jump past everything held
		c.newest, c.newestAt, c.tail = seq, p.arrival, seq
	case ahead > 0:
		c.newest, c.newestAt = seq, p.arrival
		for int16(seq-c.tail) >= cacheSize { // the ring is about to reuse the tail's slots
			c.slots[c.tail%cacheSize] = nil
			c.tail++
		}
	case ahead <= -cacheSize/2:
		return false // too late to be of use (keyframeRun's bound): forwarded, not kept
	case int16(seq-c.tail) < 0:
		c.tail = seq // reordered, or a retransmission: kept for cacheAge from now, as any
	}
	c.slots[seq%cacheSize] = p // a retransmission is not the newest
	c.expire()
	return true
}

// expire lets go of the packets from the tail on that are older than cacheAge and not
// part of a keyframe run a new subscriber may still be sent; it stops at the first it
// keeps, so each packet is looked at about once.
func (c *packetCache) expire() {
	cut := c.newestAt - int64(cacheAge)
	keepKey := c.keepsKey()
	for c.tail != c.newest {
		i := c.tail % cacheSize
		if p := c.slots[i]; p != nil && p.header.SequenceNumber == c.tail {
			if p.arrival >= cut || keepKey && int16(c.tail-c.keySeq) >= 0 {
				return
			}
		}
		c.slots[i] = nil // expired, or a stale packet the ring had not overwritten
		c.tail++
	}
}

// keepsKey reports whether the latest keyframe's run is kept: a new subscriber may still
// be sent it (keyframeReplayAge), or it is being judged whole (keyHold), and it is
// within the cache's half.
func (c *packetCache) keepsKey() bool {
	age := c.newestAt - c.keyArrival
	return c.hasKey && (age <= int64(keyframeReplayAge) || c.keyHold && age <= int64(keyframeAssembleMax)) &&
		int16(c.newest-c.keySeq) < cacheSize/2
}

func (c *packetCache) get(seq uint16) *packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.slots[seq%cacheSize]; p != nil && p.header.SequenceNumber == seq {
		return p
	}
	return nil
}

// keyframeRun appends to buf the latest keyframe's packets and every packet after it up
// to and including to (the newest held when toNewest), if the keyframe arrived no more
// than maxAge before now and not one of those packets is missing: a run a decoder can
// start from and that continues without a gap into what comes next. One lock, so the
// run is consistent however fast the reader puts new packets.
func (c *packetCache) keyframeRun(now time.Time, maxAge time.Duration, to uint16, toNewest bool, buf []*packet) ([]*packet, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.hasKey || now.UnixNano()-c.keyAt > int64(maxAge) {
		return buf, false
	}
	if toNewest {
		to = c.newest
	}
	n := int(int16(to-c.keySeq)) + 1
	if n <= 0 || n > cacheSize/2 {
		return buf, false
	}
	start := len(buf)
	for i := range n {
		seq := c.keySeq + uint16(i)
		p := c.slots[seq%cacheSize]
		if p == nil || p.header.SequenceNumber != seq {
			clear(buf[start:])
			return buf[:start], false
		}
		buf = append(buf, p)
	}
	return buf, true
}
