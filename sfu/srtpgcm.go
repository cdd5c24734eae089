package sfu

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"

	"github.com/pion/srtp/v3"
)

// gcmSealer encrypts a subscribe connection's RTP with AES-GCM (RFC 7714), the
// profile Chromium and Firefox negotiate, in place and without Pion's srtp.Context:
// that context parses the packet's header again from the bytes the writer has just
// marshalled and looks its stream up in a map for every packet, a fifth of the
// encryption's time in the 1 → 99 profile (bench/README.md, "UDP segmentation, our own
// AES-GCM"). What it writes is what the context would write: the same key derivation,
// the same initialisation vector, the same rollover counting.
//
// Only the subscriber's writer uses it (srtpOut).
type gcmSealer struct {
	aead cipher.AEAD
	salt [12]byte
	iv   [12]byte
	rocStreams
}

// sealedIndex is the index a packet was sealed under, and its stream's state, so
// that a packet sealed but not sent after all can give its index back (unseal).
type sealedIndex struct {
	stream *rocState
	index  uint64
}

// unseal gives back the index of a packet sealed but never sent (its datagram or
// frame could not be queued): the same packet may be sealed under it when a NACK
// asks for it, as if it had never been.
func (x sealedIndex) unseal() {
	if x.stream != nil {
		x.stream.sealed.unset(x.index)
	}
}

// rocStreams are a connection's outgoing streams' indexes, in the order of ids.
type rocStreams struct {
	streams []rocState
	ids     streamIndex
	last    sealedIndex // the packet counted last (next)
	// retired, when set, names the streams the connection gave up for good: their
	// state is forgotten, and a packet under one of their SSRCs refused (ssrcretire.go).
	retired *retiredSSRCs
}

// rocState counts a stream's rollovers: index is the highest packet index sealed, the
// rollover counter in its upper bits and the sequence number in its lower 16, and
// sealed marks which of the sealedWindow indexes up to it were sealed.
type rocState struct {
	index  uint64
	sealed windowBits // the indexes of the window up to index that were sealed
}

// sealedWindow is how far below a stream's highest index a packet is still sealed (if
// its index was not): as far back as a NACK is answered (sentLogSize).
const sealedWindow = sentLogSize

var (
	errSRTPExhausted = errors.New("sfu: 2^48 SRTP packets sent with one key")
	// errIndexUsed refuses a packet whose SRTP index was sealed already, or is too far
	// below the highest for the stream to tell: under AES-GCM the index is the nonce,
	// and two packets under one nonce give away the authentication key (and under
	// AES-CM the keystream). Only a packet sent again byte for byte may reuse its own.
	errIndexUsed = errors.New("sfu: the packet's SRTP index was used already")
)

// gcmProfile reports whether p is one of the AES-GCM profiles gcmSealer handles.
func gcmProfile(p srtp.ProtectionProfile) bool {
	return p == srtp.ProtectionProfileAeadAes128Gcm || p == srtp.ProtectionProfileAeadAes256Gcm
}

// newGCMSealer derives the session key and salt from the connection's master key and
// salt (RFC 3711 §4.3 with the key derivation rate 0, as DTLS-SRTP uses it).
func newGCMSealer(masterKey, masterSalt []byte) (*gcmSealer, error) {
	aead, salt, err := gcmSession(masterKey, masterSalt, 0x00, 0x02)
	if err != nil {
		return nil, err
	}
	return &gcmSealer{aead: aead, salt: salt}, nil
}

// gcmSession is the AES-GCM cipher and the 12-byte salt of one SRTP or SRTCP session:
// its key and salt derived from the master key and salt with the given labels (RFC
// 3711 §4.3.1: 0 and 2 for SRTP, 3 and 5 for SRTCP).
func gcmSession(masterKey, masterSalt []byte, keyLabel, saltLabel byte) (cipher.AEAD, [12]byte, error) {
	var salt [12]byte
	if len(masterSalt) != len(salt) {
		return nil, salt, errSRTPProfile
	}
	key, err := srtpKDF(keyLabel, masterKey, masterSalt, len(masterKey))
	if err != nil {
		return nil, salt, err
	}
	defer clear(key)
	s, err := srtpKDF(saltLabel, masterKey, masterSalt, len(salt))
	if err != nil {
		return nil, salt, err
	}
	copy(salt[:], s)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, salt, err
	}
	aead, err := cipher.NewGCM(block)
	return aead, salt, err
}

