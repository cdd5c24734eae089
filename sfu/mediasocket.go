package sfu

import (
	"net"
	"net/netip"
)

// writeTo sends one datagram on the media socket (through its batching queue).
func (e *Engine) writeTo(b []byte, to netip.AddrPort) error {
	if w, ok := e.udpConn.(interface {
		WriteToAddrPort([]byte, netip.AddrPort) (int, error)
	}); ok {
		_, err := w.WriteToAddrPort(b, to)
		return err
	}
	_, err := e.udpConn.WriteTo(b, net.UDPAddrFromAddrPort(to))
	return err
}

// readsRTCP reports whether the media socket's reader serves the subscribers' SRTCP
// (subRTCP): only a socket of the operating system's, which the engine batches, has it.
func (e *Engine) readsRTCP() bool {
	bc, ok := e.udpConn.(*batchConn)
	return ok && bc.taker != nil
}

// newWriterBatch is a writer's own batch on the media socket (batchconn.go), or nil
// when the socket is not the operating system's or cannot batch.
func (e *Engine) newWriterBatch() *writerBatch {
	bc, ok := e.udpConn.(*batchConn)
	if !ok {
		return nil
	}
	b, err := newWriterBatch(bc.UDPConn)
	if err != nil {
		return nil
	}
	b.now = e.now
	b.relays = &e.relays
	return b
}

// mediaTaker is what the media socket's reader serves itself: subscribers' SRTCP
// (rtcpin.go) and publishers' SRTP (rtpin.go).
type mediaTaker struct {
	sub   *rtcpRoutes
	pub   *rtpRoutes
	lites *liteAgents // ICE and DTLS of the subscribe connections the server runs (ownsub.go)
}

func (t mediaTaker) take(b []byte, from netip.AddrPort, at int64) bool {
	switch {
	case isRTCP(b):
		return t.sub.take(b, from)
	case isSTUN(b):
		return t.lites.take(b, from)
	case dtlsRecord(b):
		return t.lites.takeDTLS(b, from)
	}
	return t.pub.take(b, from, at)
}

func (t mediaTaker) batchDone() { t.pub.batchDone() }
