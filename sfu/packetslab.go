package sfu

// packetSlab hands out the packets a layer receives, and the bytes they keep, from
// chunks allocated for many at a time: a received packet cost two allocations (its
// bytes copied out of the reader's buffer, and its packet), and so did every
// retransmission in the cache. Under layer.rx.
//
// Nothing is reused, so nothing needs counting: the cache, the subscribers' queues and
// their forwarders share a packet with no count of who still holds it, and a chunk is
// the collector's once none of its packets is held. A layer's packets leave its cache
// in the order they came (packetCache: by sequence number), so a chunk outlives its
// newest packet's turn in the cache only while a queue still holds one, and a layer
// keeps at most one chunk of each kind beyond what its cache holds anyway.
type packetSlab struct {
	packets []packet // what is left of the current chunk of packets
	bytes   []byte   // what is left of the current chunk of bytes
	// chunk is the size of a chunk of bytes; 0 is slabBytes. An audio layer's are
	// smaller (audioSlabBytes).
	chunk int
}

const (
	// slabPackets is the packets a chunk holds (about 4 KB).
	slabPackets = 32
	// slabBytes is the size of a chunk of bytes: a dozen video packets. It is one of
	// the runtime's size classes that put four objects in a span (14,336 bytes, spans
	// of 56 KB): a chunk then mostly comes from a span already cached, where 16 KB
	// chunks were one a span and each took the page allocator's slow path (1.2 % of
	// the server's samples at 10 all-to-all; bench/README.md).
	slabBytes = 14336
	// audioSlabBytes is an audio layer's: 25–40 Opus packets, about the second its
	// cache keeps (packetCache), where a video-sized chunk would hold three seconds
	// and in a silent meeting (a packet every 400 ms) a minute.
	audioSlabBytes = 4 << 10
)

// newPacket is a zero packet the caller fills in.
func (s *packetSlab) newPacket() *packet {
	if len(s.packets) == 0 {
		s.packets = make([]packet, slabPackets)
	}
	p := &s.packets[0]
	s.packets = s.packets[1:]
	return p
}

// keep copies b into the slab and returns the copy, whose capacity is its length: an
// append to it cannot write into the next packet's bytes.
func (s *packetSlab) keep(b []byte) []byte {
	n := len(b)
	if n > len(s.bytes) {
		size := s.chunkSize()
		// A packet of a quarter chunk or more gets bytes of its own: at most that
		// much of a chunk is left unused when a packet does not fit.
		if n >= size/4 {
			return append(make([]byte, 0, n), b...)
		}
		s.bytes = make([]byte, size)
	}
	out := s.bytes[:n:n]
	copy(out, b)
	s.bytes = s.bytes[n:]
	return out
}

// chunkSize is the size of the slab's chunks of bytes.
func (s *packetSlab) chunkSize() int {
	if s.chunk == 0 {
		return slabBytes
	}
	return s.chunk
}
