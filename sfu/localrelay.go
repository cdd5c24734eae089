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
// datagrams sent to each, read without a lock by every batch the SFU sends: for each
// address relays are registered at (the SFU's own few), a table of their ports in
// pages of portsPerPage, each slot an atomic pointer. A registration fills its slot (and
// makes its page, once), a removal empties it: neither copies anything, whatever the
// number of relays. The list of addresses is replaced when one is added (the machine's
// few, once each) and dropped, pages and all, when no relay is left.
//
// The table was a map replaced by a copy at each change: the 2n relays of a meeting of
// n members joining copied 2n² entries (80,000 for a meeting of 200), and each removal
// copied it again at the meeting's end, under its lock (signaling's
// BenchmarkEndMeetingWithRelays), until removals only emptied their registrations.
type localRelays struct {
	mu sync.Mutex // serialises changes
	// addrs are the addresses relays are registered at, with their ports; nil while
	// there is none.
	addrs atomic.Pointer[[]relayPorts]
	// live is how many slots are filled, under mu.
	live int
	// copied counts the entries copied into new tables (tests).
	copied   int
	diverted atomic.Uint64 // datagrams handed over in memory
	taken    atomic.Uint64 // datagrams the relays handed the SFU (RelayUplink)
}

// portsPerPage is how many ports a page of a relayPorts holds: 2 KB, allocated as its
// first relay comes; the few thousand relays a server holds, on ephemeral ports, fill
// at most a few hundred KB of pages an address.
const portsPerPage = 256

// relayPorts are the relays registered at addr, by port.
type relayPorts struct {
	addr  netip.Addr
	pages *[65536 / portsPerPage]atomic.Pointer[[portsPerPage]atomic.Pointer[localRelay]]
}

// slot is port's place, nil when its page was never made.
func (p *relayPorts) slot(port uint16) *atomic.Pointer[localRelay] {
	page := p.pages[port/portsPerPage].Load()
	if page == nil {
		return nil
	}
	return &page[port%portsPerPage]
}

// localRelay is one registration: its remove empties its slot only while the slot
// holds it, not a later registration at the same address.
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
	e.relays.add(ap, r)
	return func() { e.relays.remove(ap, r) }
}

// add puts relay in ap's slot, in place of any registration there.
func (r *localRelays) add(ap netip.AddrPort, relay *localRelay) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ports := r.portsLocked(ap.Addr())
	page := ports.pages[ap.Port()/portsPerPage].Load()
	if page == nil {
		page = new([portsPerPage]atomic.Pointer[localRelay])
		ports.pages[ap.Port()/portsPerPage].Store(page)
	}
	if page[ap.Port()%portsPerPage].Swap(relay) == nil {
		r.live++
	}
}

// portsLocked is addr's table of ports, added to the list when there is none. Under
// r.mu.
func (r *localRelays) portsLocked(addr netip.Addr) *relayPorts {
	var list []relayPorts
	if old := r.addrs.Load(); old != nil {
		for i := range *old {
			if (*old)[i].addr == addr {
				return &(*old)[i]
			}
		}
		list = make([]relayPorts, len(*old), len(*old)+1)
		r.copied += copy(list, *old)
	}
	list = append(list, relayPorts{addr: addr, pages: new([65536 / portsPerPage]atomic.Pointer[[portsPerPage]atomic.Pointer[localRelay]])})
	r.addrs.Store(&list)
	return &list[len(list)-1]
}

// remove empties relay's slot at ap, unless a later registration took it.
func (r *localRelays) remove(ap netip.AddrPort, relay *localRelay) {
	r.mu.Lock()
	defer r.mu.Unlock()
	slot := r.lookup(ap)
	if slot == nil || !slot.CompareAndSwap(relay, nil) {
		return // removed before, or a later registration at ap took its place
	}
	if r.live--; r.live == 0 {
		r.addrs.Store(nil) // the pages go too
	}
}

// lookup is ap's slot, nil when no relay was registered at its address or page.
func (r *localRelays) lookup(ap netip.AddrPort) *atomic.Pointer[localRelay] {
	list := r.addrs.Load()
	if list == nil {
		return nil
	}
	addr := ap.Addr().Unmap()
	for i := range *list {
		if (*list)[i].addr == addr {
			return (*list)[i].slot(ap.Port())
		}
	}
	return nil
}

// divert hands the datagrams of ms addressed to a local relay to it and returns the
// others, in order: ms itself when there were none, else scratch's array refilled.
func (r *localRelays) divert(ms, scratch []*datagram) []*datagram {
	if r == nil || r.addrs.Load() == nil {
		return ms
	}
	var rest []*datagram
	taken := false
	diverted := uint64(0) // added once: the writers share the counter
	for i, d := range ms {
		var relay *localRelay
		if slot := r.lookup(d.ap); slot != nil {
			relay = slot.Load()
		}
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
