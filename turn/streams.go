package turn

import (
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
	"time"
)

// streams are the TCP and TLS connections the listeners accepted, by client and server
// address (as pion/turn names an allocation's five-tuple). Two things need them:
//
// Anyone who can reach the TCP and TLS listeners can open a connection and send
// nothing: pion/turn would hold it, and its place under the listeners' bounds, for
// good, and a few hundred such (400 from one address) would shut TURN over TCP and TLS
// for everybody. A client's connection is only good for an allocation, which a browser
// asks for as soon as it is connected: a connection that holds no allocation for
// allocWait, after it is accepted or after its allocation ends, is closed.
//
// A relay writes to its client's connection directly (direct.go): into its queue, or
// through TLS above it.

// allocWait is how long a TCP or TLS connection may hold no allocation. A browser
// allocates within a round trip or two of connecting (a TLS handshake, then one
// request answered with a challenge and the request again).
const allocWait = 10 * time.Second

type streams struct {
	afterFunc func(time.Duration, func()) (stop func() bool)
	mu        sync.Mutex
	m         map[streamKey]*stream
	// held are the streams whose allocations hold channels or permissions through
	// each relay, by which the relay's close takes them out (streampermits.go).
	held map[*restrictedConn]*stream
	// counts are what all its connections' readers relayed before pion/turn, kept
	// here so that a closed connection's count is not lost (Server.UplinkServed).
	counts uplinkCounts
}

// streamKey is a TCP or TLS connection's client and server addresses.
type streamKey struct{ client, server netip.AddrPort }

// stream is an accepted connection: its queue, the TLS connection above it (nil for
// TCP, and for TLS until the TLS listener has it), and its wait for an allocation.
type stream struct {
	q       *queuedConn
	overTLS bool
	tls     *tls.Conn
	// allocations is how many allocations pion/turn reported created on the
	// connection less those it reported deleted: one, but for a moment two when the
	// client allocates again as its allocation ends, or below zero when a deletion
	// is reported before its allocation's creation (allocationDeleted).
	allocations int
	stop        func() bool // the running wait's, nil while none runs
	// channels are what its allocation bound, and permits the permissions it holds,
	// for its reader (streamuplink.go).
	channels streamChannels
	permits  streamPermits
	counts   *uplinkCounts // the registry's
}

func newStreams(afterFunc func(time.Duration, func()) func() bool) *streams {
	return &streams{afterFunc: afterFunc, m: map[streamKey]*stream{}}
}

// accepted registers q and starts its wait; q's Close ends both. It returns q's
// record, nil if q is not a TCP connection.
func (s *streams) accepted(q *queuedConn, overTLS bool) *stream {
	key, ok := streamKeyOf(q.RemoteAddr(), q.LocalAddr())
	if !ok {
		return nil
	}
	st := &stream{q: q, overTLS: overTLS, counts: &s.counts}
	s.mu.Lock()
	s.m[key] = st
	s.waitLocked(st)
	s.mu.Unlock()
	q.onClose(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.m[key] == st {
			delete(s.m, key)
		}
		if st.stop != nil {
			st.stop()
		}
	})
	return st
}

// acceptedTLS notes the TLS connection t above a registered stream and returns the
// stream's record (nil if there is none).
func (s *streams) acceptedTLS(t *tls.Conn) *stream {
	key, ok := streamKeyOf(t.RemoteAddr(), t.LocalAddr())
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.m[key]
	if st != nil {
		st.tls = t
	}
	return st
}

// addChannel records the channel number of the connection src–dst's allocation for
// its reader (pion/turn's channel events), unless ch's relay is closed (checked under
// the lock forget takes, streampermits.go).
func (s *streams) addChannel(src, dst net.Addr, number uint16, ch uplinkChannel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.holdLocked(src, dst, ch.relay); st != nil {
		st.channels.set(number, &ch)
	}
}

// removeChannel takes out the channel number of the connection src–dst's allocation
// if it goes through relay: an allocation that ended may report its channels deleted
// after a new one on the same connection bound the same numbers (streampermits.go).
func (s *streams) removeChannel(src, dst net.Addr, number uint16, relay *restrictedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.lookupLocked(src, dst); st != nil {
		if ch, ok := st.channels.channel(number); ok && ch.relay == relay {
			st.channels.set(number, nil)
		}
	}
}

func (s *streams) waitLocked(st *stream) {
	st.stop = s.afterFunc(allocWait, func() {
		s.mu.Lock()
		idle := st.allocations <= 0
		s.mu.Unlock()
		if idle {
			_ = st.q.Close()
		}
	})
}

// allocationCreated and allocationDeleted follow pion/turn's events (src and dst are
// the allocation's five-tuple); allocations over UDP are no concern here. They count,
// and the connection waits to be closed while the count is not above zero, whatever
// order the events come in: pion/turn reports each allocation's creation once, after
// it put the allocation in its table, and its deletion once, after it took it out,
// both after it let go of its allocations' lock, on whichever goroutine created or
// deleted it; and a deletion names no relay to tell two allocations of the
// connection apart.
//
// So an allocation that ends on pion/turn's timer as its client allocates again may
// be reported deleted after the new one is reported created (the count is two, then
// one), and the new one may be reported deleted before it is reported created: an
// allocation's reader deletes whatever pion/turn holds at its five-tuple when its
// relay closes (Allocation.packetConnHandler), which may be the new allocation,
// inserted and not yet reported. A count that stopped at zero would then stay at one
// for good, and the connection, which holds nothing, would never be closed (a client
// with credentials could pin connections so, even after their revocation). Counted
// below zero, it comes back to zero, and the wait armed at the old allocation's end
// runs on.
//
// The count is the record's, not the five-tuple's: all the events of an allocation
// on the connection come while it is registered (pion/turn reports a connection's
// last deletion before it closes it). A deletion of an earlier connection with the
// same addresses (a client that reset it and connected again from the same port at
// once) may still be counted on the new one: that only closes the client's own
// connection early, it never keeps one open.
func (s *streams) allocationCreated(src, dst net.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.lookupLocked(src, dst); st != nil {
		if st.allocations++; st.allocations > 0 && st.stop != nil {
			st.stop()
			st.stop = nil
		}
	}
}

func (s *streams) allocationDeleted(src, dst net.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.lookupLocked(src, dst); st != nil {
		if st.allocations--; st.allocations <= 0 && st.stop == nil {
			s.waitLocked(st)
		}
	}
}

// client is where a relay writes to the client of the connection src–dst directly,
// nil if there is none (or a TLS connection not known above its queue yet).
func (s *streams) client(src, dst net.Addr, bufs *sync.Pool) clientConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.lookupLocked(src, dst)
	switch {
	case st == nil:
		return nil
	case st.tls != nil:
		return tlsClient{conn: st.tls, q: st.q, bufs: bufs}
	case st.overTLS:
		return nil // never the bytes below TLS
	}
	return streamClient{q: st.q}
}

func (s *streams) lookupLocked(src, dst net.Addr) *stream {
	key, ok := streamKeyOf(src, dst)
	if !ok {
		return nil
	}
	return s.m[key]
}

func streamKeyOf(client, server net.Addr) (streamKey, bool) {
	c, ok1 := client.(*net.TCPAddr)
	s, ok2 := server.(*net.TCPAddr)
	if !ok1 || !ok2 {
		return streamKey{}, false
	}
	return streamKey{unmap(c.AddrPort()), unmap(s.AddrPort())}, true
}
