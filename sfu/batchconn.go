package sfu

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// batchConn is the media UDP socket with its writes batched. The forwarded media does
// not pass here: the SFU's writers encrypt it and send their own batches (srtpout.go,
// writerBatch below). What Pion writes through its UDP mux does (DTLS, STUN, RTCP, and
// the RTP of a connection whose keys the SFU could not learn): WriteTo copies the
// datagram into a queue and returns; one goroutine drains the queue into sendmmsg
// calls of up to maxBatch datagrams each, instead of one sendto per datagram.
//
// The batching never waits for a batch to fill: the sender takes what is queued when
// it wakes, after one yield to the goroutines that are runnable at that moment (the
// writers a fan-out has just woken, which would otherwise each wake the sender for a
// batch of one). Datagrams leave in the order they were written. Reads are batched
// too (recvmmsg, handed out one at a time in the order they came); everything else
// goes to the socket directly.
type batchConn struct {
	*net.UDPConn
	batch  batchWriter // sendmmsg on Linux (mmsg_linux.go), one write at a time elsewhere
	reader batchReader // recvmmsg on Linux, one read at a time elsewhere
	queue  chan *datagram
	pool   sync.Pool     // full-sized datagrams (newFullDatagram)
	small  sync.Pool     // small ones (newSmallDatagram), for what WriteToAddrPort copies
	done   chan struct{} // closed by Close: WriteTo refuses, the sender stops
	gone   chan struct{} // closed when the sender has stopped
	once   sync.Once
	// taker, when set (before the first read), may serve a datagram read itself; the
	// readers then never see it (the subscribers' SRTCP, rtcpin.go).
	taker datagramTaker
	// relays, when set (before the first write), take the datagrams to a local relay
	// in memory (localrelay.go); rest is the sender's room for the others.
	relays *localRelays
	rest   []*datagram

	sendCounts
}

// datagramTaker serves the datagrams it recognises and reports whether it took b;
// at is when the kernel received it (batchReader.received: 0 when not known).
type datagramTaker interface {
	take(b []byte, from netip.AddrPort, at int64) bool
	// batchDone is called once every datagram of a read batch has been handed out,
	// before the socket is read again (and the reader perhaps waits): the end of a
	// burst, for what take leaves until then.
	batchDone()
}

// sendCounts are counted for the tests and benchmarks: system calls, datagrams sent,
// datagrams the socket refused.
type sendCounts struct {
	calls, sent, failed atomic.Uint64
}

const (
	// maxBatch is the most datagrams one sendmmsg carries. Beyond a few dozen the
	// saving per datagram is small (one system call is shared by all of them); 64
	// holds a frame of four packets for sixteen subscribers, where 32 split it into
	// two calls at 1 → 10 and into thirteen at 1 → 99.
	maxBatch = 64
	// batchQueue is how many datagrams may wait for the sender. A full queue makes
	// WriteTo wait, as a full socket buffer makes sendto wait.
	batchQueue = 1024
	// maxDatagram is the largest datagram queued; a larger one is written directly
	// (Pion keeps its packets below 1200 bytes; this is headroom, not a limit).
	maxDatagram = 1500
	// smallRoom is a small datagram's room (newSmallDatagram): with the datagram's
	// 72 bytes one of the runtime's 320-byte size classes, where a full one takes
	// 1,792. It holds a sender report, a receiver's feedback, a STUN check or its
	// answer: what WriteToAddrPort is mostly given once a meeting runs.
	smallRoom = 248
)

// datagram is one queued write: buf is its room (maxDatagram bytes, or smallRoom for
// a short copy), n how much of it is used.
type datagram struct {
	buf []byte
	n   int
	ap  netip.AddrPort
	// arrival is its packet's (packet.arrival) when its forwarding delay is measured
	// (writerBatch), else 0.
	arrival int64
}

// fullDatagram and smallDatagram are a datagram with its room in one allocation.
type fullDatagram struct {
	datagram
	room [maxDatagram]byte
}

type smallDatagram struct {
	datagram
	room [smallRoom]byte
}

// newFullDatagram is an empty datagram of maxDatagram bytes.
func newFullDatagram() *datagram {
	d := new(fullDatagram)
	d.buf = d.room[:]
	return &d.datagram
}

// newSmallDatagram is an empty datagram of smallRoom bytes. Why there are two sizes:
// a publisher's sender report goes to every subscriber at once (sendQueue.write, in
// one writer's pass), each a copy queued here before the sender runs, so the pool
// holds about as many datagrams as the meeting has subscribers; full-sized, that was
// 1.8 KB of live heap a subscriber for reports of about 50 bytes (bench/README.md, "Sender
// reports in small datagrams").
func newSmallDatagram() *datagram {
	d := new(smallDatagram)
	d.buf = d.room[:]
	return &d.datagram
}

