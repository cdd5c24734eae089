package sfu

import (
	"bytes"
	"net/netip"
	"slices"

	"conclave/addrgroup"
)

// A subscriber's DTLS records go to the agent whose peer answered one of the server's
// requests from their address (liteAgents.routeDTLS), never to one whose check
// merely came from there. But the peer, the DTLS client on these connections (the
// server offers actpass, browsers and Pion answer active), sends its ClientHello as
// soon as the response to its own check makes the pair usable, and its answer to the
// server's request, which goes right after that response, may come after it:
// measured, 4 of 21 browser connections, and often the load generator's Pion clients.
// Left to Pion's mux, which drops a record from an address it does not know, the
// ClientHello waited for the peer's retransmission: 56 to 77 ms for a browser, a
// second for Pion (pion/dtls's first retransmission timeout), and the join with it
// (the load generator's join to first keyframe at 1 → 50: p50 57 ms before the
// answers routed the records, 86 to 232 ms after).
//
// So a record from an address that no agent's answer has made its own yet, but to
// which the server sent a request awaiting its answer, is kept (dtlsHold), and given
// to the agent whose answer from that address comes within askFlight, in the order
// the records came, as it would have been given had it come after the answer; it
// goes sooner when every agent that asked the address is removed (its connection
// closed), whose answers nothing takes any more, and all of it with the last agent,
// after which the engine sweeps no more; an agent whose credentials an ICE restart
// replaces hands its addresses to the new one (handOver). What
// decides is still the answer: a forger's check from a victim's address arms the hold
// too, and the victim's records wait for the victim's own answer, never the forger's,
// who does not see the request's transaction id. A copy is kept and the record still
// goes on to Pion's mux as before: the address may be a publisher's (whose handshake
// runs in Pion and whose peer never answers a request of an agent's), and a forged
// check from it must not take its records from Pion. Bounded (maxHeldAddrs addresses,
// maxHeldRecords records each, maxHeldBytes in all): when the hold is full a record
// goes only to Pion's mux, as before, and costs the peer its retransmission.
//
// And shared fairly between sources (addrgroup.Of: an IPv4 address, an IPv6 /64, as
// the probes' destinations): one source holds maxHeldAddrsPerSource addresses and
// maxHeldBytesPerSource bytes at most. Without, anyone could keep the hold full for
// everyone: a connection's checks from three fresh ports of its own host each earn a
// request (the budget of requests to addresses that never answered allows three in
// flight), and arm the port, whose four records of 1500 bytes are then held; four
// connections that never answer held the 64 KB, twenty-two the 64 addresses, checking
// again as each request's askFlight ran out, and every other join waited for its
// retransmission. Now it takes eight sources; a source forged in a victim's name
// (checks and records alike) takes only that source's share, and costs its peers no
// more than before the hold. What one source legitimately needs is far less: a
// browser shows as one to three addresses, each held one round trip (its answer
// takes it), so eight is three browsers behind one NAT address joining within a
// round trip; a fourth waits for its retransmission.

// maxHeldAddrs bounds the addresses, engine-wide, from which records may be held: a
// few for each subscriber joining at once (a browser checks from two or three), more
// than a crowd of fifty joining four at a time needs.
const maxHeldAddrs = 64

// maxHeldRecords bounds the records held for one address: the ClientHello, fragmented
// in two or three datagrams at most, and a retransmission of it.
const maxHeldRecords = 4

// maxHeldRecordSize is the largest datagram held: DTLS fragments its handshake
// messages to the path's MTU (1200 bytes for browsers and Pion), so a larger one is
// none of a peer's first flight.
const maxHeldRecordSize = 1500

// maxHeldBytes bounds the bytes of all the records held.
const maxHeldBytes = 64 << 10

// maxHeldAddrsPerSource and maxHeldBytesPerSource are one source's share of the hold:
// an eighth, 8 addresses and 8 KB. A first flight is one ClientHello, one datagram of
// 1200 bytes at most (the fragment size of browsers and Pion): six of the largest
// fit, and many more of the usual few hundred bytes.
const (
	maxHeldAddrsPerSource = maxHeldAddrs / 8
	maxHeldBytesPerSource = maxHeldBytes / 8
)

