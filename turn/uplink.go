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
// A client without a channel (Firefox binds none) sends Send indications, which cost
// pion/turn more still (the datagram copied, a STUN message decoded, 23 allocations a
// packet, 2.5 to 3 times a ChannelData's time: BenchmarkUDPUplink); udpUplink serves those
// too where the client holds a permission for the peer's IP, from the permissions
// pion/turn reports (created by CreatePermission or ChannelBind, deleted when they
// lapse or the allocation ends; a refresh keeps them). Everything else, a channel or
// permission it does not know, still goes to pion/turn.

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

// udpChannels are the channels UDP clients bound, by client address and number, and
// the permissions they hold, by client address and peer IP.
type udpChannels struct {
	mu      sync.RWMutex
	m       map[udpChannelKey]uplinkChannel
	permits map[udpPermitKey]*restrictedConn
	// permitClients are the clients of the relays in permits, by which a relay's
	// close takes its permissions out (forget).
	permitClients map[*restrictedConn]netip.AddrPort
	// counts are what the listener's reader relayed before pion/turn.
	counts uplinkCounts
}

// uplinkCounts are the packets a listener's readers relayed to the SFU before pion/turn
// read them, by what carried them (Server.UplinkServed).
type uplinkCounts struct {
	channelData atomic.Uint64 // ChannelData on a bound channel
	sends       atomic.Uint64 // Send indications under a permission (Firefox binds no channel)
}

type udpChannelKey struct {
	client netip.AddrPort
	number uint16
}

type udpPermitKey struct {
	client netip.AddrPort
	peer   netip.Addr
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

// permit records that client may send to peer through relay, unless relay is closed.
// pion/turn reports a permission it creates after it lets go of the allocation's lock,
// so an allocation ending meanwhile on another goroutine (its lifetime's timer, a
// revocation's close) may report the permission deleted before it is reported
// created; the relay's close, after, takes it out (forget), and the check here,
// under the lock forget takes, covers a report that comes later still.
func (u *udpChannels) permit(client netip.AddrPort, peer netip.Addr, relay *restrictedConn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if relay.closed.Load() {
		return
	}
	if u.permits == nil {
		u.permits = map[udpPermitKey]*restrictedConn{}
		u.permitClients = map[*restrictedConn]netip.AddrPort{}
	}
	u.permits[udpPermitKey{client, peer}] = relay
	u.permitClients[relay] = client
}

// forget takes out the permissions through relay, which is closed (shut, from Close or
// a revocation, sets closed before it calls forget). They are for the SFU's IPs only (pion/turn grants no
// other, peers.permits), so no scan of the table is needed.
func (u *udpChannels) forget(relay *restrictedConn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	client, ok := u.permitClients[relay]
	if !ok {
		return
	}
	delete(u.permitClients, relay)
	for peer := range relay.peers {
		k := udpPermitKey{client, peer.Addr()}
		if u.permits[k] == relay {
			delete(u.permits, k)
		}
	}
}

func (u *udpChannels) unpermit(client netip.AddrPort, peer netip.Addr) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.permits, udpPermitKey{client, peer})
}

// permitted is the relay through which client may send to peer, nil if none.
func (u *udpChannels) permitted(client netip.AddrPort, peer netip.Addr) *restrictedConn {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.permits[udpPermitKey{client, peer}]
}

// ReadFrom returns the next datagram that is not ChannelData on a channel known here
// nor a Send indication under a permission known here, having relayed those before
// it. A datagram that fills b may have been cut short: pion/turn drops it, and so it
// is left to pion/turn.
func (c udpUplink) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, ap, err := c.r.ReadFromAddrPort(b)
		if err != nil {
			return n, nil, err
		}
		if n == len(b) || !c.serve(b[:n], unmap(ap)) {
			return n, net.UDPAddrFromAddrPort(ap), nil
		}
	}
}

// serve relays b if it is ChannelData (RFC 8656, section 12.4) from client on a
// channel it bound, or a Send indication to a peer it holds a permission for, and
// reports whether it did.
func (c udpUplink) serve(b []byte, client netip.AddrPort) bool {
	if len(b) >= channelDataHeader && b[0]&0xc0 == 0x40 {
		return c.serveChannelData(b, client)
	}
	return c.serveSend(b, client)
}

func (c udpUplink) serveChannelData(b []byte, client netip.AddrPort) bool {
	ch, ok := c.channels.lookup(client, binary.BigEndian.Uint16(b))
	if !ok {
		return false
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if channelDataHeader+n > len(b) {
		return false // pion/turn refuses it
	}
	_, _ = ch.relay.WriteTo(b[channelDataHeader:channelDataHeader+n], ch.peer)
	c.channels.counts.channelData.Add(1)
	return true
}

// serveSend relays a Send indication as pion/turn does (handleSendIndication): the
// client's allocation, a permission for the peer's IP (which pion/turn grants only in
// the allocation's address family), the relay's write. A peer that is not an SFU
// address is refused by that write; it goes to pion/turn, which is refused the same.
func (c udpUplink) serveSend(b []byte, client netip.AddrPort) bool {
	ind, ok := parseSendIndication(b)
	if !ok {
		return false
	}
	return relaySend(c.channels.permitted(client, ind.peer.Addr()), ind, &c.channels.counts.sends)
}

// relaySend writes ind's data through relay, the one of the client's permission for
// the peer's IP (nil: none), as pion/turn does, and counts it in sends. It reports
// false, and writes nothing, without a permission or when the peer is not an SFU
// address.
func relaySend(relay *restrictedConn, ind sendIndication, sends *atomic.Uint64) bool {
	if relay == nil {
		return false
	}
	to := relay.peers.at(ind.peer)
	if to == nil {
		return false
	}
	// Counted before the write: the SFU may act on the data at once (a test reads
	// the count as soon as the SFU has it).
	sends.Add(1)
	_, _ = relay.WriteTo(ind.data, to)
	return true
}