// batchReader reads datagrams, as many per system call as the system allows, and
// hands them out one at a time.
type batchReader interface {
	// readFrom copies the next datagram into p and returns its sender and when the
	// kernel received it (Unix nanoseconds of stampReceipts' clock, 0 when not known).
	readFrom(p []byte) (n int, from netip.AddrPort, at int64, err error)
	// drained reports whether every datagram read so far has been handed out, so
	// that the next readFrom reads the socket.
	drained() bool
	// stampReceipts asks the kernel to note when each datagram arrived, from the next
	// read on (an error: it cannot), and readFrom to give those times on now's clock.
	stampReceipts(now func() time.Time) error
}

// batchWriter sends datagrams in order with as few system calls as the system allows,
// and reports how many it sent; the error is that of the first one not sent.
type batchWriter interface {
	writeBatch(ds []*datagram) (int, error)
}

// newBatchConn batches the writes of c. Its sender goroutine runs until Close.
func newBatchConn(c *net.UDPConn) (*batchConn, error) {
	w, err := newBatchWriter(c)
	if err != nil {
		return nil, err
	}
	r, err := newBatchReader(c)
	if err != nil {
		return nil, err
	}
	b := &batchConn{
		UDPConn: c,
		batch:   w,
		reader:  r,
		queue:   make(chan *datagram, batchQueue),
		rest:    make([]*datagram, 0, maxBatch),
		done:    make(chan struct{}),
		gone:    make(chan struct{}),
	}
	b.pool.New = func() any { return newFullDatagram() }
	b.small.New = func() any { return newSmallDatagram() }
	go b.send()
	return b, nil
}

// WriteTo queues p for addr and returns; an error of the send itself is not reported
// to the writer (UDP promises nothing either) but counted.
func (b *batchConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || len(p) > maxDatagram {
		return b.UDPConn.WriteTo(p, addr)
	}
	return b.WriteToAddrPort(p, ua.AddrPort())
}

// WriteToAddrPort is WriteTo for Pion's allocation-free path (ice.AddrPortReaderWriter,
// which its UDP mux uses when the socket offers it).
func (b *batchConn) WriteToAddrPort(p []byte, ap netip.AddrPort) (int, error) {
	if len(p) > maxDatagram {
		return b.UDPConn.WriteToUDPAddrPort(p, ap)
	}
	select {
	case <-b.done:
		return 0, net.ErrClosed
	default:
	}
	var d *datagram
	if len(p) <= smallRoom {
		d = b.small.Get().(*datagram)
	} else {
		d = b.newDatagram()
	}
	d.n = copy(d.buf, p)
	d.ap = ap
	if err := b.queueDatagram(d); err != nil {
		return 0, err
	}
	return len(p), nil
}

// newDatagram is an empty datagram for a writer that fills it in place and queues it
// (queueDatagram): the SFU's own SRTP writer encrypts into it (srtpout.go) when its
// writer has no batch of its own.
func (b *batchConn) newDatagram() *datagram { return b.pool.Get().(*datagram) }

// queueDatagram queues d, filled by its writer, as WriteToAddrPort queues a copy.
func (b *batchConn) queueDatagram(d *datagram) error {
	select {
	case b.queue <- d:
		return nil
	case <-b.done:
		b.release(d)
		return net.ErrClosed
	}
}

// release puts d back in the pool of its size.
func (b *batchConn) release(d *datagram) {
	if len(d.buf) == smallRoom {
		b.small.Put(d)
	} else {
		b.pool.Put(d)
	}
}

// ReadFromAddrPort reads a datagram without allocating its address
// (ice.AddrPortReaderWriter).
func (b *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	for {
		if b.taker != nil && b.reader.drained() {
			b.taker.batchDone()
		}
		n, ap, at, err := b.reader.readFrom(p)
		if err != nil || b.taker == nil || !b.taker.take(p[:n], ap, at) {
			return n, ap, err
		}
	}
}

// ReadFrom reads a datagram (net.PacketConn); every read goes through the reader, so
// datagrams are read in the order they came.
func (b *batchConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, ap, err := b.ReadFromAddrPort(p)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(ap), nil
}

// send is the sender goroutine.
func (b *batchConn) send() {
	defer close(b.gone)
	held := make([]*datagram, 0, maxBatch)
	for {
		select {
		case d := <-b.queue:
			held = append(held[:0], d)
		case <-b.done:
			return
		}
		// A yield, not a wait: the writers runnable now add their datagrams first.
		runtime.Gosched()
	fill:
		for len(held) < maxBatch {
			select {
			case d := <-b.queue:
				held = append(held, d)
			default:
				break fill
			}
		}
		b.write(held)
		for i, d := range held {
			held[i] = nil
			b.release(d)
		}
	}
}