// dtlsHold is the records held for an answer, by the address they came from. It is
// liteAgents.mu's, which each of its methods needs held.
type dtlsHold struct {
	addrs   map[netip.AddrPort]*heldRecords
	bytes   int                        // of all the records held
	sources map[netip.Prefix]heldShare // what each source holds, by addrgroup.Of
}

// heldRecords is what is held for one address: until is when the last request to it
// stops awaiting an answer (the clock's UnixNano), records what came meanwhile.
// askers are the agents whose requests went there: only one of their answers can take
// the records (routeDTLS needs the agent still there, and its answer one of its own
// requests), so the address is let go when the last of them is removed (forget),
// not half a second later at a sweep that may never come (the engine sweeps only
// while there are agents). crowded: more agents asked than maxHeldAskers, and only
// time or the last agent's removal lets the address go.
type heldRecords struct {
	until   int64
	records [][]byte
	source  netip.Prefix
	askers  []*iceLite
	crowded bool
}

// maxHeldAskers bounds the agents remembered for one address: its peer's, another
// participant's whose check was forged in its name, the credentials before an ICE
// restart. Beyond, the address is crowded, as a bound on what a removal walks.
const maxHeldAskers = 4

// asked notes that l sent a request to the address.
func (r *heldRecords) asked(l *iceLite) {
	switch {
	case r.crowded || slices.Contains(r.askers, l):
	case len(r.askers) == maxHeldAskers:
		r.askers, r.crowded = nil, true
	default:
		r.askers = append(r.askers, l)
	}
}

// heldShare is what one source holds: its addresses, and the bytes of their records.
type heldShare struct{ addrs, bytes int }

// arm notes that l's request awaiting its answer went to ap at now: records from ap
// may be held until askFlight later, or until l and any other agent that asked ap are
// removed. It reports false when maxHeldAddrs addresses are held already, or
// maxHeldAddrsPerSource of ap's source (those whose time is over are let go first).
func (h *dtlsHold) arm(ap netip.AddrPort, l *iceLite, now int64) bool {
	until := now + int64(askFlight)
	if r := h.addrs[ap]; r != nil {
		r.until = max(r.until, until)
		r.asked(l)
		return true
	}
	src := addrgroup.Of(ap.Addr())
	full := func() bool { return len(h.addrs) >= maxHeldAddrs || h.sources[src].addrs >= maxHeldAddrsPerSource }
	if full() {
		h.sweep(now)
		if full() {
			return false
		}
	}
	if h.addrs == nil {
		h.addrs = make(map[netip.AddrPort]*heldRecords)
		h.sources = make(map[netip.Prefix]heldShare)
	}
	r := &heldRecords{until: until, source: src}
	r.asked(l)
	h.addrs[ap] = r
	share := h.sources[src]
	share.addrs++
	h.sources[src] = share
	return true
}

// armed reports whether records from ap may be held.
func (h *dtlsHold) armed(ap netip.AddrPort) bool { return h.addrs[ap] != nil }

// putResult is what put did with a record.
type putResult int

const (
	putNone    putResult = iota // ap is not armed, or its time is over (it is let go)
	putKept                     // a copy is held
	putRefused                  // the bounds are reached: the record is not held
)

// put keeps a copy of the record b that came from ap at now if ap is armed and the
// bounds allow, and reports what it did.
func (h *dtlsHold) put(b []byte, ap netip.AddrPort, now int64) putResult {
	r := h.addrs[ap]
	switch {
	case r == nil:
		return putNone
	case now >= r.until:
		h.drop(ap, r)
		return putNone
	case len(r.records) == maxHeldRecords || len(b) > maxHeldRecordSize || h.bytes+len(b) > maxHeldBytes,
		h.sources[r.source].bytes+len(b) > maxHeldBytesPerSource:
		return putRefused
	}
	r.records = append(r.records, bytes.Clone(b))
	h.bytes += len(b)
	share := h.sources[r.source]
	share.bytes += len(b)
	h.sources[r.source] = share
	return putKept
}

