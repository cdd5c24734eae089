package sfu

import (
	"maps"
	"net/netip"
	"sync"
	"sync/atomic"
)

// A subscriber behind a firewall that passes only TURN reaches the SFU through the
// embedded TURN server's relay socket on this machine: every packet to it went out of
// the media socket on loopback and was read again by the relay, a third of a relayed
// packet's cost (bench/README.md, "TURN-relayed participants"). The relay registers
// the addresses at which the SFU sees its sockets (Engine.AddLocalRelay), and the
// SFU's batches hand the datagrams to such an address over in memory instead.

// localRelays are the addresses of relay sockets on this machine and what takes the
// datagrams sent to each. The map is replaced on change and read without a lock by
// every batch the SFU sends; nil while there is none.
type localRelays struct {
	mu       sync.Mutex // serialises changes
	m        atomic.Pointer[map[netip.AddrPort]*localRelay]
	diverted atomic.Uint64 // datagrams handed over in memory
	taken    atomic.Uint64 // datagrams the relays handed the SFU (RelayUplink)
}

// localRelay is one registration: its remove takes out this one only, not a later
// one for the same address.
type localRelay struct{ deliver func([]byte) }

// AddLocalRelay makes the datagrams the SFU sends to ap go to deliver instead of the
// media socket, until remove is called. ap must be an address of a socket on this
// machine that nothing but the relay can hold (its port bound for all of the
// machine's addresses, or for ap's); deliver must copy b and must not block (a full
// relay drops, as a full socket buffer would). A datagram the SFU sends otherwise
// (larger than a batch takes, or written to the socket directly) still reaches the
// relay's socket.
func (e *Engine) AddLocalRelay(ap netip.AddrPort, deliver func(b []byte)) (remove func()) {
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	r := &localRelay{deliver: deliver}
	e.relays.change(func(m map[netip.AddrPort]*localRelay) { m[ap] = r })
	return func() {
		e.relays.change(func(m map[netip.AddrPort]*localRelay) {
			if m[ap] == r {
				delete(m, ap)
			}
		})
	}
}

// change replaces the table with a copy that f changed.
func (r *localRelays) change(f func(map[netip.AddrPort]*localRelay)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := make(map[netip.AddrPort]*localRelay)
	if old := r.m.Load(); old != nil {
		maps.Copy(next, *old)
	}
	f(next)
	if len(next) == 0 {
		r.m.Store(nil)
		return
	}
	r.m.Store(&next)
}

// divert hands the datagrams of ms addressed to a local relay to it and returns the
// others, in order: ms itself when there were none, else scratch's array refilled.
func (r *localRelays) divert(ms, scratch []*datagram) []*datagram {
	if r == nil {
		return ms
	}
	m := r.m.Load()
	if m == nil {
		return ms
	}
	var rest []*datagram
	taken := false
	diverted := uint64(0) // added once: the writers share the counter
	for i, d := range ms {
		relay := (*m)[netip.AddrPortFrom(d.ap.Addr().Unmap(), d.ap.Port())]
		if relay == nil {
			if taken {
				rest = append(rest, d)
			}
			continue
		}
		if !taken {
			rest = append(scratch[:0], ms[:i]...)
			taken = true
		}
		relay.deliver(d.buf[:d.n])
		diverted++
	}
	if !taken {
		return ms
	}
	r.diverted.Add(diverted)
	return rest
}

// RelayUplink is the other way: what the relay socket that the SFU sees at from (one
// registered with AddLocalRelay) sends to the SFU. take serves b as the media socket's
// reader would have served it from from, a publisher's SRTP or a subscriber's SRTCP
// on a connection whose packets the SFU reads itself, and reports whether it did; the
// relay sends what take does not serve (checks, DTLS, what Pion reads) on its socket.
// A relayed publisher's packets so skip a send and a receive on loopback each
// (bench/README.md, "Relays that write to their clients themselves"). take may
// decrypt b in place; it may be called from any goroutine (the readers' state is
// locked, as for the readers of ICE-TCP connections).
func (e *Engine) RelayUplink(from netip.AddrPort) (take func(b []byte) bool) {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	tails := new(tailList) // each datagram is a read batch of its own
	return func(b []byte) bool {
		var took bool
		if isRTCP(b) {
			took = e.subRTCP.take(b, from)
		} else if took = e.pubRTP.takeFor(b, from, 0, tails); took {
			tails.batchDone()
		}
		if took {
			e.relays.taken.Add(1)
		}
		return took
	}
}
