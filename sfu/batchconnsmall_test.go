package sfu

import (
	"bytes"
	"fmt"
	"net/netip"
	"runtime/metrics"
	"testing"
)

// fullSizedAllocs counts the heap objects of 1,500 to 2,048 bytes allocated so far
// (the size class of a full datagram), as the runtime counts them: a span's worth at
// a time, so a few either way.
func fullSizedAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs-by-size:bytes"}}
	metrics.Read(s)
	h := s[0].Value.Float64Histogram()
	var n uint64
	for i, c := range h.Counts {
		if h.Buckets[i] >= maxDatagram && h.Buckets[i+1] <= 2048 {
			n += c
		}
	}
	return n
}

// heldSender is a batchConn whose sender, given its first datagram for to (a local
// relay), closes held and waits until the test closes release; got receives every
// datagram for to as it was sent, with room for n.
func heldSender(t *testing.T, n int) (b *batchConn, to netip.AddrPort, held, release chan struct{}, got chan []byte) {
	t.Helper()
	b = mustBatchConn(t, listenLoopback(t))
	t.Cleanup(func() { _ = b.Close() })
	e := &Engine{}
	b.relays = &e.relays
	to = netip.MustParseAddrPort("127.0.0.1:40000")
	held, release = make(chan struct{}), make(chan struct{})
	got = make(chan []byte, n)
	first := true
	e.AddLocalRelay(to, func(p []byte) { // the sender's goroutine only
		if first {
			first = false
			close(held)
			<-release
		}
		got <- bytes.Clone(p)
	})
	return b, to, held, release, got
}

// numbered is datagram i of n bytes: i's digits, then the byte i.
func numbered(i, n int) []byte {
	p := bytes.Repeat([]byte{byte(i)}, n)
	copy(p, fmt.Sprint(i))
	return p
}

// TestShortWritesQueueSmallDatagrams: what WriteToAddrPort is given once a meeting runs
// (a publisher's sender report copied to every subscriber, receiver feedback, STUN)
// is queued in small datagrams, not in full-sized ones of 1.8 KB. A sender report goes
// to all subscribers in one writer's pass, before the socket's sender runs, so the
// sender's pool holds about a datagram a subscriber; full-sized, that was 1.8 KB of
// live heap a subscriber at 1 → 99 (bench/README.md, "Sender reports in small
// datagrams"). Here the sender is held (a local relay that does not return) while 200
// short writes wait in its queue: they must take no full-sized datagram, and each
// must arrive as written once it is let go, as must a long one behind them.
func TestShortWritesQueueSmallDatagrams(t *testing.T) {
	b, to, held, release, got := heldSender(t, 256)
	if _, err := b.WriteToAddrPort(numbered(0, 60), to); err != nil {
		t.Fatal(err)
	}
	<-held
	const short = 200
	before := fullSizedAllocs()
	for i := 1; i <= short; i++ {
		if _, err := b.WriteToAddrPort(numbered(i, 60), to); err != nil {
			t.Fatal(err)
		}
	}
	if n := fullSizedAllocs() - before; n > short/4 {
		t.Errorf("%d short writes queued took %d full-sized objects (1.8 KB each)", short, n)
	}
	if _, err := b.WriteToAddrPort(numbered(short+1, 1200), to); err != nil {
		t.Fatal(err)
	}
	close(release)
	for i := 0; i <= short+1; i++ {
		n := 60
		if i == short+1 {
			n = 1200
		}
		if p := <-got; !bytes.Equal(p, numbered(i, n)) {
			t.Fatalf("datagram %d arrived as %q…, %d bytes; want %d bytes of it", i, p[:min(len(p), 8)], len(p), n)
		}
	}
}

// TestDatagramsGoBackToThePoolOfTheirSize: a datagram the sender has sent goes back to
// the pool of its own size. A small one put in the full-sized pool would be handed to
// the next long write, which WriteToAddrPort copies into its 248 bytes: the datagram
// would leave cut short, and the SRTP writer's encryption into it would fail. 200 short
// writes wait behind a held sender, so that 200 small datagrams are made; once they
// are sent and given back, 200 long writes must each arrive whole.
func TestDatagramsGoBackToThePoolOfTheirSize(t *testing.T) {
	b, to, held, release, got := heldSender(t, 512)
	write := func(i, n int) {
		t.Helper()
		if _, err := b.WriteToAddrPort(numbered(i, n), to); err != nil {
			t.Fatal(err)
		}
	}
	arrives := func(i, n int) {
		t.Helper()
		if p := <-got; !bytes.Equal(p, numbered(i, n)) {
			t.Fatalf("datagram %d arrived as %q…, %d bytes; want %d bytes of it", i, p[:min(len(p), 8)], len(p), n)
		}
	}
	const short, long = 200, 200
	write(0, 60)
	<-held
	for i := 1; i <= short; i++ {
		write(i, 60)
	}
	close(release)
	for i := 0; i <= short; i++ {
		arrives(i, 60)
	}
	// The sender gives a batch back before it takes the next from its queue: once this
	// one has arrived, every short datagram is back in a pool.
	write(short+1, 60)
	arrives(short+1, 60)
	for i := range long {
		write(i, 1200)
		arrives(i, 1200)
	}
}
