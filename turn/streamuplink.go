package turn

import (
	"encoding/binary"
	"math"
	"net"
	"slices"
	"sync/atomic"
)

// What a client sends the SFU over a TCP or TLS connection went through pion/turn's
// stream reader: each read of the connection copied into a new slice and appended to
// another (two allocations a read, a read a packet), then the allocation was found by a
// string of the client's address and the channel by a scan before the relay's write.
// With everybody relayed over TCP that reader was 18 % of the server and its garbage a
// good part of the collector's 10 % (bench/README.md). streamUplink is the connection
// as pion/turn reads it: it frames the stream itself (a STUN message as pion/turn's
// STUNConn does, by its header's length), relays ChannelData on a channel of this
// connection's allocation (pion/turn's channel events, directevents.go) and Send
// indications to the SFU's address under a permission of that allocation (its
// permission events, streampermits.go: Firefox binds no channel, and each Send
// indication cost pion/turn 23 allocations, BenchmarkStreamUplink), and hands pion/turn
// everything else, a frame at a time, as it came. A read takes whatever the socket
// holds (a burst of a frame's packets at once) into a buffer of the connection's own.

// streamUplink is a client's TCP connection (its queuedConn) or TLS connection as
// pion/turn reads it.
type streamUplink struct {
	net.Conn
	st  *stream
	buf []byte // the bytes read and not yet used are buf[r:w]
	r   int
	w   int
	// pass is how many bytes of the current frame, one not relayed here, are still
	// to be handed to pion/turn (math.MaxInt once the stream lost its framing:
	// pion/turn refuses what follows and closes the connection).
	pass int
	// behind: the last frame handed to pion/turn was shorter than it frames
	// (pionMinFrame), and it holds that frame until more bytes come; the frames
	// after it go to pion/turn too, until one of pionMinFrame bytes or more, with
	// which it has framed them all.
	behind bool
	filled bool // the last read took all the room the buffer had
}

const (
	// pionInboundMTU is pion/turn's read buffer (its InboundMTU, not set here): it
	// drops a frame that fills it and closes a connection whose frame exceeds it.
	// A Send indication that large is left to it; a smaller one fits the buffer
	// (uplinkBufMin) whole.
	pionInboundMTU = 1600
	// pionMinFrame is how many bytes pion/turn's STUNConn holds before it frames
	// anything. It frames a shorter frame (ChannelData of 4 bytes of data at most)
	// only when bytes of the frames after it have come, and handles it then: were
	// those relayed here, they would overtake it, and pion/turn would hold it until
	// some later frame went to it (a Refresh, minutes later, for a client whose
	// media is all relayed here). So the frames after such a frame are handed on
	// as well, up to one of pionMinFrame bytes or more (behind); no browser sends
	// one.
	pionMinFrame = 9
	// uplinkBufMin holds the largest ChannelData relayed here (a datagram of
	// maxRelayed bytes, framed; a larger one goes to pion/turn, which drops what
	// exceeds its MTU of 1,600 bytes). A connection whose last read filled its
	// buffer has a backlog, and its buffer doubles, up to uplinkBufMax.
	uplinkBufMin = 2 << 10
	uplinkBufMax = 16 << 10
)

// Read hands pion/turn the next bytes that are not ChannelData on a channel of the
// connection nor a Send indication under its permission, having relayed those before
// them.
func (u *streamUplink) Read(p []byte) (int, error) {
	for {
		if u.pass > 0 {
			return u.passOn(p)
		}
		if u.w-u.r < channelDataHeader {
			if err := u.fill(); err != nil {
				return 0, err
			}
			continue
		}
		b := u.buf[u.r:u.w]
		length := int(binary.BigEndian.Uint16(b[2:]))
		switch b[0] >> 6 {
		case 0: // a STUN message (RFC 8489, section 5)
			if u.stun(b) {
				if err := u.fill(); err != nil {
					return 0, err
				}
			}
		case 1: // ChannelData (RFC 8656, section 12.4), padded on a stream
			size := channelDataSize(length)
			ch, ok := u.st.channels.channel(binary.BigEndian.Uint16(b))
			if !ok || length > maxRelayed || u.behind {
				u.handOn(size)
				continue
			}
			if len(b) < size {
				if err := u.fill(); err != nil {
					return 0, err
				}
				continue
			}
			_, _ = ch.relay.WriteTo(b[channelDataHeader:channelDataHeader+length], ch.peer)
			u.r += size
			u.st.counts.channelData.Add(1)
		default:
			u.pass = math.MaxInt
		}
	}
}

