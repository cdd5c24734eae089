package sfu

import (
	"sync"

	"github.com/pion/rtp"
)

// packet is one received RTP packet, shared read-only by every subscription and by the
// cache; nobody modifies it after the reader made it.
type packet struct {
	header  rtp.Header
	payload []byte
	layer   uint8 // the simulcast layer it came in (upTrack.layers)
}

// packetCache keeps the last packets of one publisher track so that subscribers' NACKs
// are answered from one shared buffer instead of a retransmission buffer per subscriber.
type packetCache struct {
	mu    sync.Mutex
	slots [cacheSize]*packet
}

// cacheSize covers roughly one second of 2.5 Mbit/s video.
const cacheSize = 512

func (c *packetCache) put(p *packet) {
	c.mu.Lock()
	c.slots[p.header.SequenceNumber%cacheSize] = p
	c.mu.Unlock()
}

func (c *packetCache) get(seq uint16) *packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.slots[seq%cacheSize]; p != nil && p.header.SequenceNumber == seq {
		return p
	}
	return nil
}
