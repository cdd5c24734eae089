package sfu

import (
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
// The i-th SSRC drawn is 2·((a + m·i) mod 2³¹) + 1, m odd: i ↦ a + m·i is a bijection
// of the 31-bit numbers (m has an inverse modulo 2³¹), so the 2³¹ draws a connection
// may make give 2³¹ different odd SSRCs, and no more are drawn (errSSRCsSpent). An
// SSRC was drawn when its i (found with m's inverse) is below the draws made, and it
// is retired when it was drawn and is not live: the set keeps the live SSRCs only,
// where it kept 4 bytes for every SSRC the connection retired, for its life. a and m
// are the connection's own random numbers: its SSRCs say nothing another
// connection's do, and no more than the packets that carry them show of how many
// came before.
//
// ownSub draws and retires under its lock; the writer, at its next packet after a
// retirement (fresh), forgets its streams that are retired. mu is never held across
// I/O.
type retiredSSRCs struct {
	mu    sync.Mutex
	a, m  uint32      // the draws' key; m is used odd (m|1), so the zero value draws too
	drawn uint32      // how many SSRCs were drawn
	live  []uint32    // those drawn and not retired
	fresh atomic.Bool // retired since the writer last looked: its one look per packet
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
	ssrc := (r.a+(r.m|1)*r.drawn)%ssrcDraws<<1 | 1
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

// has reports whether ssrc was retired: drawn, and not live.
func (r *retiredSSRCs) has(ssrc uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ssrc&1 == 0 {
		return false
	}
	return r.index(ssrc) < r.drawn && !slices.Contains(r.live, ssrc)
}

// index is the i of the draw that gives ssrc (odd): (ssrc>>1 - a)·m⁻¹ mod 2³¹.
func (r *retiredSSRCs) index(ssrc uint32) uint32 {
	m := r.m | 1
	inv := m // Newton's iteration: each step doubles the bits of m⁻¹ mod 2³² that are right
	for range 5 {
		inv *= 2 - m*inv
	}
	return (ssrc>>1 - r.a) * inv % ssrcDraws
}

// count is how many SSRCs were retired.
func (r *retiredSSRCs) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int(r.drawn) - len(r.live)
}
