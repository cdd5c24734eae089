package turn

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// What a client sends the SFU over UDP on a bound channel went through pion/turn's
// reader: for each datagram, its allocation found by a string of the client's address,
// its channel by a scan, a debug line's arguments built and dropped, then the relay's
// write. That reader is one goroutine for every UDP client; with everybody relayed it
// was 23 % of the server, its own work about 4 % (bench/README.md). udpUplink serves such ChannelData before pion/turn
// reads it, from the channels pion/turn reports (direct's events): the relay's write
// (to the SFU in memory or on its socket, restrictedConn.WriteTo) is all that is left.
// Everything else, and a channel it does not know, still goes to pion/turn.

// udpUplink is the UDP listener as pion/turn reads it.
type udpUplink struct {
	net.PacketConn
	r        addrPortReader
	channels *udpChannels
}

// addrPortReader reads a datagram without allocating its address (sfu.BatchUDP's
// socket does).
type addrPortReader interface {
	ReadFromAddrPort(b []byte) (int, netip.AddrPort, error)
}

// udpChannels are the channels UDP clients bound, by client address and number.
type udpChannels struct {
	mu sync.RWMutex
	m  map[udpChannelKey]uplinkChannel
	// served counts the datagrams served before pion/turn.
	served atomic.Uint64
}

type udpChannelKey struct {
	client netip.AddrPort
	number uint16
}

// uplinkChannel is where ChannelData on a channel goes: the relay of the client's
// allocation, to the peer (an SFU address) the channel is bound to.
type uplinkChannel struct {
	relay *restrictedConn
	peer  *net.UDPAddr
}

func (u *udpChannels) add(client netip.AddrPort, number uint16, ch uplinkChannel) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[udpChannelKey]uplinkChannel{}
	}
	u.m[udpChannelKey{client, number}] = ch
}

func (u *udpChannels) remove(client netip.AddrPort, number uint16) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.m, udpChannelKey{client, number})
}

func (u *udpChannels) lookup(client netip.AddrPort, number uint16) (uplinkChannel, bool) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	ch, ok := u.m[udpChannelKey{client, number}]
	return ch, ok
}

// ReadFrom returns the next datagram that is not ChannelData on a channel known here,
// having relayed those before it.
func (c udpUplink) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, ap, err := c.r.ReadFromAddrPort(b)
		if err != nil {
			return n, nil, err
		}
		if !c.serve(b[:n], unmap(ap)) {
			return n, net.UDPAddrFromAddrPort(ap), nil
		}
	}
}

// serve relays b if it is ChannelData (RFC 8656, section 12.4) from client on a
// channel it bound, and reports whether it did.
func (c udpUplink) serve(b []byte, client netip.AddrPort) bool {
	if len(b) < channelDataHeader || b[0]&0xc0 != 0x40 {
		return false
	}
	ch, ok := c.channels.lookup(client, binary.BigEndian.Uint16(b))
	if !ok {
		return false
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if channelDataHeader+n > len(b) {
		return false // pion/turn refuses it
	}
	_, _ = ch.relay.WriteTo(b[channelDataHeader:channelDataHeader+n], ch.peer)
	c.channels.served.Add(1)
	return true
}
