package sfu

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
)

// pubTCPConn is an ICE-TCP connection as Pion's TCP mux reads it (the publish
// connections'): the frames of a publisher's SRTP whose stream the SFU reads itself
// (rtpRoutes, registered for the connection's peer once its pair is selected) are
// served here, in the goroutine of Pion's reader, and never reach Pion; every other
// frame (checks, DTLS, SRTCP, a stream's first packets) is handed on unchanged. Over
// UDP the media socket's reader does the same; over TCP a publisher's packet went up
// Pion's TCP mux, the ICE candidate's read loop, the DTLS/SRTP demux, the SRTP
// session and the track's reader, a third of the server's time at 10 all-to-all.
//
// Its Read is called by one goroutine (Pion's reader of the connection).
type pubTCPConn struct {
	net.Conn
	r      *bufio.Reader // the connection, read ahead: one read takes what arrived
	ap     netip.AddrPort
	routes *rtpRoutes
	tails  tailList
	hdr    [2]byte // a frame's length (a local would escape through io.ReadFull)
	frame  []byte  // a frame read, maxTCPFrame
	out    []byte  // frames for Pion, framed again
	off    int     // how much of out Pion has read
	err    error   // the connection's, for Pion once out is read
}

// pubTCPReadAhead is what one read of the connection may take: a dozen video packets.
const pubTCPReadAhead = 16 << 10

func newPubTCPConn(c net.Conn, ap netip.AddrPort, routes *rtpRoutes, first []byte) *pubTCPConn {
	out := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(first)), uint16(len(first)))
	return &pubTCPConn{
		Conn:   c,
		r:      bufio.NewReaderSize(c, pubTCPReadAhead),
		ap:     ap,
		routes: routes,
		frame:  make([]byte, maxTCPFrame),
		out:    append(out, first...),
	}
}

func (c *pubTCPConn) Read(b []byte) (int, error) {
	for c.off == len(c.out) {
		if err := c.err; err != nil {
			c.err = nil // as the connection's own: a deadline's passes
			return 0, err
		}
		c.out, c.off = c.out[:0], 0
		c.fill()
	}
	n := copy(b, c.out[c.off:])
	c.off += n
	return n, nil
}

// fill reads a frame, and then every frame already read ahead, into out or, for the
// SRTP of a stream read here, to its layer. A read that fails sets err.
func (c *pubTCPConn) fill() {
	taken := false
	for {
		if err := c.next(&taken); err != nil {
			c.err = err
			break
		}
		if !c.frameBuffered() {
			break
		}
	}
	if taken {
		c.tails.batchDone()
	}
}

// frameBuffered reports whether a whole frame is read ahead (Peek would wait for
// bytes not read ahead yet).
func (c *pubTCPConn) frameBuffered() bool {
	if c.r.Buffered() < 2 {
		return false
	}
	hdr, err := c.r.Peek(2)
	return err == nil && c.r.Buffered() >= 2+int(binary.BigEndian.Uint16(hdr))
}

// next reads one frame (RFC 4571) and serves it or adds it to out. A frame longer
// than media ever is goes to Pion unread here.
func (c *pubTCPConn) next(taken *bool) error {
	hdr := c.hdr[:]
	if _, err := io.ReadFull(c.r, hdr); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint16(hdr))
	if n > len(c.frame) {
		start := len(c.out)
		c.out = append(append(c.out, hdr...), make([]byte, n)...)
		if _, err := io.ReadFull(c.r, c.out[start+2:]); err != nil {
			c.out = c.out[:start] // Pion gets whole frames only
			return err
		}
		return nil
	}
	f := c.frame[:n]
	if _, err := io.ReadFull(c.r, f); err != nil {
		return err
	}
	if c.routes.takeFor(f, c.ap, 0, &c.tails) {
		*taken = true
		return nil
	}
	c.out = append(c.out, hdr...)
	c.out = append(c.out, f...)
	return nil
}
