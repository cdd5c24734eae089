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
type localRelays struct {
	mu       sync.Mutex // serialises changes
	m        atomic.Pointer[map[netip.AddrPort]func([]byte)]
	diverted atomic.Uint64 // datagrams handed over in memory
}

// AddLocalRelay makes the datagrams the SFU sends to ap go to deliver instead of the
// media socket, until remove is called. ap must be an address of a socket on this
// machine that nothing but the relay can hold (its port bound for all of the
// machine's addresses, or for ap's); deliver must copy b and must not block (a full
// relay drops, as a full socket buffer would). A datagram the SFU sends otherwise
// (larger than a batch takes, or written to the socket directly) still reaches the
// relay's socket.
func (e *Engine) AddLocalRelay(ap netip.AddrPort, deliver func(b []byte)) (remove func()) {
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	e.relays.set(ap, deliver)
	var once sync.Once
	return func() { once.Do(func() { e.relays.set(ap, nil) }) }
}

// LocalRelayDatagrams is the number of datagrams handed to local relays in memory.
func (e *Engine) LocalRelayDatagrams() uint64 { return e.relays.diverted.Load() }

// set registers deliver for ap, or removes ap's with nil.
func (r *localRelays) set(ap netip.AddrPort, deliver func([]byte)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := make(map[netip.AddrPort]func([]byte))
	if old := r.m.Load(); old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	if deliver != nil {
		next[ap] = deliver
	} else {
		delete(next, ap)
	}
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
	for i, d := range ms {
		deliver := (*m)[netip.AddrPortFrom(d.ap.Addr().Unmap(), d.ap.Port())]
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
		deliver(d.buf[:d.n])
		r.diverted.Add(1)
	}
	if !taken {
		return ms
	}
	return rest
}
