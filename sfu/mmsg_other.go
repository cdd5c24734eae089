//go:build !linux

package sfu

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
)

// msgWriter sends a batch with x/net's WriteBatch: one write per datagram where the
// system has no sendmmsg. Conclave's servers run on Linux (mmsg_linux.go); this
// keeps the server building and working elsewhere.
type msgWriter struct {
	pc    *ipv4.PacketConn
	msgs  [maxBatch]ipv4.Message
	bufs  [maxBatch][1][]byte
	addrs [maxBatch]net.UDPAddr
}

func newBatchWriter(c *net.UDPConn) (batchWriter, error) {
	return &msgWriter{pc: ipv4.NewPacketConn(c)}, nil
}

func (w *msgWriter) writeBatch(ds []*datagram) (int, error) {
	for i, d := range ds {
		w.bufs[i][0] = d.buf[:d.n]
		w.addrs[i] = *net.UDPAddrFromAddrPort(d.ap)
		w.msgs[i] = ipv4.Message{Buffers: w.bufs[i][:], Addr: &w.addrs[i]}
	}
	n, err := w.pc.WriteBatch(w.msgs[:len(ds)], 0)
	for i := range ds {
		w.bufs[i][0] = nil
	}
	return n, err
}

// udpReader reads one datagram per call where there is no recvmmsg.
type udpReader struct{ c *net.UDPConn }

func newBatchReader(c *net.UDPConn) (batchReader, error) { return udpReader{c}, nil }

func (r udpReader) readFrom(p []byte) (int, netip.AddrPort, int64, error) {
	n, ap, err := r.c.ReadFromUDPAddrPort(p)
	return n, ap, 0, err
}

// drained: a batch is one datagram here.
func (r udpReader) drained() bool { return true }

// stampReceipts: not here; nothing is stamped.
func (r udpReader) stampReceipts(func() time.Time) error { return errors.ErrUnsupported }
