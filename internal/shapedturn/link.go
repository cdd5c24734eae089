package shapedturn

import (
	"errors"
	"math"
	"net"
	"sync"
	"time"
)

// Clock is the time the shaper runs on: the real one in browser tests, a fake
// (internal/fakeclock) in its own tests. Same methods as signaling.Clock.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Shape is a bottleneck link: a token bucket (Rate bits/s, Burst bytes) in front of a
// drop-tail queue of QueueBytes, like Linux's tbf. A packet that does not fit into the
// queue is dropped on arrival, so a sender faster than Rate sees loss and a bounded
// delay, as on a real slow line (not the unbounded buffer of DevTools throttling).
type Shape struct {
	Rate       int // bits per second
	Burst      int // bytes the bucket holds (more than one packet, or nothing passes)
	QueueBytes int
}

// Validate says why a shape cannot work.
func (s Shape) Validate() error {
	switch {
	case s.Rate <= 0:
		return errors.New("shapedturn: rate must be positive")
	case s.Burst < maxPacket:
		return errors.New("shapedturn: burst smaller than a packet lets no media through")
	case s.QueueBytes < maxPacket:
		return errors.New("shapedturn: queue smaller than a packet")
	}
	return nil
}

// maxPacket is the largest datagram read from the relay socket (pion/turn's relay MTU).
const maxPacket = 1600

// Counts are what one shaped socket did so far, in bytes and packets.
type Counts struct {
	PassedBytes, PassedPackets   int64
	DroppedBytes, DroppedPackets int64
	QueuedBytes                  int
}

type packet struct {
	b    []byte
	addr net.Addr
	due  time.Time // when the bucket lets it out
	seq  uint64    // its place in the order of arrival (a ReadFrom waits for one)
}

// shapedConn is a relay socket whose ReadFrom (what the peer, the SFU, sends towards
// the client) goes through the shape: a pump reads the socket as fast as packets come
// and gives each the time the bucket lets it out, or drops it when the packets still
// waiting at its arrival fill the queue; ReadFrom hands each out at its time. WriteTo
// (client to peer) is untouched. Departures are computed on arrival from the clock
// alone, so how quickly the reader picks packets up changes nothing.
type shapedConn struct {
	net.PacketConn
	shape Shape
	clock Clock
	wake  chan struct{} // a packet was queued, the socket failed, or one is due

	mu      sync.Mutex
	queue   []packet // not yet read, in order of due time
	arrived uint64   // packets queued so far (packet.seq)
	last    time.Time
	tokens  float64 // bytes in the bucket at last, after the departure scheduled there
	err     error   // the socket's read error, returned once the queue is empty
	closed  bool
	counts  Counts
}

func newShapedConn(c net.PacketConn, shape Shape, clock Clock) *shapedConn {
	s := &shapedConn{PacketConn: c, shape: shape, clock: clock, wake: make(chan struct{}, 1),
		tokens: float64(shape.Burst), last: clock.Now()}
	go s.pump()
	return s
}

func (s *shapedConn) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *shapedConn) pump() {
	for {
		buf := make([]byte, maxPacket)
		n, addr, err := s.PacketConn.ReadFrom(buf)
		s.mu.Lock()
		if err != nil {
			s.err = err
			s.mu.Unlock()
			s.signal()
			return
		}
		if due, ok := s.schedule(s.clock.Now(), n); ok {
			s.arrived++
			s.queue = append(s.queue, packet{b: buf[:n], addr: addr, due: due, seq: s.arrived})
			s.counts.QueuedBytes += n
		} else {
			s.counts.DroppedBytes += int64(n)
			s.counts.DroppedPackets++
		}
		s.mu.Unlock()
		s.signal()
	}
}

// schedule gives a packet of n bytes arriving at now its departure time, or false when
// the bytes still waiting then (due after now) leave no room for it. Called with mu held.
func (s *shapedConn) schedule(now time.Time, n int) (time.Time, bool) {
	waiting := 0
	for _, p := range s.queue {
		if p.due.After(now) {
			waiting += len(p.b)
		}
	}
	if waiting+n > s.shape.QueueBytes {
		return time.Time{}, false
	}
	// The bucket from the last departure on: it fills at Rate up to Burst; the packet
	// leaves once it holds n bytes, and not before it came.
	start := s.last
	if now.After(start) {
		start = now
	}
	tokens := s.tokens + start.Sub(s.last).Seconds()*float64(s.shape.Rate)/8
	if tokens > float64(s.shape.Burst) {
		tokens = float64(s.shape.Burst)
	}
	due := start
	if lack := float64(n) - tokens; lack > 0 {
		due = start.Add(time.Duration(math.Ceil(lack * 8 / float64(s.shape.Rate) * float64(time.Second))))
		tokens = float64(n)
	}
	s.last, s.tokens = due, tokens-float64(n)
	return due, true
}

func (s *shapedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return 0, nil, net.ErrClosed
		}
		if len(s.queue) > 0 {
			p := s.queue[0]
			wait := p.due.Sub(s.clock.Now())
			if wait <= 0 {
				s.queue[0] = packet{}
				s.queue = s.queue[1:]
				s.counts.QueuedBytes -= len(p.b)
				s.counts.PassedBytes += int64(len(p.b))
				s.counts.PassedPackets++
				s.mu.Unlock()
				return copy(b, p.b), p.addr, nil
			}
			s.mu.Unlock()
			// One timer for the head's due time, armed once: a wake that finds the head
			// not yet due (a packet queued behind it, or a wake left over from before)
			// waits on the same timer. Stopped and armed anew at each wake, the timer
			// could be armed with a wait read before an injected clock moved, and so
			// fire that much after the due time or never.
			stop := s.clock.AfterFunc(wait, s.signal)
			for !s.headReady(p) {
				<-s.wake
			}
			stop()
			continue
		}
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return 0, nil, err
		}
		s.mu.Unlock()
		<-s.wake
	}
}

// headReady reports whether a ReadFrom that waits for head has something to do: head is
// due, no longer first (another reader took it), or the socket closed. A read error
// waits for the queue to empty, as in ReadFrom.
func (s *shapedConn) headReady(head packet) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.queue) == 0 {
		return true
	}
	first := s.queue[0]
	return first.seq != head.seq || !first.due.After(s.clock.Now())
}

// Close closes the socket; a waiting ReadFrom returns at once.
func (s *shapedConn) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.signal()
	return s.PacketConn.Close()
}

func (s *shapedConn) stats() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}
