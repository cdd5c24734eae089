package sfu

import (
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
//
// A removal does not replace it: it empties the registration (localRelay.deliver),
// which the batches then pass by, and the map is rebuilt without the empty ones once
// they are as many as the rest (or at the next registration, which copies it anyway).
// A meeting that ends closes all its members' relays at once, each a removal under the
// meeting's lock: each replacing the map copied every relay of the machine, n²/2
// entries for n relays (400 relays of a meeting of 200: 80,000 entries, about half of
// the 35 MB the end allocated, signaling's BenchmarkEndMeetingWithRelays), where the
// rebuilds now copy fewer than n in all.
type localRelays struct {
	mu sync.Mutex // serialises changes
	m  atomic.Pointer[map[netip.AddrPort]*localRelay]
	// removed is how many registrations in m are removed (empty), under mu.
	removed int
	// copied counts the entries copied into new maps (tests).
	copied   int
	diverted atomic.Uint64 // datagrams handed over in memory
	taken    atomic.Uint64 // datagrams the relays handed the SFU (RelayUplink)
}

// localRelay is one registration: its remove empties this one only, not a later one
// for the same address. deliver is nil once it is removed: a batch that found it in
// the map passes it by, and the relay it delivered to is not kept by the map.
type localRelay struct{ deliver atomic.Pointer[func([]byte)] }

// AddLocalRelay makes the datagrams the SFU sends to ap go to deliver instead of the
// media socket, until remove is called. ap must be an address of a socket on this
// machine that nothing but the relay can hold (its port bound for all of the
// machine's addresses, or for ap's); deliver must copy b and must not block (a full
// relay drops, as a full socket buffer would). A datagram the SFU sends otherwise
// (larger than a batch takes, or written to the socket directly) still reaches the
// relay's socket.
func (e *Engine) AddLocalRelay(ap netip.AddrPort, deliver func(b []byte)) (remove func()) {
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	r := &localRelay{}
	r.deliver.Store(&deliver)
	e.relays.add(ap, r)
	return func() { e.relays.remove(ap, r) }
}

// add replaces the map with a copy of its registrations not removed, and r at ap.
func (r *localRelays) add(ap netip.AddrPort, relay *localRelay) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := r.liveLocked(1)
	next[ap] = relay
	r.m.Store(&next)
}

// remove empties relay, registered at ap; the map is rebuilt once the registrations
// removed are as many as the others.
func (r *localRelays) remove(ap netip.AddrPort, relay *localRelay) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if relay.deliver.Swap(nil) == nil {
		return // removed before
	}
	m := r.m.Load()
	if m == nil || (*m)[ap] != relay {
		return // a later registration at ap took its place (add dropped it)
	}
	r.removed++
	if r.removed < len(*m)-r.removed {
		return
	}
	next := r.liveLocked(0)
	if len(next) == 0 {
		r.m.Store(nil)
		return
	}
	r.m.Store(&next)
}

// liveLocked copies the registrations not removed into a new map with room for extra
// more; the map that replaces the one now holds no removed one. Under r.mu.
func (r *localRelays) liveLocked(extra int) map[netip.AddrPort]*localRelay {
	old := r.m.Load()
	if old == nil {
		return make(map[netip.AddrPort]*localRelay, extra)
	}
	next := make(map[netip.AddrPort]*localRelay, len(*old)-r.removed+extra)
	for ap, relay := range *old {
		if relay.deliver.Load() != nil {
			next[ap] = relay
		}
	}
	r.copied += len(next)
	r.removed = 0
	return next
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
		var deliver *func([]byte)
		if relay := (*m)[netip.AddrPortFrom(d.ap.Addr().Unmap(), d.ap.Port())]; relay != nil {
			deliver = relay.deliver.Load()
		}
		if deliver == nil {
			if taken {
				rest = append(rest, d)
			}
			continue
		}
		if !taken {
			rest = append(scratch[:0], ms[:i]...)
			taken = true
		}
		(*deliver)(d.buf[:d.n])
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
