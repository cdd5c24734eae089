package turn

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
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
// lapse or the allocation ends; a refresh keeps them), each under the relay it was
// made for (udpChannels). Everything else, a channel or
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
//
// Each entry names the relay it goes through, and only that relay's events change it:
// a client whose allocation ends on pion/turn's timer may allocate again on the same
// address and port (its 5-tuple) while the old allocation's deletion is still being
// reported (pion/turn takes the allocation out of its table before it reports its
// permissions and channels deleted, and a permission's own timer may report it later
// still), and the new allocation binds the same channel numbers (a client numbers
// each allocation's from 0x4000) and permits the same SFU IPs. A deletion that took
// out whatever the client held under that key would take the new allocation's, and
// its media would fall to pion/turn's reader. A relay's close takes out all it holds
// (forget), and nothing is recorded for a relay already closed: pion/turn may report
// a channel or a permission of an allocation it is closing after its close listed
// them (which then never reports them deleted but on their own timers, ten and five
// minutes later) or after the relay is closed.
type udpChannels struct {
	mu      sync.RWMutex
	m       map[udpChannelKey]uplinkChannel
	permits map[udpPermitKey]*restrictedConn
	// held are what each relay holds in m and permits, by which its close takes
	// them out (forget).
	held map[*restrictedConn]*relayHeld
	// counts are what the listener's reader relayed before pion/turn.
	counts uplinkCounts
}

// relayHeld is what a relay holds in the UDP clients' tables: its client's address (an
// allocation has one client) and the numbers of its channels (one an SFU address at
// most: only a channel to one is recorded, and pion/turn binds a peer to one number).
type relayHeld struct {
	client   netip.AddrPort
	channels []uint16
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

// heldLocked is what relay holds, made for client if it holds nothing yet, nil if
// relay is closed (forget, which its close calls, has run or will find it).
func (u *udpChannels) heldLocked(client netip.AddrPort, relay *restrictedConn) *relayHeld {
	if relay.closed.Load() {
		return nil
	}
	h := u.held[relay]
	if h == nil {
		if u.held == nil {
			u.held = map[*restrictedConn]*relayHeld{}
		}
		h = &relayHeld{client: client}
		u.held[relay] = h
	}
	return h
}

// add records the channel number of client through ch's relay, unless the relay is
// closed.
func (u *udpChannels) add(client netip.AddrPort, number uint16, ch uplinkChannel) {
	u.mu.Lock()
	defer u.mu.Unlock()
	h := u.heldLocked(client, ch.relay)
	if h == nil {
		return
	}
	if u.m == nil {
		u.m = map[udpChannelKey]uplinkChannel{}
	}
	k := udpChannelKey{client, number}
	if old, ok := u.m[k]; ok && old.relay != ch.relay {
		u.dropChannelLocked(old.relay, number)
	}
	u.m[k] = ch
	if !slices.Contains(h.channels, number) {
		h.channels = append(h.channels, number)
	}
}

// remove takes out the channel number of client if it goes through relay.
func (u *udpChannels) remove(client netip.AddrPort, number uint16, relay *restrictedConn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	k := udpChannelKey{client, number}
	if ch, ok := u.m[k]; ok && ch.relay == relay {
		delete(u.m, k)
		u.dropChannelLocked(relay, number)
	}
}

// dropChannelLocked takes number out of what relay holds.
func (u *udpChannels) dropChannelLocked(relay *restrictedConn, number uint16) {
	if h := u.held[relay]; h != nil {
		h.channels = slices.DeleteFunc(h.channels, func(n uint16) bool { return n == number })
	}
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
	if u.heldLocked(client, relay) == nil {
		return
	}
	if u.permits == nil {
		u.permits = map[udpPermitKey]*restrictedConn{}
	}
	u.permits[udpPermitKey{client, peer}] = relay
}

// forget takes out the channels and permissions through relay, which is closed (shut,
// from Close or a revocation, sets closed before it calls forget). Its permissions
// are for the SFU's IPs only (pion/turn grants no other, peers.permits), and its
// channels are listed, so no scan of the tables is needed.
func (u *udpChannels) forget(relay *restrictedConn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	h, ok := u.held[relay]
	if !ok {
		return
	}
	delete(u.held, relay)
	for peer := range relay.peers {
		k := udpPermitKey{h.client, peer.Addr()}
		if u.permits[k] == relay {
			delete(u.permits, k)
		}
	}
	for _, number := range h.channels {
		k := udpChannelKey{h.client, number}
		if u.m[k].relay == relay {
			delete(u.m, k)
		}
	}
}

// unpermit takes out client's permission for peer if it goes through relay.
func (u *udpChannels) unpermit(client netip.AddrPort, peer netip.Addr, relay *restrictedConn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	k := udpPermitKey{client, peer}
	if u.permits[k] == relay {
		delete(u.permits, k)
	}
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
