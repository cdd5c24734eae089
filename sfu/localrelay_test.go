package sfu

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"

	"conclave/internal/conntest"
)

// relayCatcher records the datagrams a local relay is handed.
type relayCatcher struct{ got [][]byte }

func (c *relayCatcher) deliver(b []byte) { c.got = append(c.got, append([]byte(nil), b...)) }

// relayRig is a writer's batch on a loopback socket (sender) that consults the local
// relays of e, an engine of nothing else.
func relayRig(t *testing.T) (*writerBatch, *Engine, *net.UDPConn) {
	t.Helper()
	sender := listenLoopback(t)
	b, err := newWriterBatch(sender)
	if err != nil {
		t.Skip("no batching socket here:", err)
	}
	e := &Engine{}
	b.relays = &e.relays
	return b, e, sender
}

// queueTo queues payload for ap on b, as the SFU's SRTP writer does.
func queueTo(t *testing.T, b *writerBatch, ap netip.AddrPort, payload string) {
	t.Helper()
	d := b.newDatagram()
	d.n = copy(d.buf[:], payload)
	d.ap = ap
	if err := b.queueDatagram(d); err != nil {
		t.Fatal(err)
	}
}

// TestLocalRelayTakesItsDatagrams checks that a writer's batch hands the datagrams to
// a local relay's address over in memory, in order, sends the others to their sockets,
// in order, and sends to the relay's socket again once the relay is removed (and had
// sent nothing there before: the first datagram the socket holds is the one after).
func TestLocalRelayTakesItsDatagrams(t *testing.T) {
	b, e, sender := relayRig(t)
	relaySock, other := listenLoopback(t), listenLoopback(t)
	relayAP := relaySock.LocalAddr().(*net.UDPAddr).AddrPort()
	otherAP := other.LocalAddr().(*net.UDPAddr).AddrPort()

	var caught relayCatcher
	// Registered in the form an IPv6 socket reports an IPv4 peer in: it still matches.
	remove := e.AddLocalRelay(netip.AddrPortFrom(netip.AddrFrom16(relayAP.Addr().As16()), relayAP.Port()), caught.deliver)
	for _, s := range []string{"r1", "o1", "r2", "o2", "r3"} {
		to := otherAP
		if s[0] == 'r' {
			to = relayAP
		}
		queueTo(t, b, to, s)
	}
	b.flush()
	if want := []string{"r1", "r2", "r3"}; !slices.Equal(asStrings(caught.got), want) {
		t.Fatalf("the relay was handed %q, want %q", caught.got, want)
	}
	if got := asStrings(readDatagrams(t, other, sender.LocalAddr(), 2)); !slices.Equal(got, []string{"o1", "o2"}) {
		t.Fatalf("the other socket got %q", got)
	}
	if got, sent := e.Stats().DatagramsToRelays, b.sent.Load(); got != 3 || sent != 2 {
		t.Fatalf("%d datagrams handed over, %d sent; want 3 and 2", got, sent)
	}

	remove()
	remove() // twice is harmless
	queueTo(t, b, relayAP, "after")
	b.flush()
	if got := asStrings(readDatagrams(t, relaySock, sender.LocalAddr(), 1)); got[0] != "after" {
		t.Fatalf("the relay's socket got %q first, want only what was sent after the relay left", got)
	}
	if len(caught.got) != 3 || e.relays.addrs.Load() != nil {
		t.Fatalf("the relay was handed %d datagrams after it left; %d registered", len(caught.got)-3, e.relays.registered())
	}
}

