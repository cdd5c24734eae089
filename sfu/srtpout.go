package sfu

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// srtpOut sends a subscribe connection's RTP itself: it stamps the transport-wide
// sequence number, encrypts with the connection's own SRTP context (keys from
// dtlsKeys) straight into a datagram of the media socket's queue, which batches it
// with the others (batchconn.go). Pion's path for the same packet goes through its
// SRTP session, a mux of the DTLS connection, the ICE connection, the candidate pair
// and the UDP mux before it reaches that socket, and is copied on the way; the profile
// put those layers at a quarter of the server's time per packet.
//
// Once a connection has an srtpOut every RTP packet on it goes through it (the writer
// decides per packet, never mixing the two for one connection after the switch):
// Pion's SRTP context and this one count rollovers separately, and a stream that went
// through both after a rollover could not be decrypted. The switch happens in the
// DTLS transport's state callback, which Pion calls before it starts its SRTP session,
// so Pion's context never encrypts a packet of a connection that has one.
//
// Only the subscriber's writer (one at a time, writerpool.go) calls write.
type srtpOut struct {
	gcm *gcmSealer    // the AES-GCM profiles (srtpgcm.go)
	ctx *srtp.Context // the others
	// indexes keeps ctx from using an index twice (rocState.next), as gcm keeps
	// itself: Pion's context seals whatever it is given, and under AES-CM one index is
	// one keystream.
	indexes rocStreams
	sock    datagramQueue
	// route is where the selected candidate pair sends (Participant.setRoute); nil
	// before a pair is selected, when packets are dropped and counted.
	route   *atomic.Pointer[route]
	tcpBuf  *datagram  // scratch for ICE-TCP, made when first needed
	est     *estimator // nil without bandwidth estimation
	twccSeq uint16
	ext     [2]byte
	parsed  rtp.Header     // EncryptRTP's parse of the packet
	sent    atomic.Uint64  // packets written, for tests and monitoring
	noRoute *atomic.Uint64 // packets without a route: the engine's count (Stats)
}

// route is where a subscribe connection's packets go: the selected candidate pair's
// remote address on the UDP socket (every local UDP candidate of the server is on
// it, relayed pairs included: the relay is the remote side), or, for a pair over
// ICE-TCP, the TCP mux's connection for it, which frames each packet (RFC 4571)
// exactly as Pion's candidate would.
type route struct {
	ap    netip.AddrPort
	tcp   net.PacketConn // a reference of the TCP mux's: released by release
	raddr net.Addr
}

// release gives back the TCP mux's reference.
func (r *route) release() {
	if r != nil && r.tcp != nil {
		_ = r.tcp.Close()
	}
}

// datagramQueue is the media socket as srtpOut writes to it: a datagram to fill, and
// the queue to put it in.
type datagramQueue interface {
	newDatagram() *datagram
	queueDatagram(d *datagram) error
}

// packetConnQueue writes each datagram at once to a socket that does not batch (a
// simulated network's in tests, or one the batching could not use).
type packetConnQueue struct{ net.PacketConn }

func (q packetConnQueue) newDatagram() *datagram { return newFullDatagram() }

func (q packetConnQueue) queueDatagram(d *datagram) error {
	_, err := q.WriteTo(d.buf[:d.n], net.UDPAddrFromAddrPort(d.ap))
	return err
}

func socketQueue(c net.PacketConn) datagramQueue {
	if q, ok := c.(datagramQueue); ok {
		return q
	}
	return packetConnQueue{c}
}

var (
	errNoRoute     = errors.New("sfu: no UDP route to the subscriber")
	errTooLarge    = errors.New("sfu: RTP packet larger than a datagram")
	errSRTPProfile = errors.New("sfu: SRTP profile not supported")
	// errRenumbered refuses a packet sent again on Pion's path with transport-wide
	// numbers (sentlog.go).
	errRenumbered = errors.New("sfu: a packet sent again would get a new transport-wide number")
)

func newSRTPOut(keys srtp.SessionKeys, profile srtp.ProtectionProfile, sock datagramQueue, route *atomic.Pointer[route], est *estimator, noRoute *atomic.Uint64) (*srtpOut, error) {
	o := &srtpOut{sock: sock, route: route, est: est, noRoute: noRoute}
	var err error
	if gcmProfile(profile) {
		o.gcm, err = newGCMSealer(keys.LocalMasterKey, keys.LocalMasterSalt)
	} else {
		o.ctx, err = srtp.CreateContext(keys.LocalMasterKey, keys.LocalMasterSalt, profile)
	}
	if err != nil {
		return nil, errors.Join(errSRTPProfile, err)
	}
	return o, nil
}

// forgetRetired has the writer forget the streams whose SSRCs r retires, and refuse
// their packets (ssrcretire.go). Before the first write.
func (o *srtpOut) forgetRetired(r *retiredSSRCs) {
	if o.gcm != nil {
		o.gcm.retired = r
	} else {
		o.indexes.retired = r
	}
}

// twccStamp is the transport-wide sequence number a packet goes with: the next one
// (the zero value), or, for a packet sent before, the one it went with (sentlog.go).
type twccStamp struct {
	again bool
	num   uint16
}

