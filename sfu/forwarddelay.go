package sfu

import (
	"sync/atomic"
	"time"
)

// The forwarding delay is how long the server holds a packet: from the kernel's
// receipt of it (the media socket's receive time, mmsg_linux.go; where there is none,
// its layer's taking it, with the clock read layer.receive makes anyway) to the return
// of the system call that hands its copy for one subscriber to the kernel. Every live
// copy sent through a writer's batch is measured, by that writer on its own
// histogram, so the packet path shares no counter between cores and adds one clock
// read a batch. Times are Unix nanoseconds of the wall clock (the kernel's, and the
// engine's, whose receive times are used only when it is the real one): a step of
// the wall clock between arrival and send misplaces the few packets in flight then.
//
// Not measured: retransmissions and replayed keyframes (their packets arrived long
// before, by design), and copies written outside a writer's batch (ICE-TCP, which
// waits for the peer's window, or a media socket that cannot batch).
//
// It is the server's share of the latency a subscriber sees: a load generator on the
// same machine adds its own receive path, which at a hundred subscribers is longer
// than the server's (bench/README.md).

// delayBuckets is the number of finite buckets: their upper bounds are
// forwardDelayBounds.
const delayBuckets = 15

// forwardDelayBounds are the histogram's upper bounds, fine up to the few
// milliseconds a large meeting's fan-out of a keyframe takes and coarse above.
func forwardDelayBounds() [delayBuckets]time.Duration {
	const ms = time.Millisecond
	return [delayBuckets]time.Duration{
		ms / 10, ms / 4, ms / 2, 3 * ms / 4, ms, 3 * ms / 2, 2 * ms, 3 * ms, 4 * ms, 5 * ms,
		15 * ms / 2, 10 * ms, 20 * ms, 50 * ms, 100 * ms,
	}
}

// DelayHistogram is a distribution of forwarding delays (Stats.ForwardDelay).
type DelayHistogram struct {
	// Bounds are the buckets' upper bounds; Counts[i] counts the delays in (Bounds[i-1],
	// Bounds[i]], and the last count those above every bound. Counts are per bucket,
	// not cumulative.
	Bounds [delayBuckets]time.Duration
	Counts [delayBuckets + 1]uint64
	// Sum is the delays' total.
	Sum time.Duration
}

// Count is the number of delays measured.
func (h DelayHistogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// delayHistogram is one writer's forwarding delays. Only its writer observes; Stats
// reads it at any time.
type delayHistogram struct {
	counts [delayBuckets + 1]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

// delayBatch counts the delays of one batch of datagrams, which it then adds to the
// histogram with one atomic add a bucket touched instead of two a datagram.
type delayBatch struct {
	counts [delayBuckets + 1]uint32
	sum    int64
	n      int
}

func (b *delayBatch) observe(d time.Duration) {
	if d < 0 {
		d = 0 // a fake clock moved back in a test
	}
	bounds := forwardDelayBounds()
	i := 0
	for i < len(bounds) && d > bounds[i] {
		i++
	}
	b.counts[i]++
	b.sum += int64(d)
	b.n++
}

func (b *delayBatch) addTo(h *delayHistogram) {
	if b.n == 0 {
		return
	}
	for i, c := range b.counts {
		if c != 0 {
			h.counts[i].Add(uint64(c))
		}
	}
	h.sum.Add(b.sum)
}

// addTo adds h's counts to s.
func (h *delayHistogram) addTo(s *DelayHistogram) {
	s.Bounds = forwardDelayBounds()
	for i := range h.counts {
		s.Counts[i] += h.counts[i].Load()
	}
	s.Sum += time.Duration(h.sum.Load())
}