// TestLocalRelayDivertDoesNotAllocate checks that a batch with datagrams for a local
// relay allocates nothing to hand them over and send the rest.
func TestLocalRelayDivertDoesNotAllocate(t *testing.T) {
	b, e, _ := relayRig(t)
	relayAP := listenLoopback(t).LocalAddr().(*net.UDPAddr).AddrPort()
	otherAP := listenLoopback(t).LocalAddr().(*net.UDPAddr).AddrPort()
	buf := make([]byte, maxDatagram)
	e.AddLocalRelay(relayAP, func(p []byte) { copy(buf, p) })
	allocs := testing.AllocsPerRun(100, func() {
		queueTo(t, b, otherAP, "o")
		queueTo(t, b, relayAP, "r")
		queueTo(t, b, otherAP, "o")
		b.flush()
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations a batch", allocs)
	}
}

func asStrings(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// TestLocalRelayRemoveIsItsOwn checks that removing a registration leaves a later one
// for the same address in place (a relay socket closed and its port taken again).
func TestLocalRelayRemoveIsItsOwn(t *testing.T) {
	b, e, _ := relayRig(t)
	ap := listenLoopback(t).LocalAddr().(*net.UDPAddr).AddrPort()
	var first, second relayCatcher
	removeFirst := e.AddLocalRelay(ap, first.deliver)
	e.AddLocalRelay(ap, second.deliver)
	removeFirst()
	queueTo(t, b, ap, "to the second")
	b.flush()
	if len(first.got) != 0 || len(second.got) != 1 {
		t.Fatalf("first handed %d, second %d; want 0 and 1", len(first.got), len(second.got))
	}
}

// TestRelayUplinkIsServedInMemory: what a relay on this machine would send the SFU from
// a publisher's address, handed over by RelayUplink's take, is read as if it had come
// to the media socket (the SRTP decrypted, forwarded to the subscriber, counted); a
// replayed or changed packet handed over is taken and dropped; anything else (the
// publisher's own RTCP, checks) is left to the socket.
func TestRelayUplinkIsServedInMemory(t *testing.T) {
	api, rec := recordingPublisherAPI(t)
	r := newMediaRigAPIs(t, api, testPeerAPI(t))
	waitPublisherRead(t, r)
	take := r.eng.RelayUplink(rec.LocalAddr().(*net.UDPAddr).AddrPort())
	var taken, left atomic.Int64
	rec.mu.Lock()
	rec.divert = func(b []byte) bool {
		if take(b) {
			taken.Add(1)
			return true
		}
		left.Add(1)
		return false
	}
	rec.mu.Unlock()
	before := r.eng.Stats()

	seq := r.pub.send()
	conntest.Eventually(t, "the packet handed over at the subscriber", func() bool { return r.sub.has(seq) })
	after := r.eng.Stats()
	if taken.Load() == 0 || after.DatagramsFromRelays == before.DatagramsFromRelays {
		t.Fatalf("nothing handed over (%d taken, %d from relays)", taken.Load(), after.DatagramsFromRelays)
	}
	if after.PublisherRTPRead <= before.PublisherRTPRead {
		t.Fatal("the packet handed over was not read as the publisher's SRTP")
	}

	genuine, _ := rec.last()
	changed := bytes.Clone(genuine)
	changed[len(changed)-3] ^= 0x40
	for i, bad := range [][]byte{bytes.Clone(genuine), changed} {
		if !take(bad) {
			t.Fatalf("forgery %d left to the socket, want it taken and dropped", i)
		}
	}
	if got := r.eng.Stats().PublisherRTPRefused - after.PublisherRTPRefused; got != 2 {
		t.Fatalf("%d forgeries refused, want 2", got)
	}
	if take([]byte("\x00\x01 a check")) || take([]byte("\x16\xfe\xfd a DTLS record")) {
		t.Fatal("a check or DTLS record was taken in memory")
	}
	next := r.pub.send()
	conntest.Eventually(t, "the packet after the forgeries at the subscriber", func() bool { return r.sub.has(next) })
	r.sub.mu.Lock()
	got := r.sub.got[seq]
	r.sub.mu.Unlock()
	if got != 1 {
		t.Fatalf("the subscriber got packet %d %d times, want once", seq, got)
	}
}

// TestLocalRelayRemovalsCopyLittle: a meeting that ends closes all its members' relays
// at once, each a removal; each replaced the table with a copy of every relay of the
// machine, n²/2 entries for n (before 90f98b7). A removal now empties its slot and
// copies nothing (f8f5200; the bound of fewer than n entries is 90f98b7's, whose
// removals rebuilt the table now and then), and after each one the batches hand
// nothing more to the relays removed and everything still to the others, one
// registered again at a removed one's address (its port taken again) among them.
func TestLocalRelayRemovalsCopyLittle(t *testing.T) {
	const n = 300
	e := &Engine{}
	ms := make([]*datagram, n)
	got := make([]int, n) // datagrams handed to each relay
	removes := make([]func(), n)
	for i := range n {
		ms[i] = datagramTo(1, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(10000+i)))
		removes[i] = e.AddLocalRelay(ms[i].ap, func([]byte) { got[i]++ })
	}
	scratch := make([]*datagram, 0, n)
	// check sends one datagram to each address and expects it handed to the relays
	// registered there (live), and sent on the socket for the others.
	check := func(step string, live func(i int) bool) {
		t.Helper()
		clear(got)
		rest := e.relays.divert(ms, scratch)
		wantRest := 0
		for i := range n {
			want := 1
			if !live(i) {
				want, wantRest = 0, wantRest+1
			}
			if got[i] != want {
				t.Fatalf("%s: relay %d was handed %d datagrams, want %d", step, i, got[i], want)
			}
		}
		if len(rest) != wantRest {
			t.Fatalf("%s: %d datagrams left to the socket, want %d", step, len(rest), wantRest)
		}
	}
	check("all registered", func(int) bool { return true })
	before := e.relays.copied
	// The first half goes; the address of the first is registered again (not
	// counted among the removals' copies: TestLocalRelayAddsCopyLittle counts those).
	for i := range n / 2 {
		removes[i]()
		check(fmt.Sprintf("%d removed", i+1), func(j int) bool { return j > i })
	}
	removes[0]() // twice is harmless
	copied := e.relays.copied - before
	again := e.AddLocalRelay(ms[0].ap, func([]byte) { got[0]++ })
	before = e.relays.copied
	for i := n / 2; i < n; i++ {
		removes[i]()
		check(fmt.Sprintf("%d removed", i+1), func(j int) bool { return j == 0 || j > i })
	}
	copied += e.relays.copied - before
	if copied >= n {
		t.Fatalf("removing %d relays copied %d entries of the table, want fewer than %d", n, copied, n)
	}
	again()
	if n := e.relays.registered(); n != 0 || e.relays.addrs.Load() != nil {
		t.Fatalf("every relay removed, the table still holds %d", n)
	}
}

// registered is how many relays are registered (tests): the slots filled.
func (r *localRelays) registered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	if list := r.addrs.Load(); list != nil {
		for _, ports := range *list {
			for i := range ports.pages {
				if page := ports.pages[i].Load(); page != nil {
					for j := range page {
						if page[j].Load() != nil {
							n++
						}
					}
				}
			}
		}
	}
	return n
}