// write sends one packet in batch (the writer's; nil: the media socket's queue), or
// over the route's ICE-TCP connection: h (which it gives the transport-wide sequence
// number extension twcc, 0 for none, stamped as st says) and payload, padded as h
// says. It reports the bytes before encryption, as Pion's writer does, and the
// transport-wide number the packet went with.
func (o *srtpOut) write(batch *writerBatch, h *rtp.Header, payload []byte, twcc uint8, st twccStamp) (int, uint16, error) {
	dst := o.route.Load()
	if dst == nil {
		o.noRoute.Add(1)
		return 0, 0, errNoRoute
	}
	num := st.num
	if twcc != 0 {
		if !st.again {
			num = o.twccSeq + 1 // taken once the packet is queued: a refused one leaves no gap
		}
		o.ext = [2]byte{byte(num >> 8), byte(num)}
		if err := h.SetExtension(twcc, o.ext[:]); err != nil {
			return 0, 0, err
		}
	}
	hdrLen, size := rtp.HeaderAndPacketMarshalSize(h, payload) //nolint:staticcheck // the allocation-free form
	if size+srtpOverhead > maxDatagram {
		return 0, 0, errTooLarge
	}
	sock := o.sock
	if batch != nil {
		sock = batch
	}
	var d *datagram
	if dst.tcp != nil {
		if o.tcpBuf == nil {
			o.tcpBuf = newFullDatagram()
		}
		d = o.tcpBuf
	} else {
		d = sock.newDatagram()
	}
	var enc []byte
	var err error
	if o.gcm != nil && !h.Padding {
		// The header alone, the payload encrypted straight from the packet behind it.
		if _, err = h.MarshalTo(d.buf[:]); err == nil {
			enc, err = o.gcm.sealPayload(d.buf[:], hdrLen, payload, h.SSRC, h.SequenceNumber, st.again)
		}
	} else if _, err = rtp.MarshalPacketTo(d.buf[:], h, payload); err == nil { //nolint:staticcheck
		// In place, as Pion's own session encrypts: the ciphertext is as long as the
		// plaintext, the tag follows it.
		if o.gcm != nil {
			enc, err = o.gcm.seal(d.buf[:], hdrLen, size, h.SSRC, h.SequenceNumber, st.again)
		} else if _, err = o.indexes.next(h.SSRC, h.SequenceNumber, st.again); err == nil {
			enc, err = o.ctx.EncryptRTP(d.buf[:0], d.buf[:size], &o.parsed)
		}
	}
	if err != nil {
		return 0, 0, err
	}
	d.n, d.ap = len(enc), dst.ap
	if len(enc) > 0 && &enc[0] != &d.buf[0] { // grown elsewhere: never with these profiles
		d.n = copy(d.buf[:], enc)
	}
	if dst.tcp != nil {
		// The subscriber's writer is its own (writerpool.go): this may wait for the
		// peer. Our own ICE-TCP connections hold the writer's frames for one write at
		// its batch's flush.
		if fq, ok := dst.tcp.(frameQueue); ok && batch != nil {
			if err := fq.queueFrame(d.buf[:d.n]); err != nil {
				o.unseal(st)
				return 0, 0, err
			}
			batch.holdFrames(fq)
		} else if _, err := dst.tcp.WriteTo(d.buf[:d.n], dst.raddr); err != nil {
			return 0, 0, err // some of it may have gone: the index stays used
		}
	} else if err := sock.queueDatagram(d); err != nil {
		o.unseal(st)
		return 0, 0, err
	}
	if twcc != 0 && !st.again {
		o.twccSeq = num
	}
	if twcc != 0 && o.est != nil {
		if st.again {
			o.est.onSentAgain(num)
		} else {
			o.est.onSent(num, size)
		}
	}
	o.sent.Add(1)
	return size, num, nil
}

// unseal gives back the index of the packet just sealed, which did not go, unless
// it was sent again (st.again): its index is the first copy's, which went.
func (o *srtpOut) unseal(st twccStamp) {
	if st.again {
		return
	}
	if o.gcm != nil {
		o.gcm.last.unseal()
	} else {
		o.indexes.last.unseal()
	}
}

// srtpOverhead is the most SRTP adds to a packet (the authentication tag).
const srtpOverhead = 16

// routeFor is where pair sends; nil for a pair it cannot read. ice is the pair's
// transport (an ICE-TCP route needs its local username fragment: the TCP mux keeps
// its connections by it).
func (e *Engine) routeFor(ice *webrtc.ICETransport, pair *webrtc.ICECandidatePair) *route {
	if pair == nil || pair.Local == nil || pair.Remote == nil {
		return nil
	}
	ip, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		return nil
	}
	switch pair.Local.Protocol {
	case webrtc.ICEProtocolUDP:
		return &route{ap: netip.AddrPortFrom(ip, pair.Remote.Port)}
	case webrtc.ICEProtocolTCP:
		local := net.ParseIP(pair.Local.Address)
		if e.tcpMux == nil || local == nil {
			return nil
		}
		params, err := ice.GetLocalParameters()
		if err != nil {
			return nil
		}
		conn, err := e.tcpMux.GetConnByUfrag(params.UsernameFragment, local.To4() == nil, local)
		if err != nil {
			return nil
		}
		return &route{tcp: conn, raddr: &net.TCPAddr{IP: ip.AsSlice(), Port: int(pair.Remote.Port), Zone: ip.Zone()}}
	}
	return nil
}