// stun relays the STUN message at the start of b if it is a Send indication served
// here, else sets it to be handed to pion/turn; it reports whether more of it must be
// read first. Its frame is pion/turn's (STUNConn): the header and the length, no
// padding.
func (u *streamUplink) stun(b []byte) (more bool) {
	size := stunHeader + int(binary.BigEndian.Uint16(b[2:]))
	switch {
	case binary.BigEndian.Uint16(b) != stunSendIndication || size >= pionInboundMTU || u.behind:
	case len(b) >= 8 && binary.BigEndian.Uint32(b[4:]) != stunMagicCookie: // type, length, cookie
		// No STUN to pion/turn, which closes the connection as soon as it has the
		// header, not waiting for the rest.
	case len(b) < size:
		return true // whole before it is read, as pion/turn waits for it
	case u.serveSend(b[:size]):
		u.r += size
		return false
	}
	u.handOn(size)
	return false
}

// handOn sets the next size bytes, a frame not relayed here, to be handed to
// pion/turn. A frame shorter than pion/turn frames has the frames after it handed on
// too (behind), until one that is not: pion/turn then frames them all, in order, before
// it reads again, and the connection's fast path goes on. (RFC 8656, section 12.6:
// ChannelData on a channel not bound is discarded, which pion/turn does; the framing
// holds, and the connection stays.)
func (u *streamUplink) handOn(size int) {
	u.pass = size
	u.behind = size < pionMinFrame
}

// serveSend relays frame, a whole STUN message, if it is a Send indication to an SFU
// address under a permission of the connection's allocation, and reports whether it
// did: pion/turn (handleSendIndication) looks up the allocation of the connection,
// its permission for the peer's IP and writes the data through its relay.
func (u *streamUplink) serveSend(frame []byte) bool {
	ind, ok := parseSendIndication(frame)
	return ok && relaySend(u.st.permits.relay(ind.peer.Addr()), ind, &u.st.counts.sends)
}

// passOn hands p what is left of a frame not relayed here: first what is buffered, then
// straight from the connection.
func (u *streamUplink) passOn(p []byte) (int, error) {
	if u.w > u.r {
		n := copy(p, u.buf[u.r:u.r+min(u.w-u.r, u.pass)]) // not r+pass: pass may be MaxInt
		u.r += n
		u.pass -= n
		return n, nil
	}
	n, err := u.Conn.Read(p[:min(len(p), u.pass)])
	u.pass -= n
	return n, err
}

// fill reads what the connection holds after the buffered bytes, which it first moves
// to the buffer's start. A buffer that the last read filled is doubled first: more was
// waiting.
func (u *streamUplink) fill() error {
	if u.r > 0 {
		u.w = copy(u.buf, u.buf[u.r:u.w])
		u.r = 0
	}
	switch {
	case u.buf == nil:
		u.buf = make([]byte, uplinkBufMin)
	case u.filled && len(u.buf) < uplinkBufMax:
		u.buf = append(u.buf, make([]byte, len(u.buf))...)
	}
	n, err := u.Conn.Read(u.buf[u.w:])
	u.w += n
	u.filled = u.w == len(u.buf)
	if n > 0 {
		return nil // an error comes again with the next read
	}
	return err
}

// streamChannel is a channel a stream's allocation bound, with its relay and peer.
type streamChannel struct {
	number uint16
	uplinkChannel
}

// streamChannels are a stream's channels, read by its connection's reader without a lock and replaced by
// pion/turn's channel events (under the registry's lock).
type streamChannels struct {
	cur atomic.Pointer[[]streamChannel]
}

func (c *streamChannels) channel(number uint16) (uplinkChannel, bool) {
	if l := c.cur.Load(); l != nil {
		for _, ch := range *l {
			if ch.number == number {
				return ch.uplinkChannel, true
			}
		}
	}
	return uplinkChannel{}, false
}

// set replaces the channel number (ch nil: removes it); its callers hold the
// registry's lock.
func (c *streamChannels) set(number uint16, ch *uplinkChannel) {
	var next []streamChannel
	if l := c.cur.Load(); l != nil {
		next = slices.DeleteFunc(slices.Clone(*l), func(s streamChannel) bool { return s.number == number })
	}
	if ch != nil {
		next = append(next, streamChannel{number: number, uplinkChannel: *ch})
	}
	c.cur.Store(&next)
}

// drop takes out the channels through relay; its callers hold the registry's lock.
func (c *streamChannels) drop(relay *restrictedConn) {
	if l := c.cur.Load(); l != nil {
		next := slices.DeleteFunc(slices.Clone(*l), func(s streamChannel) bool { return s.relay == relay })
		c.cur.Store(&next)
	}
}
