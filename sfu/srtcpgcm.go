package sfu

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"

	"github.com/pion/srtp/v3"
)

// srtcpCipher is one direction of a subscribe connection's SRTCP: the RTCP the server
// sends (sender reports) is sealed with the connection's local keys, what the
// subscriber sends (feedback) opened with its remote keys. For the AES-GCM profiles
// browsers negotiate it is srtcpGCM, one AES-GCM cipher; anything else keeps Pion's
// context. A Pion context holds the SRTP cipher beside the SRTCP one and maps of
// stream states, so two of them (one each way) were about 3 KB of every subscriber's
// live heap where two ciphers do (bench/README.md, "Own SRTCP, write pumps on demand,
// the collector's target").
type srtcpCipher interface {
	// seal encrypts the compound RTCP packet plain into a new buffer.
	seal(plain []byte) ([]byte, error)
	// open authenticates and decrypts the SRTCP packet b in place and returns the
	// RTCP in it; a replayed, forged or malformed packet is an error and changes
	// nothing.
	open(b []byte) ([]byte, error)
}

// newSRTCPCipher makes the SRTCP cipher of the given master key and salt.
func newSRTCPCipher(masterKey, masterSalt []byte, profile srtp.ProtectionProfile) (srtcpCipher, error) {
	if gcmProfile(profile) {
		return newSRTCPGCM(masterKey, masterSalt)
	}
	ctx, err := srtp.CreateContext(masterKey, masterSalt, profile, srtp.SRTCPReplayProtection(srtcpReplayWindow))
	if err != nil {
		return nil, errors.Join(errSRTPProfile, err)
	}
	return pionSRTCP{ctx}, nil
}

// pionSRTCP is SRTCP by Pion's context, for the profiles srtcpGCM does not handle.
type pionSRTCP struct{ ctx *srtp.Context }

func (p pionSRTCP) seal(plain []byte) ([]byte, error) { return p.ctx.EncryptRTCP(nil, plain, nil) }
func (p pionSRTCP) open(b []byte) ([]byte, error)     { return p.ctx.DecryptRTCP(b, b, nil) }

// srtcpGCM is SRTCP with AES-GCM (RFC 7714 §9): the 8-byte header in the clear, the
// rest encrypted, the 16-byte tag, then the ESRTCP word (the E flag and the 31-bit
// SRTCP index, counted per SSRC); the header and the ESRTCP word are authenticated.
// It writes what Pion's context writes and reads what it reads, with the same replay
// window, except that an unencrypted SRTCP packet (E clear, allowed by the RFC, sent
// by no browser) is refused.
type srtcpGCM struct {
	aead cipher.AEAD
	salt [12]byte
	// streams are the SSRCs seen, in the order of ids: indexes sent when sealing,
	// replay windows when opening.
	streams []srtcpStream
	ids     streamIndex
	// retired, when set (the sealing side of a connection the server runs itself),
	// names the SSRCs the connection gave up for good (ssrcretire.go): forgetRetired
	// drops their indexes, and a packet under one of them is refused rather than
	// sealed from index 1 again, under a nonce that sealed one before.
	retired *retiredSSRCs
}

// srtcpStream is one SSRC's SRTCP index (the SSRC is in srtcpGCM.ids): the last sent,
// or the highest received with the window of the srtcpReplayWindow indexes below it
// (bit i: index-i was received).
type srtcpStream struct {
	index  uint32
	window uint64
}

const (
	srtcpHeaderLen = 8
	srtcpTagLen    = 16
	srtcpWordLen   = 4
	srtcpEFlag     = 0x80000000
	srtcpMaxIndex  = 0x7fffffff
	// srtcpMaxPeerStreams bounds the SSRCs a peer's SRTCP may use: a browser sends its
	// feedback from one or two, and a map grown per SSRC by a peer is not kept.
	srtcpMaxPeerStreams = 16
)

var (
	errSRTCPShort       = errors.New("sfu: SRTCP packet too short")
	errSRTCPUnencrypted = errors.New("sfu: unencrypted SRTCP refused")
	errSRTCPReplayed    = errors.New("sfu: SRTCP packet replayed or too old")
	errSRTCPAuth        = errors.New("sfu: SRTCP packet failed authentication")
	errSRTCPStreams     = errors.New("sfu: SRTCP from too many SSRCs")
	errSRTCPExhausted   = errors.New("sfu: 2^31 SRTCP packets sent with one key")
)

// newSRTCPGCM derives SRTCP's session key and salt (labels 3 and 5, RFC 3711 §4.3).
func newSRTCPGCM(masterKey, masterSalt []byte) (*srtcpGCM, error) {
	aead, salt, err := gcmSession(masterKey, masterSalt, 0x03, 0x05)
	if err != nil {
		return nil, err
	}
	return &srtcpGCM{aead: aead, salt: salt}, nil
}

