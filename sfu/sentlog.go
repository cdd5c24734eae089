package sfu

// sentLog is the transport-wide sequence numbers a video subscription's packets went
// out with, by their own (the subscription's) sequence numbers, for the last
// sentLogSize of them.
//
// Why: SRTP's AES-GCM nonce is a packet's index (SSRC, rollover counter, sequence
// number; RFC 7714), and the header, transport-wide number included, is the additional
// data the tag covers. Without RTX (subsdp.go offers none) a retransmission carries
// the sequence number of the packet it repairs, so it is sealed with the same nonce; had
// it a new transport-wide number, anyone on the path who sees both copies (and can make
// the first one go missing: a NACK follows) could solve the two tags for the
// connection's authentication key, and from then on alter any packet of it. A packet
// sent again therefore goes with the number it first went with: byte for byte the
// packet sent before, which tells an observer nothing new.
//
// Only the subscriber's writer goroutine touches it.
//
// Slot i is the one sequence number of the last sentLogSize up to the highest sent
// that is i modulo sentLogSize, so a slot needs no number of its own: passing over
// numbers empties their slots (note). A slot also keeps which packet went (its id,
// packet.id): a packet is sent again only under the number it went with itself.
// Another packet under a number already sent would share its nonce: the forwarder
// numbering two packets alike, or a publisher that sent two under one number of its
// own, the second in the cache where the first was (its numbering started again, say);
// it is refused (the sealer would refuse it too, rocState.next, but not a claim to be
// the same packet).
//
// An id is its track's count of packets, and a track takes no more packets than ids
// have values (layer.receive): ids do not come round, so no other packet brings a
// logged id back into the cache, however long a hostile publisher sends while an
// observer holds back the subscriber's NACK.
type sentLog struct {
	slot [sentLogSize]uint32 // transport-wide number << 16 | the low 16 bits of the packet's id
	high [sentLogSize]uint16 // the id's high 16 bits; an id of 0 (trainID) is a train's padding
	sent windowBits          // slot i's packet was sent
	top  uint16              // the highest sequence number sent
	has  bool                // anything sent at all
}

// trainID is a train's padding in a sentLog: no publisher's packet.
const trainID = 0

// sentLogSize is how far back the log reaches: as far as a NACK can be answered (a
// track's packet cache holds cacheSize packets; a subscription's numbers advance at
// most as fast, trains aside).
const sentLogSize = cacheSize

// sentBefore says how a packet with sequence number seq may go.
type sentBefore uint8

const (
	sentNever   sentBefore = iota // not sent: it takes the next transport-wide number
	sentAlready                   // sent: it goes again with the number it went with
	sentUnknown                   // older than the log reaches: it must not go at all
	sentOther                     // another packet went under it: it must not go at all
)

// lookup says whether seq was sent, as the packet id, and with which transport-wide
// number.
func (l *sentLog) lookup(seq uint16, id uint32) (sentBefore, uint16) {
	if !l.has {
		return sentNever, 0
	}
	back := int16(l.top - seq)
	switch {
	case back < 0:
		return sentNever, 0 // beyond the highest sent
	case int(back) >= sentLogSize:
		return sentUnknown, 0
	}
	i := int(seq) % sentLogSize
	if !l.sent.has(uint64(seq)) {
		return sentNever, 0 // within reach and not sent (dropped from a full queue, say)
	}
	if uint16(l.slot[i]) != uint16(id) || l.high[i] != uint16(id>>16) {
		return sentOther, 0
	}
	return sentAlready, uint16(l.slot[i] >> 16)
}

// note records that seq went with transport-wide number num, as the packet id; seq
// is not older than the log reaches (lookup said so). The slots the highest number
// passes over are emptied: those packets were not sent (yet), and the numbers
// sentLogSize before them are out of reach.
func (l *sentLog) note(seq, num uint16, id uint32) {
	if ahead := int16(seq - l.top); !l.has || ahead > 0 {
		if !l.has {
			ahead = sentLogSize
		}
		l.sent.pass(uint64(l.top)+1, int(ahead)-1)
		l.top, l.has = seq, true
	}
	i := int(seq) % sentLogSize
	l.slot[i], l.high[i] = uint32(num)<<16|id&0xffff, uint16(id>>16)
	l.sent.set(uint64(seq))
}

// windowBits marks which of the last sentLogSize numbers of a run were taken (a sent
// log's sequence numbers, a sealer's SRTP indexes): number n is bit n modulo the size,
// which divides the 16 bits of a sequence number, so a wrap keeps every bit in place.
type windowBits [sentLogSize / 64]uint64

func (w *windowBits) set(n uint64)      { w[n%sentLogSize/64] |= 1 << (n % 64) }
func (w *windowBits) unset(n uint64)    { w[n%sentLogSize/64] &^= 1 << (n % 64) }
func (w *windowBits) has(n uint64) bool { return w[n%sentLogSize/64]&(1<<(n%64)) != 0 }

// pass unsets the count numbers from first on, which the run passed over untaken; all
// of them for a count of the window or more.
func (w *windowBits) pass(first uint64, count int) {
	if count >= sentLogSize {
		clear(w[:])
		return
	}
	for n := range uint64(max(count, 0)) {
		w.unset(first + n)
	}
}
