package sfu

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
)

// gcmOpener authenticates and decrypts a publish connection's SRTP with AES-GCM (RFC
// 7714), the profile browsers negotiate, in place and without Pion's srtp.Context:
// the context's per-packet bookkeeping (the stream's state looked up in a map, the
// tag length asked of the profile twice, a replay detector behind an interface) was a
// third of the decryption's samples at ten all-to-all, where every received packet is
// one ninth of the forwarded ones (bench/README.md, "The SRTP writer without a copy,
// the publishers' SRTP opened by the SFU"). It reads what the context reads: the same
// session keys, initialisation vector, rollover counter estimate (RFC 3711 §3.3.1) and
// replay window (64 packets, srtpReplayWindow), checked against Pion's context packet
// by packet (TestGCMOpenerReadsWhatPionReads, FuzzGCMOpener).
//
// A stream is known from its first packet read here, whose rollover counter the
// takeover tells (openFirst, rtpIn.serve); a packet of a stream not known is refused.
// Cryptex (RFC 9335) packets are not opened here: rtpIn leaves them to Pion's context.
//
// Only the socket reader uses it (rtpIn.serve, under rtpIn.mu).
type gcmOpener struct {
	aead    cipher.AEAD
	salt    [12]byte
	iv      [12]byte
	streams []openState // in the order of ids
	ids     streamIndex
}

// openState is one stream's received packets: index is the highest authentic packet
// index (the rollover counter in its upper bits, the sequence number in its lower 16),
// window the srtpReplayWindow indexes up to it (bit i: index-i was authentic).
type openState struct {
	index  uint64
	window uint64
}

var (
	errSRTPShort         = errors.New("sfu: SRTP packet too short")
	errSRTPUnknownStream = errors.New("sfu: SRTP packet of a stream not read here")
	errSRTPReplayed      = errors.New("sfu: SRTP packet replayed or too old")
	errSRTPAuth          = errors.New("sfu: SRTP packet failed authentication")
)

// gcmTagLen is AES-GCM's authentication tag in SRTP (RFC 7714 §5.2.2).
const gcmTagLen = 16

// newGCMOpener derives the session key and salt from the peer's master key and salt.
func newGCMOpener(masterKey, masterSalt []byte) (*gcmOpener, error) {
	aead, salt, err := gcmSession(masterKey, masterSalt, 0x00, 0x02)
	if err != nil {
		return nil, err
	}
	return &gcmOpener{aead: aead, salt: salt}, nil
}

// openFirst opens the first packet read here of stream ssrc, sent with rollover
// counter roc, and starts the stream's state from it (again, if it had one: a
// stream taken over anew). b is the packet, hdrLen its header's length; it returns
// the RTP packet, decrypted in place.
func (o *gcmOpener) openFirst(b []byte, hdrLen int, ssrc uint32, seq uint16, roc uint32) ([]byte, error) {
	index := uint64(roc)<<16 | uint64(seq)
	plain, err := o.decrypt(b, hdrLen, ssrc, index)
	if err != nil {
		return nil, err
	}
	st := openState{index: index, window: 1}
	if i := o.ids.find(ssrc); i >= 0 {
		o.streams[i] = st
	} else {
		o.ids.add(ssrc)
		o.streams = append(o.streams, st)
	}
	return plain, nil
}

// open opens a packet of a known stream (see openFirst). Nothing changes unless it is
// authentic and new; the replay check comes before the tag's, so a flood of copies
// costs no decryption.
func (o *gcmOpener) open(b []byte, hdrLen int, ssrc uint32, seq uint16) ([]byte, error) {
	i := o.ids.find(ssrc)
	if i < 0 {
		return nil, errSRTPUnknownStream
	}
	st := &o.streams[i]
	index, ok := st.estimate(seq)
	if !ok {
		return nil, errSRTPExhausted
	}
	if !st.fresh(index) {
		return nil, errSRTPReplayed
	}
	plain, err := o.decrypt(b, hdrLen, ssrc, index)
	if err != nil {
		return nil, err
	}
	st.accept(index)
	return plain, nil
}

// decrypt authenticates b (the header as associated data, the tag at its end) and
// decrypts its payload in place. Open overwrites the ciphertext even when the tag is
// wrong; b is the reader's buffer and is dropped on an error, so nothing else sees it.
func (o *gcmOpener) decrypt(b []byte, hdrLen int, ssrc uint32, index uint64) ([]byte, error) {
	if hdrLen < 12 || len(b) < hdrLen+gcmTagLen {
		return nil, errSRTPShort
	}
	// RFC 7714 §8.1: 00 00 | SSRC | ROC | SEQ, exclusive-ored with the session salt.
	iv := &o.iv
	iv[0], iv[1] = 0, 0
	binary.BigEndian.PutUint32(iv[2:], ssrc)
	binary.BigEndian.PutUint32(iv[6:], uint32(index>>16))
	binary.BigEndian.PutUint16(iv[10:], uint16(index))
	for i := range iv {
		iv[i] ^= o.salt[i]
	}
	if _, err := o.aead.Open(b[hdrLen:hdrLen], iv[:], b[hdrLen:], b[:hdrLen]); err != nil {
		return nil, errSRTPAuth
	}
	return b[:len(b)-gcmTagLen], nil
}

// estimate is the index of a packet with sequence number seq: the rollover counter
// whose index lies nearest the highest received (RFC 3711 §3.3.1), as Pion's context
// reckons it (no counter below 0; ok false past the last counter).
func (st *openState) estimate(seq uint16) (index uint64, ok bool) {
	roc := st.index >> 16
	last := st.index & 0xffff
	s := uint64(seq)
	switch {
	case st.index <= 1<<15:
		// Counter 0 and the first half: a packet from before it has no counter.
	case last < 1<<15 && s > last && s-last > 1<<15:
		roc-- // from before the last wrap
	case last >= 1<<15 && last-1<<15 > s:
		roc++ // past a wrap
	}
	if roc > 0xffffffff {
		return 0, false
	}
	return roc<<16 | s, true
}

// fresh reports whether index was not received and is within the window.
func (st *openState) fresh(index uint64) bool { return replayFresh(st.index, st.window, index) }

// accept marks index received, moving the window on if it is the highest.
func (st *openState) accept(index uint64) {
	st.index, st.window = replayAccept(st.index, st.window, index)
}

// replayBits is the length of a replay window, SRTP's and SRTCP's (srtpReplayWindow,
// srtcpReplayWindow): the bits of its bitmap.
const replayBits = 64

// replayFresh reports whether a packet of index is new to a replay window: top is the
// highest index received, window the replayBits indexes up to it (bit i: top-i was
// received). One older than the window is not.
func replayFresh[I uint32 | uint64](top I, window uint64, index I) bool {
	if index > top {
		return true
	}
	d := top - index
	return d < replayBits && window&(1<<d) == 0
}

// replayAccept is the window (replayFresh) with index marked received: moved on if
// index is the highest yet.
func replayAccept[I uint32 | uint64](top I, window uint64, index I) (I, uint64) {
	if index <= top {
		return top, window | 1<<(top-index)
	}
	if d := index - top; d < replayBits {
		return index, window<<d | 1
	}
	return index, 1
}