// find is ssrc's stream, or nil.
func (s *srtcpGCM) find(ssrc uint32) *srtcpStream {
	if i := s.ids.find(ssrc); i >= 0 {
		return &s.streams[i]
	}
	return nil
}

// nonce is the IV (RFC 7714 §9.1: 00 00 | SSRC | 00 00 | 0 | index, exclusive-ored
// with the salt) and the AAD (the header and the ESRTCP word).
func (s *srtcpGCM) nonce(header []byte, ssrc, index uint32) (iv [12]byte, aad [12]byte) {
	binary.BigEndian.PutUint32(iv[2:], ssrc)
	binary.BigEndian.PutUint32(iv[8:], index)
	for i := range iv {
		iv[i] ^= s.salt[i]
	}
	copy(aad[:], header[:srtcpHeaderLen])
	binary.BigEndian.PutUint32(aad[8:], index|srtcpEFlag)
	return iv, aad
}

func (s *srtcpGCM) seal(plain []byte) ([]byte, error) {
	if len(plain) < srtcpHeaderLen {
		return nil, errSRTCPShort
	}
	ssrc := binary.BigEndian.Uint32(plain[4:])
	st := s.find(ssrc)
	if st == nil {
		if s.retired != nil && s.retired.has(ssrc) {
			return nil, errSSRCRetired
		}
		s.ids.add(ssrc)
		s.streams = append(s.streams, srtcpStream{})
		st = &s.streams[len(s.streams)-1]
	}
	if st.index >= srtcpMaxIndex {
		return nil, errSRTCPExhausted
	}
	st.index++ // the first packet has index 1, as Pion's
	iv, aad := s.nonce(plain, ssrc, st.index)
	out := make([]byte, len(plain)+srtcpTagLen+srtcpWordLen)
	copy(out, plain[:srtcpHeaderLen])
	s.aead.Seal(out[srtcpHeaderLen:srtcpHeaderLen], iv[:], plain[srtcpHeaderLen:], aad[:])
	copy(out[len(plain)+srtcpTagLen:], aad[8:])
	return out, nil
}

// forgetRetired drops the index sent under ssrc once ssrc is retired (never sealed
// under again, seal refuses it): its place is taken by the last stream's, so a
// connection's SRTCP holds the streams of the tracks it sends now, however many came
// and went. Not a retired SSRC's, or where nothing is retired, it does nothing.
func (s *srtcpGCM) forgetRetired(ssrc uint32) {
	if s.retired == nil || !s.retired.has(ssrc) {
		return
	}
	i := s.ids.find(ssrc)
	if i < 0 {
		return
	}
	s.streams = dropStream(&s.ids, s.streams, i)
}

func (s *srtcpGCM) open(b []byte) ([]byte, error) {
	if len(b) < srtcpHeaderLen+srtcpTagLen+srtcpWordLen {
		return nil, errSRTCPShort
	}
	word := binary.BigEndian.Uint32(b[len(b)-srtcpWordLen:])
	if word&srtcpEFlag == 0 {
		return nil, errSRTCPUnencrypted
	}
	index := word &^ srtcpEFlag
	ssrc := binary.BigEndian.Uint32(b[4:])
	st := s.find(ssrc)
	if st == nil && len(s.streams) >= srtcpMaxPeerStreams {
		return nil, errSRTCPStreams
	}
	// The replay check before the tag's: a flood of copies costs no decryption. The
	// stream is made, and the index marked, only once the packet is authentic.
	if st != nil && !st.fresh(index) {
		return nil, errSRTCPReplayed
	}
	iv, aad := s.nonce(b, ssrc, index)
	end := len(b) - srtcpWordLen
	// Open overwrites the ciphertext even when the tag is wrong; b is the reader's
	// buffer and is dropped on an error, so nothing else sees it.
	if _, err := s.aead.Open(b[srtcpHeaderLen:srtcpHeaderLen], iv[:], b[srtcpHeaderLen:end], aad[:]); err != nil {
		return nil, errSRTCPAuth
	}
	if st == nil {
		s.ids.add(ssrc)
		s.streams = append(s.streams, srtcpStream{index: index, window: 1})
	} else {
		st.accept(index)
	}
	return b[:end-srtcpTagLen], nil
}

// fresh reports whether index is neither received before nor older than the window.
func (st *srtcpStream) fresh(index uint32) bool { return replayFresh(st.index, st.window, index) }

// accept marks index received, moving the window on if it is the highest yet.
func (st *srtcpStream) accept(index uint32) {
	st.index, st.window = replayAccept(st.index, st.window, index)
}
