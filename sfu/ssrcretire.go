package sfu

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
)

// retiredSSRCs draws the SSRCs of a subscribe connection the server runs itself and
// knows which it gave up for good: a section's SSRC ends with its track
// (ownSub.removeTrack), and a track that takes the section later gets a new one.
// Under AES-GCM a stream's (SSRC, index) is the packet's nonce, so the writer may
// forget a stream's rollover state only if its SSRC is never sent again with the
// connection's key: no SSRC is drawn twice, and the writer refuses a retired one
// (errSSRCRetired), a packet of the track whose binding it loaded just before the
// track was removed. Without it the writer kept every stream the connection ever
// sent, a day's screen shares and cameras in front of the live ones in its search
// (rocStreams.stream). The sender reports' SRTCP indexes go the same way: ownSub
// drops a retired SSRC's from its AES-GCM SRTCP cipher as it retires it, and the
// cipher refuses a report under it (srtcpGCM.forgetRetired, seal).
//
// The i-th SSRC drawn is 2·P(i) + 1, P a permutation of the 31-bit numbers secret to
// the connection (permute: a Feistel network under its own AES key, walked into 31
// bits), so the 2³¹ draws a connection may make give 2³¹ different odd SSRCs, and no
// more are drawn (errSSRCsSpent). An SSRC was drawn when its i (P's inverse) is below
// the draws made, and it is retired when it was drawn and is not live: the set keeps
// the live SSRCs only, where it kept 4 bytes for every SSRC the connection retired,
// for its life. The order is secret, not an affine map 2·((a + m·i) mod 2³¹) + 1:
// from three consecutive draws (the tracks of a join's first offer) a and m follow,
// and from them the i of every SSRC seen later, so an observer of the wire who looked
// twice learnt how many tracks came and went on the connection in between. Under
// the permutation the SSRCs tell nothing of their order, as random ones did.
//
// ownSub draws and retires under its lock; the writer, at its next packet after a
// retirement (fresh), forgets its streams that are retired. mu is never held across
// I/O.
type retiredSSRCs struct {
	mu    sync.Mutex
	key   [16]byte            // the draws' AES key (the zero value's: zero)
	block cipher.Block        // key's, made at the first draw or look
	buf   [aes.BlockSize]byte // the round function's block
	drawn uint32              // how many SSRCs were drawn
	live  []uint32            // those drawn and not retired
	fresh atomic.Bool         // retired since the writer last looked: its one look per packet
}

const ssrcDraws = 1 << 31

var (
	// errSSRCRetired refuses a packet under an SSRC the connection gave up: its
	// stream's indexes are forgotten, and one of them may have been sealed already.
	errSSRCRetired = errors.New("sfu: the packet's SSRC was retired on this connection")
	// errSSRCsSpent refuses a track on a connection that drew 2³¹ SSRCs already.
	errSSRCsSpent = errors.New("sfu: every SSRC of the subscribe connection was drawn")
)

// draw is the next SSRC: odd, and never drawn before.
func (r *retiredSSRCs) draw() (uint32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.drawn >= ssrcDraws {
		return 0, errSSRCsSpent
	}
	ssrc := r.permute(r.drawn)<<1 | 1
	r.drawn++
	r.live = append(r.live, ssrc)
	return ssrc, nil
}

// retire gives ssrc up for good.
func (r *retiredSSRCs) retire(ssrc uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.Index(r.live, ssrc); i >= 0 {
		r.live[i] = r.live[len(r.live)-1]
		r.live = r.live[:len(r.live)-1]
		r.fresh.Store(true)
	}
}

// has reports whether ssrc was retired: drawn, and not live. A live one is found
// without the permutation's cost (the writer asks about its live streams at each
// retirement).
func (r *retiredSSRCs) has(ssrc uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ssrc&1 == 0 || slices.Contains(r.live, ssrc) {
		return false
	}
	return r.unpermute(ssrc>>1) < r.drawn
}

// feistelRounds are the rounds of the draws' Feistel network.
const feistelRounds = 8

// permute is P(x) for x below 2³¹: the Feistel network's image of x, again while it
// is not below 2³¹ (cycle walking: the first point after x on its cycle of the
// network that is below 2³¹, which makes P a bijection of them; two steps expected).
// Under mu.
func (r *retiredSSRCs) permute(x uint32) uint32 {
	for {
		if x = r.feistel(x, false); x < ssrcDraws {
			return x
		}
	}
}

// unpermute is P's inverse, walked back the same way. Under mu.
func (r *retiredSSRCs) unpermute(y uint32) uint32 {
	for {
		if y = r.feistel(y, true); y < ssrcDraws {
			return y
		}
	}
}

// feistel is the network on 32 bits (two 16-bit halves), or its inverse.
func (r *retiredSSRCs) feistel(x uint32, inverse bool) uint32 {
	hi, lo := uint16(x>>16), uint16(x)
	if !inverse {
		for i := range feistelRounds {
			hi, lo = lo, hi^r.round(i, lo)
		}
	} else {
		for i := feistelRounds - 1; i >= 0; i-- {
			hi, lo = lo^r.round(i, hi), hi
		}
	}
	return uint32(hi)<<16 | uint32(lo)
}

// round is the round function: 16 bits of AES under the key, of the round and v.
func (r *retiredSSRCs) round(i int, v uint16) uint16 {
	if r.block == nil {
		r.block, _ = aes.NewCipher(r.key[:]) // 16 bytes: no error
	}
	r.buf = [aes.BlockSize]byte{0: byte(i)}
	binary.BigEndian.PutUint16(r.buf[1:], v)
	r.block.Encrypt(r.buf[:], r.buf[:])
	return binary.BigEndian.Uint16(r.buf[:])
}

// count is how many SSRCs were retired.
func (r *retiredSSRCs) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int(r.drawn) - len(r.live)
}
