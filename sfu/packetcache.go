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
	// arrival is when its layer took it (engine clock, Unix nanoseconds): the start
	// of its forwarding delay (forwarddelay.go).
	arrival int64
}

// packetCache keeps the last packets of one publisher track so that subscribers' NACKs
// are answered from one shared buffer instead of a retransmission buffer per subscriber,
// and so that a new subscriber can be sent the latest keyframe and what followed it at
// once (replay.go) instead of waiting for the publisher's next one.
type packetCache struct {
	mu    sync.Mutex
	slots [cacheSize]*packet

	// The newest sequence number put, and the first packet of the latest keyframe
	// with when it arrived (engine clock, Unix nanoseconds).
	newest    uint16
	hasNewest bool
	keySeq    uint16
	keyAt     int64
	hasKey    bool
}

// cacheSize covers roughly one second of 2.5 Mbit/s video.
const cacheSize = 512

func (c *packetCache) put(p *packet) {
	c.mu.Lock()
	c.putLocked(p)
	c.mu.Unlock()
}

// putKeyframe puts p, the first packet of a keyframe that arrived at the engine time at.
func (c *packetCache) putKeyframe(p *packet, at time.Time) {
	c.mu.Lock()
	c.putLocked(p)
	if seq := p.header.SequenceNumber; !c.hasKey || int16(seq-c.keySeq) > 0 {
		c.keySeq, c.keyAt, c.hasKey = seq, at.UnixNano(), true
	}
	c.mu.Unlock()
}

func (c *packetCache) putLocked(p *packet) {
	seq := p.header.SequenceNumber
	c.slots[seq%cacheSize] = p
	if !c.hasNewest || int16(seq-c.newest) > 0 { // a retransmission is not the newest
		c.newest, c.hasNewest = seq, true
	}
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
