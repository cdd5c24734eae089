package turn

import (
	"crypto/tls"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"sync"
)

// clientConn is the client's side of an allocation, where its relay writes directly.
// Its methods do not wait for the client: a message that does not fit is dropped, as a
// full socket buffer drops a datagram, and they report whether it went. (A UDP
// client's write waits while the listener's whole queue is full, its sender behind the
// kernel, as every write to that socket does.)
type clientConn interface {
	send(msg []byte) bool
	// sendChannelData frames b as ChannelData itself where it can without a copy.
	sendChannelData(number uint16, b []byte) bool
}

// writeDirect writes b from the SFU's address peer to the relay's client as pion/turn's
// loop would: on a channel bound to peer, else in a Data indication where peer's
// address is permitted. It reports false when neither exists (the loop then has it).
func (c *restrictedConn) writeDirect(b []byte, peer netip.AddrPort) bool {
	r := c.routes.cur.Load()
	if r == nil {
		return false
	}
	for _, ch := range r.channels {
		if ch.peer == peer {
			if ch.client.sendChannelData(ch.number, b) {
				c.written.Add(1)
			}
			return true
		}
	}
	for _, p := range r.permits {
		if p.ip == peer.Addr() {
			buf := c.direct.bufs.Get().(*[maxMessage]byte)
			if p.client.send(appendDataIndication(buf[:0], peer, b)) {
				c.written.Add(1)
			}
			c.direct.bufs.Put(buf)
			return true
		}
	}
	return false
}

// udpClient is a client of the UDP listener.
type udpClient struct {
	conn addrPortWriter
	to   netip.AddrPort
	bufs *sync.Pool
}

func (u udpClient) send(msg []byte) bool {
	_, err := u.conn.WriteToAddrPort(msg, u.to)
	return err == nil
}

func (u udpClient) sendChannelData(number uint16, b []byte) bool {
	buf := u.bufs.Get().(*[maxMessage]byte)
	defer u.bufs.Put(buf)
	return u.send(appendChannelData(buf[:0], number, b))
}

// streamClient is a client of the TCP listener: its connection's queue takes the
// message in place.
type streamClient struct{ q *queuedConn }

func (s streamClient) send(msg []byte) bool { return s.q.append(msg) }

func (s streamClient) sendChannelData(number uint16, b []byte) bool {
	return s.q.appendChannelData(number, b)
}

// tlsClient is a client of the TLS listener. Its connection's queue is below TLS, and
// a sealed record cannot be dropped, so the message is dropped before it is sealed
// when the queue has no room for it. Another write on the connection (pion/turn's
// answers, a few a minute, or a second SFU writer's) may fill the queue between that
// look and the write, which then goes past maxQueued: writes below TLS never wait
// (queuedConn.Write).
type tlsClient struct {
	conn *tls.Conn
	q    *queuedConn
	bufs *sync.Pool
}

// tlsOverhead bounds what a TLS record adds to its content.
const tlsOverhead = 64

func (t tlsClient) send(msg []byte) bool {
	if !t.q.hasRoom(len(msg) + tlsOverhead) {
		return false
	}
	_, err := t.conn.Write(msg)
	return err == nil
}

func (t tlsClient) sendChannelData(number uint16, b []byte) bool {
	buf := t.bufs.Get().(*[maxMessage]byte)
	defer t.bufs.Put(buf)
	return t.send(appendChannelData(buf[:0], number, b))
}

// ChannelData (RFC 8656, section 12.4): channel number, length of the data, the data,
// padded to four bytes (required on streams, harmless on UDP, and what pion/turn does).
const channelDataHeader = 4

func channelDataSize(n int) int { return (channelDataHeader + n + 3) &^ 3 }

func appendChannelData(dst []byte, number uint16, b []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, number)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(b)))
	dst = append(dst, b...)
	return appendPadding(dst, len(b))
}

func appendPadding(dst []byte, n int) []byte {
	for ; n%4 != 0; n++ {
		dst = append(dst, 0)
	}
	return dst
}

// A Data indication (RFC 8656, section 11.6): a STUN indication with the peer's
// address (XOR-PEER-ADDRESS) and the data (DATA), no integrity (indications carry
// none, as pion/turn sends them).
const (
	stunHeader          = 20
	stunMagicCookie     = 0x2112A442
	stunDataIndication  = 0x0017
	attrXORPeerAddress  = 0x0012
	attrData            = 0x0013
	xorAddressFamilyIP4 = 0x01
	xorAddressFamilyIP6 = 0x02
)

func appendDataIndication(dst []byte, peer netip.AddrPort, b []byte) []byte {
	addrLen := 8
	if !peer.Addr().Is4() {
		addrLen = 20
	}
	length := 4 + addrLen + 4 + (len(b)+3)&^3
	dst = binary.BigEndian.AppendUint16(dst, stunDataIndication)
	dst = binary.BigEndian.AppendUint16(dst, uint16(length))
	dst = binary.BigEndian.AppendUint32(dst, stunMagicCookie)
	// The transaction ID of an indication matches nothing; it need not be secret,
	// only varied.
	var id [12]byte
	binary.BigEndian.PutUint64(id[:8], rand.Uint64())
	binary.BigEndian.PutUint32(id[8:], rand.Uint32())
	dst = append(dst, id[:]...)

	dst = binary.BigEndian.AppendUint16(dst, attrXORPeerAddress)
	dst = binary.BigEndian.AppendUint16(dst, uint16(addrLen))
	family := byte(xorAddressFamilyIP4)
	if addrLen == 20 {
		family = xorAddressFamilyIP6
	}
	dst = append(dst, 0, family)
	dst = binary.BigEndian.AppendUint16(dst, peer.Port()^(stunMagicCookie>>16))
	var key [16]byte
	binary.BigEndian.PutUint32(key[:4], stunMagicCookie)
	copy(key[4:], id[:])
	ip := peer.Addr().As16()
	addr := ip[12:]
	if addrLen == 20 {
		addr = ip[:]
	}
	for i, x := range addr {
		dst = append(dst, x^key[i])
	}

	dst = binary.BigEndian.AppendUint16(dst, attrData)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(b)))
	dst = append(dst, b...)
	return appendPadding(dst, len(b))
}
