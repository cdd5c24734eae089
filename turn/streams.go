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
// A relay writes to its client's connection directly (directwrite.go): into its queue,
// or through TLS above it.

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
	// connection whose relays are not shut yet: one, but for a moment two when the
	// client allocates again as its allocation ends (allocationCreated).
	allocations int
	stop        func() bool // the running wait's, nil while none runs
	gone        bool        // the connection is closed
	// wait numbers the waits: a wait's function closes the connection only if it is
	// still the running one (waitLocked).
	wait uint64
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
		st.gone = true
		if st.stop != nil {
			st.stop()
			st.stop = nil
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

// waitLocked starts st's wait for an allocation: at its end the connection is closed,
// unless an allocation was reported created meanwhile.
//
// A wait's function may be running, or about to take the lock, when an allocation's
// creation stops it (stop reports false then): it decides only if its wait is still the
// one that runs. Checking the allocations alone, such a late function closed a
// connection whose allocation had come and gone meanwhile at once, the next wait just
// begun: the client lost its connection allocWait before its time, as it allocated
// again on it.
func (s *streams) waitLocked(st *stream) {
	st.wait++
	wait := st.wait
	st.stop = s.afterFunc(allocWait, func() {
		s.mu.Lock()
		idle := st.wait == wait && st.stop != nil && st.allocations <= 0
		if idle {
			st.stop = nil
		}
		s.mu.Unlock()
		if idle {
			_ = st.q.Close()
		}
	})
}

// allocationCreated counts the allocation whose relay is relay on the connection
// src–dst (pion/turn's report of its creation), until relay is shut: then the
// allocation is over (pion/turn closes the relay of each allocation it deletes, and a
// revocation shuts it first), and the connection waits to be closed while it counts
// none. A relay shut before its creation is reported (nil here: no longer held) is not
// counted.
//
// The count follows the relays, not pion/turn's reports of deletions, which name no
// relay and no connection, only the five-tuple: a client that reset its connection and
// connected again from the same port at once has its new connection registered under
// the same addresses while pion/turn may still report the old one's deletion (its
// reader deletes the allocation as it sees the connection end, then closes it). Counted
// on the new connection, that deletion closed the client's new connection after
// allocWait while it held its allocation. And an allocation that ends on pion/turn's
// timer as its client allocates again is reported deleted after or before the new one
// is reported created, and the new one may be reported deleted before it is reported
// created (an allocation's reader deletes whatever pion/turn holds at its five-tuple when
// its relay closes, Allocation.packetConnHandler): its relay, closed, is not counted.
//
// A creation is matched to the connection registered at src–dst when it is reported:
// pion/turn reports it on the reader of the connection that asked for it, before it
// closes that connection.
func (s *streams) allocationCreated(src, dst net.Addr, relay *restrictedConn) {
	if relay == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.lookupLocked(src, dst)
	if st == nil || !relay.whenShut(func() { s.allocationEnded(st) }) {
		return
	}
	st.allocations++
	if st.stop != nil {
		st.stop()
		st.stop = nil
	}
}

// allocationEnded counts an allocation of st's less, its relay shut.
func (s *streams) allocationEnded(st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.allocations--; st.allocations == 0 && st.stop == nil && !st.gone {
		s.waitLocked(st)
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

// fiveTuple is an allocation's five-tuple (RFC 8656, section 2): its client's and
// server's addresses and its transport, UDP or a stream (TCP or TLS, on listeners of
// their own addresses). A client may allocate over UDP and over TCP from the same
// address and port to the same server address and port (UDP and TCP listeners on one
// address and port, 3478 both): the addresses alone do not tell those apart.
type fiveTuple struct {
	streamKey
	udp bool
}

// fiveTupleOf is the five-tuple of an allocation whose client and server addresses
// are client and server, over UDP, TCP or TLS.
func fiveTupleOf(client, server net.Addr) (fiveTuple, bool) {
	if c, ok := client.(*net.UDPAddr); ok {
		if s, ok := server.(*net.UDPAddr); ok {
			return fiveTuple{streamKey{unmap(c.AddrPort()), unmap(s.AddrPort())}, true}, true
		}
		return fiveTuple{}, false
	}
	key, ok := streamKeyOf(client, server)
	return fiveTuple{streamKey: key}, ok
}

func streamKeyOf(client, server net.Addr) (streamKey, bool) {
	c, ok1 := client.(*net.TCPAddr)
	s, ok2 := server.(*net.TCPAddr)
	if !ok1 || !ok2 {
		return streamKey{}, false
	}
	return streamKey{unmap(c.AddrPort()), unmap(s.AddrPort())}, true
}