// write sends ms (sendAll), but for those a local relay takes.
func (b *batchConn) write(ms []*datagram) {
	send := b.relays.divert(ms, b.rest)
	sendAll(b.batch, send, &b.sendCounts)
	if len(send) != len(ms) {
		clear(send) // the room's references, to datagrams back in the pool
	}
}

// sendAll sends ms with w, skipping a datagram the socket refuses (an address it
// cannot reach) so that the ones behind it still go.
func sendAll(w batchWriter, ms []*datagram, c *sendCounts) {
	for len(ms) > 0 {
		n, err := w.writeBatch(ms)
		c.calls.Add(1)
		if n > 0 {
			c.sent.Add(uint64(n))
			ms = ms[n:]
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if n <= 0 {
				c.failed.Add(1)
				ms = ms[1:]
			}
		}
	}
}

// writerBatch is one writer goroutine's own batch (writerpool.go): the SFU's SRTP
// writer (srtpout.go) encrypts into its datagrams, and the writer sends them with one
// system call when the batch is full and at the end of each pass over its queues.
// Nothing is handed to another goroutine, so a fan-out wakes one goroutine, not two,
// and on a server with several cores the writers' system calls run side by side.
// Only its writer touches it.
type writerBatch struct {
	w batchWriter
	// slots are made at the first datagram: the writer of a subscriber on ICE-TCP
	// (writerpool.go) has a batch of its own and may never send one (96 KB).
	slots *[maxBatch]fullDatagram
	held  []*datagram
	sendCounts

	// arrival is the packet being written now's, when its delay is measured (the
	// writer sets it around a live packet's write: sendQueue.write), else 0; each
	// datagram queued takes it. now is the engine's clock (nil: no measurement).
	arrival int64
	now     func() time.Time
	delay   delayHistogram

	// frames are the ICE-TCP connections holding frames written in this batch
	// (srtpOut.write), each written once at the flush.
	frames []frameQueue

	// relays take the datagrams to a local relay in memory (localrelay.go); rest is
	// the flush's room for the others.
	relays *localRelays
	rest   []*datagram
}

// frameQueue is an ICE-TCP connection that holds a writer's frames for one write at
// its batch's flush (liteTCP.queueFrame).
type frameQueue interface {
	queueFrame(b []byte) error
	flushFrames() error
}

// holdFrames notes that q holds frames for this batch's flush.
func (b *writerBatch) holdFrames(q frameQueue) {
	for _, x := range b.frames {
		if x == q {
			return
		}
	}
	b.frames = append(b.frames, q)
}

func newWriterBatch(c *net.UDPConn) (*writerBatch, error) {
	w, err := newBatchWriter(c)
	if err != nil {
		return nil, err
	}
	return &writerBatch{w: w, held: make([]*datagram, 0, maxBatch), rest: make([]*datagram, 0, maxBatch)}, nil
}

// newDatagram is the next free slot; it is sent only once queued.
func (b *writerBatch) newDatagram() *datagram {
	if b.slots == nil {
		b.slots = new([maxBatch]fullDatagram)
		for i := range b.slots {
			b.slots[i].buf = b.slots[i].room[:]
		}
	}
	return &b.slots[len(b.held)].datagram
}

func (b *writerBatch) queueDatagram(d *datagram) error {
	d.arrival = b.arrival
	b.held = append(b.held, d)
	if len(b.held) == maxBatch {
		b.flush()
	}
	return nil
}

// flush sends what is held. A connection's frames that fail to go out are lost as a
// datagram the socket refuses would be (its peer's consent checks then fail too).
func (b *writerBatch) flush() {
	if len(b.held) > 0 {
		send := b.relays.divert(b.held, b.rest)
		sendAll(b.w, send, &b.sendCounts)
		if len(send) != len(b.held) {
			clear(send)
		}
		b.measure()
		clear(b.held)
		b.held = b.held[:0]
	}
	for i, q := range b.frames {
		_ = q.flushFrames()
		b.frames[i] = nil
	}
	b.frames = b.frames[:0]
}

// measure records the forwarding delay of the held datagrams that carry an arrival,
// just sent: one clock read for the batch.
func (b *writerBatch) measure() {
	if b.now == nil {
		return
	}
	var sent int64
	var delays delayBatch
	for _, d := range b.held {
		if d.arrival == 0 {
			continue
		}
		if sent == 0 {
			sent = b.now().UnixNano()
		}
		delays.observe(time.Duration(sent - d.arrival))
	}
	delays.addTo(&b.delay)
}

// Close stops the sender (what is still queued is dropped) and closes the socket.
func (b *batchConn) Close() error {
	b.once.Do(func() { close(b.done) })
	err := b.UDPConn.Close()
	<-b.gone
	return err
}