// take lets go of ap and returns the records held for it, in the order they came
// (none when its time is over at now).
func (h *dtlsHold) take(ap netip.AddrPort, now int64) [][]byte {
	r := h.addrs[ap]
	if r == nil {
		return nil
	}
	h.drop(ap, r)
	if now >= r.until {
		return nil
	}
	return r.records
}

// sweep lets go of the addresses whose time is over at now.
func (h *dtlsHold) sweep(now int64) {
	for ap, r := range h.addrs {
		if now >= r.until {
			h.drop(ap, r)
		}
	}
}

// forget lets go of the addresses whose records only l's answer could take: l is
// removed.
func (h *dtlsHold) forget(l *iceLite) {
	for ap, r := range h.addrs {
		if i := slices.Index(r.askers, l); i >= 0 {
			r.askers = slices.Delete(r.askers, i, i+1)
			if len(r.askers) == 0 && !r.crowded {
				h.drop(ap, r)
			}
		}
	}
}

// handOver makes next an asker of the addresses l asked: next's credentials replace
// l's on the same connection (an ICE restart), whose handshake the records held are
// for. Its answer from there, to the request it sends once it has the peer's new
// password (askProven) or at the peer's next check, takes them, as it did before the
// removal of an address's askers let it go: forgotten with l, a ClientHello held
// across the restart waited for the peer's retransmission, which a DTLS client whose
// path failed has put off by then (its timer doubles at each try).
func (h *dtlsHold) handOver(l, next *iceLite) {
	for _, r := range h.addrs {
		if slices.Contains(r.askers, l) {
			r.asked(next)
		}
	}
}

func (h *dtlsHold) drop(ap netip.AddrPort, r *heldRecords) {
	share := h.sources[r.source]
	for _, b := range r.records {
		h.bytes -= len(b)
		share.bytes -= len(b)
	}
	if share.addrs--; share.addrs == 0 {
		delete(h.sources, r.source)
	} else {
		h.sources[r.source] = share
	}
	delete(h.addrs, ap)
}

// expectAnswer notes that l's request awaiting its answer goes to ap at now: until an
// answer from ap makes its records an agent's, askFlight has passed or l is removed,
// they are held (dtlsHold). An address whose records are an agent's already needs
// none, and a removed l's request awaits nothing (held for it, the records would have
// stayed until a sweep, and after the last agent's removal until the next join's). One
// the hold has no room for is counted (dtlsNoRoom): its records are not held, and not
// counted refused either, since nothing remembers the address.
//
// The usual request, a consent's to the selected path (at each of the peer's checks
// and at the sweep's), goes to an address that is an agent's already: that is
// decided under the read lock, which the media socket's reader takes for each DTLS
// record and STUN message, and the write lock is taken only to arm. Asked again
// under it, as the state may have moved between the two; either answer is one the
// call would have had before or after what moved it.
func (a *liteAgents) expectAnswer(l *iceLite, ap netip.AddrPort, now int64) {
	a.mu.RLock()
	none := a.needsNoHold(l, ap)
	a.mu.RUnlock()
	if none {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.needsNoHold(l, ap) && !a.hold.arm(ap, l, now) {
		a.dtlsNoRoom.Add(1)
	}
}

// needsNoHold reports whether records from ap need no hold for l's request: l is
// removed, or they are an agent's already. a.mu is held (either way).
func (a *liteAgents) needsNoHold(l *iceLite, ap netip.AddrPort) bool {
	return a.m[l.ufrag] != l || a.byAddr[ap] != nil
}

// holdDTLS keeps a copy of the record b from from, armed (expectAnswer) and not an
// agent's when it was looked up, for the agent whose answer from there comes next;
// it returns the agent whose answer came meanwhile (the socket read by two
// goroutines), to give b to at once, or nil.
func (a *liteAgents) holdDTLS(b []byte, from netip.AddrPort) *iceLite {
	now := a.now().UnixNano()
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.byAddr[from]; l != nil {
		return l
	}
	switch a.hold.put(b, from, now) {
	case putKept:
		a.dtlsHeld.Add(1)
	case putRefused:
		a.dtlsRefused.Add(1)
	}
	return nil
}