// srtpKDF is SRTP's key derivation (RFC 3711 §4.3.3, AES in counter mode as the PRF):
// n bytes for label.
func srtpKDF(label byte, masterKey, masterSalt []byte, n int) ([]byte, error) {
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	var in [16]byte
	copy(in[:], masterSalt)
	in[7] ^= label
	out := make([]byte, (n+15)/16*16)
	for i := 0; i*16 < n; i++ {
		binary.BigEndian.PutUint16(in[14:], uint16(i))
		block.Encrypt(out[i*16:], in[:])
	}
	return out[:n], nil
}

// seal encrypts the RTP packet p[:size], whose header is p[:hdrLen], in place, and
// appends the authentication tag (p must have room for it); it returns the SRTP
// packet. again says the packet is one sealed before, sent again byte for byte.
func (s *gcmSealer) seal(p []byte, hdrLen, size int, ssrc uint32, seq uint16, again bool) ([]byte, error) {
	if err := s.nonce(ssrc, seq, again); err != nil {
		return nil, err
	}
	ct := s.aead.Seal(p[hdrLen:hdrLen], s.iv[:], p[hdrLen:size], p[:hdrLen])
	return p[:hdrLen+len(ct)], nil
}

// sealPayload is seal for a packet whose header alone is in p (p[:hdrLen]): it
// encrypts payload straight behind it, so the writer need not copy the payload in
// first (a second pass over a video packet's thousand bytes). payload must not
// overlap p.
func (s *gcmSealer) sealPayload(p []byte, hdrLen int, payload []byte, ssrc uint32, seq uint16, again bool) ([]byte, error) {
	if err := s.nonce(ssrc, seq, again); err != nil {
		return nil, err
	}
	ct := s.aead.Seal(p[hdrLen:hdrLen], s.iv[:], payload, p[:hdrLen])
	return p[:hdrLen+len(ct)], nil
}

// nonce counts the packet in its stream and sets iv to its initialisation vector
// (RFC 7714 §8.1: 00 00 | SSRC | ROC | SEQ, exclusive-ored with the session salt).
func (s *gcmSealer) nonce(ssrc uint32, seq uint16, again bool) error {
	roc, err := s.next(ssrc, seq, again)
	if err != nil {
		return err
	}
	iv := &s.iv
	iv[0], iv[1] = 0, 0
	binary.BigEndian.PutUint32(iv[2:], ssrc)
	binary.BigEndian.PutUint32(iv[6:], roc)
	binary.BigEndian.PutUint16(iv[10:], seq)
	for i := range iv {
		iv[i] ^= s.salt[i]
	}
	return nil
}

// next counts a packet of stream ssrc (rocState.next) and keeps its index as last.
func (s *rocStreams) next(ssrc uint32, seq uint16, again bool) (uint32, error) {
	st, err := s.stream(ssrc)
	if err != nil {
		return 0, err
	}
	roc, err := st.next(seq, again)
	if err == nil {
		s.last = sealedIndex{st, uint64(roc)<<16 | uint64(seq)}
	}
	return roc, err
}

// stream is ssrc's rollover state, made at its first packet; a retired SSRC's is
// forgotten, and never made again.
func (s *rocStreams) stream(ssrc uint32) (*rocState, error) {
	if s.retired != nil && s.retired.fresh.Load() {
		s.forgetRetired()
	}
	if i := s.ids.find(ssrc); i >= 0 {
		return &s.streams[i], nil
	}
	if s.retired != nil && s.retired.has(ssrc) {
		return nil, errSSRCRetired
	}
	s.ids.add(ssrc)
	s.streams = append(s.streams, rocState{index: noIndex})
	return &s.streams[len(s.streams)-1], nil
}

