package sfu

import (
	"bytes"
	"strings"
	"sync"

	"github.com/pion/stun/v4"
)

// pubUfrags are the local ICE ufrags of the publish connections (Pion's agents): an
// ICE-TCP connection is handed to Pion's TCP mux only when its first frame is a
// binding request for one of them. Pion's mux makes a connection for any ufrag a
// first check names and keeps it, unread, for the agents' disconnect timeout (5 s by
// default, engine.go; up to 32 of the peer's frames queued, some 300 KB), so anyone
// who could reach the port could hold that much a connection, link or not; a browser's checks come only after the answer that told it
// the ufrag, which is registered before the answer is returned.
type pubUfrags struct {
	mu sync.Mutex
	m  map[string]int // ufrag → publish connections answering with it (one, unless ufrags collide)
}

func (u *pubUfrags) add(ufrag string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]int{}
	}
	u.m[ufrag]++
}

func (u *pubUfrags) remove(ufrag string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m[ufrag]--; u.m[ufrag] <= 0 {
		delete(u.m, ufrag)
	}
}

func (u *pubUfrags) has(ufrag []byte) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.m[string(ufrag)] > 0
}

// checkUfrag returns the local ufrag a binding request names (the part of its
// USERNAME before the colon), or false when b is not a binding request with one.
func checkUfrag(b []byte) ([]byte, bool) {
	if !isSTUN(b) {
		return nil, false
	}
	var m stun.Message
	if err := stun.Decode(b, &m); err != nil || m.Type != stun.BindingRequest {
		return nil, false
	}
	var user stun.Username
	if user.GetFrom(&m) != nil {
		return nil, false
	}
	local, _, _ := bytes.Cut(user, []byte{':'})
	return local, true
}

// sdpUfrag is the first ICE ufrag an SDP gives ("" for none): Pion's answers give one
// ufrag for every media section.
func sdpUfrag(sdp string) string {
	const attr = "a=ice-ufrag:"
	i := strings.Index(sdp, attr)
	if i < 0 {
		return ""
	}
	rest := sdp[i+len(attr):]
	if j := strings.IndexAny(rest, "\r\n"); j >= 0 {
		rest = rest[:j]
	}
	return strings.TrimSpace(rest)
}

// setPublishUfrag registers the publish connection's ufrag of its latest answer (an
// ICE restart makes a new one) in place of the one before.
func (p *Participant) setPublishUfrag(ufrag string) {
	e := p.room.engine
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || ufrag == p.pubUfrag {
		return
	}
	if ufrag != "" {
		e.pubUfrags.add(ufrag)
	}
	if p.pubUfrag != "" {
		e.pubUfrags.remove(p.pubUfrag)
	}
	p.pubUfrag = ufrag
}

// dropPublishUfrag lets the publish connection's ufrag go (the connection is closing).
func (p *Participant) dropPublishUfrag() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pubUfrag != "" {
		p.room.engine.pubUfrags.remove(p.pubUfrag)
		p.pubUfrag = ""
	}
}
