package sfu

import (
	"net/netip"
	"sync/atomic"
	"testing"
)

// BenchmarkLocalRelayDivert is the cost of a batch's lookup of its datagrams' addresses
// in the table of local relays (localRelays.divert), which every batch the SFU sends
// pays: 400 relays registered at one address (a meeting of 200 through TURN), a batch
// of 32 datagrams, every fourth to a relay and the others to addresses with none (the
// subscribers reached directly, at another address, and the relays' address at a port
// with no relay). BenchmarkLocalRelayDivertMap does the same with the map the table
// replaced (f8f5200), for the record.
func BenchmarkLocalRelayDivert(b *testing.B) {
	table, _, ms := divertBench()
	scratch := make([]*datagram, 0, len(ms))
	b.ReportAllocs()
	for b.Loop() {
		if rest := table.divert(ms, scratch); len(rest) != len(ms)-len(ms)/4 {
			b.Fatalf("%d datagrams left of %d, want %d", len(rest), len(ms), len(ms)-len(ms)/4)
		}
	}
}

// BenchmarkLocalRelayDivertMap is BenchmarkLocalRelayDivert's batches looked up in a
// map of the relays, one lookup a datagram, as before f8f5200.
func BenchmarkLocalRelayDivertMap(b *testing.B) {
	_, old, ms := divertBench()
	var m atomic.Pointer[map[netip.AddrPort]*localRelay]
	m.Store(&old)
	scratch := make([]*datagram, 0, len(ms))
	b.ReportAllocs()
	for b.Loop() {
		relays := m.Load()
		rest := scratch[:0]
		for _, d := range ms {
			if r := (*relays)[netip.AddrPortFrom(d.ap.Addr().Unmap(), d.ap.Port())]; r != nil {
				r.deliver(d.buf[:d.n])
				continue
			}
			rest = append(rest, d)
		}
		if len(rest) != len(ms)-len(ms)/4 {
			b.Fatalf("%d datagrams left of %d, want %d", len(rest), len(ms), len(ms)-len(ms)/4)
		}
	}
}

// divertBench is the relays of the divert benchmarks, as the table and as a map, and
// a batch for them.
func divertBench() (*localRelays, map[netip.AddrPort]*localRelay, []*datagram) {
	const relays, batch = 400, 32
	relayAddr := netip.MustParseAddr("127.0.0.1")
	other := netip.MustParseAddr("203.0.113.7")
	deliver := func([]byte) {}
	table := &localRelays{}
	old := make(map[netip.AddrPort]*localRelay, relays)
	for i := range relays {
		ap := netip.AddrPortFrom(relayAddr, uint16(40000+2*i))
		r := &localRelay{deliver: deliver}
		table.add(ap, r)
		old[ap] = r
	}
	ms := make([]*datagram, batch)
	for i := range ms {
		d := newFullDatagram()
		d.n = 100
		switch i % 4 {
		case 0: // a relay's
			d.ap = netip.AddrPortFrom(relayAddr, uint16(40000+2*(i*7%relays)))
		case 1: // the relays' address, at a port with no relay
			d.ap = netip.AddrPortFrom(relayAddr, uint16(40001+2*i))
		default: // a subscriber reached directly
			d.ap = netip.AddrPortFrom(other, uint16(50000+i))
		}
		ms[i] = d
	}
	return table, old, ms
}