// forgetRetired drops the state of the streams retired since it last looked: each
// stream's place is taken by the last one, so the search reads the live streams
// only. The packet counted last is forgotten too (its state may have moved): it is
// given back only right after it was counted, before the next packet. fresh is
// cleared first: a retirement during the look is seen by the look or by the next.
func (s *rocStreams) forgetRetired() {
	s.retired.fresh.Store(false)
	for i := 0; i < len(s.streams); {
		if !s.retired.has(s.ids.ssrcs[i]) {
			i++
			continue
		}
		s.streams = dropStream(&s.ids, s.streams, i)
	}
	s.last = sealedIndex{}
}

// streamIndex finds a connection's streams by SSRC: the i-th SSRC added is the i-th
// stream of the slice it indexes. A connection has a few streams (a subscriber's
// tracks, a peer's one or two), so the SSRCs are searched from the last one found,
// not hashed; at ten all-to-all a subscriber's packets come from nine streams in
// turn. The SSRCs are kept apart from the streams' state so the search reads one
// short array (the profile had a search that read each stream's state through its
// generic key method at 1 % of the server's time).
type streamIndex struct {
	ssrcs []uint32
	last  int
}

// find is ssrc's index, -1 if none.
func (x *streamIndex) find(ssrc uint32) int {
	if x.last < len(x.ssrcs) && x.ssrcs[x.last] == ssrc {
		return x.last
	}
	for i, s := range x.ssrcs {
		if s == ssrc {
			x.last = i
			return i
		}
	}
	return -1
}

// add indexes ssrc as the next stream; the caller appends the stream.
func (x *streamIndex) add(ssrc uint32) {
	x.ssrcs = append(x.ssrcs, ssrc)
	x.last = len(x.ssrcs) - 1
}

// dropStream forgets the i-th stream of x and of streams, the state x indexes (SRTP's
// rollovers, SRTCP's indexes): the last one takes its place. It returns streams
// without it.
func dropStream[T any](x *streamIndex, streams []T, i int) []T {
	end := len(streams) - 1
	streams[i], x.ssrcs[i] = streams[end], x.ssrcs[end]
	x.ssrcs, x.last = x.ssrcs[:end], 0
	return streams[:end]
}

// noIndex marks a stream that has sent nothing yet (a packet index has 48 bits).
const noIndex = ^uint64(0)

// next is the rollover counter for a packet with sequence number seq, and counts it:
// a packet after the highest sealed (within half the sequence space, across a wrap or
// not) moves the index on; one before it (a retransmission, or a late packet) is sent
// with the counter it had. The same reckoning as the receiver's (RFC 3711 §3.3.1) and
// Pion's sender. A packet before the highest is refused (errIndexUsed) if its index was
// sealed already, unless it is the same packet sent again (again), or if it is more
// than sealedWindow below, where that cannot be told: a number that jumped half the
// sequence space ahead reads as one far behind.
func (r *rocState) next(seq uint16, again bool) (uint32, error) {
	if r.index == noIndex {
		r.index = uint64(seq)
		r.sealed.set(r.index)
		return 0, nil
	}
	roc := uint32(r.index >> 16)
	last := int32(r.index & 0xffff)
	s := int32(seq)
	guess, diff := roc, s-last
	if r.index > 1<<15 {
		switch {
		case last < 1<<15 && s-last > 1<<15: // from before the last wrap
			guess, diff = roc-1, s-last-1<<16
		case last >= 1<<15 && last-1<<15 > s: // past a wrap
			guess, diff = roc+1, s-last+1<<16
		}
	}
	if guess == 0 && roc == ^uint32(0) {
		return 0, errSRTPExhausted
	}
	if diff > 0 {
		r.sealed.pass(r.index+1, int(diff)-1)
		r.index += uint64(diff)
		r.sealed.set(r.index)
		return guess, nil
	}
	index := uint64(guess)<<16 | uint64(seq)
	switch {
	case r.index-index >= sealedWindow:
		return 0, errIndexUsed
	case r.sealed.has(index) && !again:
		return 0, errIndexUsed
	}
	r.sealed.set(index)
	return guess, nil
}