// TestLocalRelayAddsCopyLittle: a meeting's members join one by one, each registering
// its relays, and each registration replaced the table with a copy of every relay of
// the machine: n²/2 entries for n (80,000 for the 400 relays of a meeting of 200). The
// n registrations now copy nothing but the list of addresses, once for each address
// (two here); the batches hand each relay its datagrams after each registration, at
// both addresses, ports of one page and of others, and none to an unregistered port
// of a page in use or to an address with no relay.
func TestLocalRelayAddsCopyLittle(t *testing.T) {
	const n = 300
	e := &Engine{}
	addrs := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}
	ms := make([]*datagram, n)
	got := make([]int, n)
	for i := range n {
		// Every other port, over three pages; a fifth at the other address.
		addr := addrs[0]
		if i%5 == 0 {
			addr = addrs[1]
		}
		ms[i] = datagramTo(1, netip.AddrPortFrom(addr, uint16(40000+2*i)))
	}
	strangers := []*datagram{
		datagramTo(1, netip.AddrPortFrom(addrs[0], 40001)),                         // a page in use
		datagramTo(1, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), 40000)), // no relay there
	}
	scratch := make([]*datagram, 0, n+len(strangers))
	for i := range n {
		e.AddLocalRelay(ms[i].ap, func([]byte) { got[i]++ })
		clear(got)
		rest := e.relays.divert(append(slices.Clone(ms), strangers...), scratch)
		for j := range n {
			if want := boolInt(j <= i); got[j] != want {
				t.Fatalf("%d registered: relay %d was handed %d datagrams, want %d", i+1, j, got[j], want)
			}
		}
		if want := n - 1 - i + len(strangers); len(rest) != want {
			t.Fatalf("%d registered: %d datagrams left to the socket, want %d", i+1, len(rest), want)
		}
	}
	if got := e.relays.registered(); got != n || e.relays.live != n {
		t.Fatalf("%d registered, %d counted, want %d", got, e.relays.live, n)
	}
	if e.relays.copied > len(addrs) {
		t.Fatalf("registering %d relays copied %d entries of the table, want at most %d", n, e.relays.copied, len(addrs))
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// datagramTo is a full-sized datagram of n bytes to ap, as a writer queues it.
func datagramTo(n int, ap netip.AddrPort) *datagram {
	d := newFullDatagram()
	d.n, d.ap = n, ap
	return d
}
