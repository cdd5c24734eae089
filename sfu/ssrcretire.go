package sfu

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
)

// retiredSSRCs are the SSRCs a subscribe connection the server runs itself has given
// up for good: a section's SSRC ends with its track (ownSub.removeTrack), and a track
// that takes the section later gets a new one. Under AES-GCM a stream's (SSRC, index)
// is the packet's nonce, so the writer may forget a stream's rollover state only if
// its SSRC is never sent again with the connection's key: ownSub never draws a
// retired SSRC again, and the writer refuses one (errSSRCRetired), a packet of the
// track whose binding it loaded just before the track was removed. Without it the
// writer kept every stream the connection ever sent, a day's screen shares and
// cameras in front of the live ones in its search (rocStreams.stream). The sender
// reports' SRTCP indexes go the same way: ownSub drops a retired SSRC's from its
// AES-GCM SRTCP cipher as it retires it, and the cipher refuses a report under it
// (srtcpGCM.forgetRetired, seal).
//
// The set keeps 4 bytes a retired SSRC, for the connection's life. ownSub retires
// under its lock; the writer takes what was retired since it last looked at its next
// packet. mu is never held across I/O.
type retiredSSRCs struct {
	mu      sync.Mutex
	sorted  []uint32    // every SSRC retired on the connection
	pending []uint32    // retired since the writer last took them
	fresh   atomic.Bool // pending is not empty: the writer's one look per packet
}

// errSSRCRetired refuses a packet under an SSRC the connection gave up: its stream's
// indexes are forgotten, and one of them may have been sealed already.
var errSSRCRetired = errors.New("sfu: the packet's SSRC was retired on this connection")

// retire gives ssrc up for good.
func (r *retiredSSRCs) retire(ssrc uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, found := slices.BinarySearch(r.sorted, ssrc)
	if found {
		return
	}
	r.sorted = slices.Insert(r.sorted, i, ssrc)
	r.pending = append(r.pending, ssrc)
	r.fresh.Store(true)
}

// has reports whether ssrc was retired.
func (r *retiredSSRCs) has(ssrc uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, found := slices.BinarySearch(r.sorted, ssrc)
	return found
}

// take appends the SSRCs retired since the last take to buf.
func (r *retiredSSRCs) take(buf []uint32) []uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	buf = append(buf, r.pending...)
	r.pending = r.pending[:0]
	r.fresh.Store(false)
	return buf
}

// count is how many SSRCs were retired.
func (r *retiredSSRCs) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sorted)
}
