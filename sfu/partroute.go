package sfu

import (
	"net/netip"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// The participant's media routes: the SFU's own SRTP on the media socket once a
// connection's handshake was seen whole, Pion's path otherwise, and the RTCP each way.

// startOwnSRTP gives the subscribe connection its own SRTP writer (srtpout.go) when
// its handshake was seen whole; otherwise its RTP stays on Pion's path.
func (p *Participant) startOwnSRTP(keys *dtlsKeys) {
	sk, profile, err := keys.sessionKeys()
	if err == nil {
		err = p.startSubscribeSRTP(sk, profile)
	}
	if err != nil {
		p.room.engine.log.Debug("sfu: subscriber RTP or RTCP stays on Pion's SRTP path", "err", err)
		go p.usePionRTCP() // not here: Pion holds its DTLS lock
	}
}

// startSubscribeSRTP gives the subscribe connection its own SRTP writer and SRTCP
// reader with the handshake's keys. On an error the writer may be running and the
// reader not.
func (p *Participant) startSubscribeSRTP(sk srtp.SessionKeys, profile srtp.ProtectionProfile) error {
	o, err := newSRTPOut(sk, profile, socketQueue(p.room.engine.udpConn), &p.route, p.trainer(), &p.room.engine.stats.noRoute)
	if err != nil {
		return err
	}
	p.useSRTP(o)
	in, err := newRTCPIn(p, sk, profile, p.room.engine.now)
	if err != nil {
		return err
	}
	p.routeMu.Lock()
	if !p.routeGone {
		p.rtcpIn = in
		p.registerRTCP()
	}
	p.routeMu.Unlock()
	return nil
}

// useSRTP makes o the subscribe connection's writer. On a connection the server runs
// itself it forgets the streams whose tracks left their sections (ssrcretire.go).
func (p *Participant) useSRTP(o *srtpOut) {
	if p.own != nil {
		o.forgetRetired(&p.own.retired)
	}
	p.srtp.Store(o)
}

// usePionRTCP makes every subscription, present and future, read the RTCP that Pion's
// path delivers to it (pionRTCP).
func (p *Participant) usePionRTCP() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.pionRTCP || p.own != nil {
		return // a connection the server runs itself has no Pion path
	}
	p.pionRTCP = true
	for _, d := range p.downs {
		p.wg.Add(1)
		go p.readRTCP(d)
	}
}

// readRTCP runs d's RTCP reader; it holds one count of p.wg.
func (p *Participant) readRTCP(d *downTrack) {
	defer p.wg.Done()
	p.rtcpReaders.Add(1)
	defer p.rtcpReaders.Add(-1)
	d.readRTCP()
}

// registerRTCP makes the media socket's reader serve the SRTCP that arrives from the
// current route's address (rtcpin.go), once there are keys for it; a route over
// ICE-TCP or none leaves it to Pion. Under routeMu.
func (p *Participant) registerRTCP() {
	routes := &p.room.engine.subRTCP
	var ap netip.AddrPort
	r := p.route.Load()
	if r != nil && r.tcp == nil && p.rtcpIn != nil && !p.routeGone {
		ap = r.ap
	}
	if r != nil && r.tcp != nil && !p.routeGone {
		go p.usePionRTCP() // called from Pion's callbacks: never wait for p.mu there
	}
	routes.move(&p.rtcpFrom, ap, p.rtcpIn)
}

// startPublishSRTP makes the media socket's reader read the publish connection's
// SRTP when its handshake was seen whole; otherwise it stays on Pion's path.
func (p *Participant) startPublishSRTP(keys *dtlsKeys) {
	sk, profile, err := keys.sessionKeys()
	var in *rtpIn
	if err == nil {
		in, err = newRTPIn(p, sk, profile)
	}
	if err != nil {
		p.room.engine.log.Debug("sfu: publisher RTP stays on Pion's SRTP path", "err", err)
		return
	}
	p.routeMu.Lock()
	if !p.routeGone {
		p.pubIn = in
		p.registerRTP()
	}
	p.routeMu.Unlock()
}

// setPublishRoute notes the publish connection's selected pair.
func (p *Participant) setPublishRoute(pair *webrtc.ICECandidatePair) {
	p.routeMu.Lock()
	p.pubRoute = pairRemote(pair, webrtc.ICEProtocolUDP)
	p.pubTCPRoute = pairRemote(pair, webrtc.ICEProtocolTCP)
	p.registerRTP()
	p.routeMu.Unlock()
}

// registerRTP makes the media socket's reader, or the ICE-TCP connection's
// (pubTCPConn), read the SRTP that arrives from the publish connection's selected
// pair, once there are keys for it. Under routeMu.
func (p *Participant) registerRTP() {
	e := p.room.engine
	var udp, tcp netip.AddrPort
	if p.pubIn != nil && !p.routeGone {
		udp, tcp = p.pubRoute, p.pubTCPRoute
	}
	e.pubRTP.move(&p.pubFrom, udp, p.pubIn)
	e.pubTCP.move(&p.pubTCPFrom, tcp, p.pubIn)
}

// pairRemote is the remote address of pair if it is a pair over protocol. Over
// ICE-TCP it is the peer's end of the connection: Pion makes the peer's candidate
// from where its checks came.
func pairRemote(pair *webrtc.ICECandidatePair, protocol webrtc.ICEProtocol) netip.AddrPort {
	if pair == nil || pair.Local == nil || pair.Remote == nil || pair.Local.Protocol != protocol {
		return netip.AddrPort{}
	}
	ip, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		return netip.AddrPort{}
	}
	if protocol == webrtc.ICEProtocolTCP {
		ip = ip.Unmap() // as sortTCP has the connection's
	}
	return netip.AddrPortFrom(ip, pair.Remote.Port)
}

// setRoute makes r where the subscribe connection's own SRTP writer sends.
func (p *Participant) setRoute(r *route) {
	p.routeMu.Lock()
	if p.routeGone {
		p.routeMu.Unlock()
		r.release()
		return
	}
	old := p.route.Swap(r)
	p.registerRTCP()
	p.routeMu.Unlock()
	old.release()
}

// consentExpired stops sending to the subscriber once its ICE agent has failed: nothing
// came from the peer for the agent's timeouts (25 s in all; RFC 7675 lets consent
// expire after 30 s). Pion's own writes stop there, since its agent forgets the pair; the
// server's writer sends to the route, so it forgets the route too. An ICE restart
// selects a new pair, which sets a new one. The state is checked again under the lock:
// a restart may have begun since the agent failed.
func (p *Participant) consentExpired(iceT *webrtc.ICETransport) {
	p.routeMu.Lock()
	if p.routeGone || iceT.State() != webrtc.ICETransportStateFailed {
		p.routeMu.Unlock()
		return
	}
	old := p.route.Swap(nil)
	p.registerRTCP()
	p.routeMu.Unlock()
	old.release()
}

// dropSubscribeRoute stops sending to a subscriber whose consent expired on a
// connection the server runs itself (ownsub.go); a new nomination sets a new route.
func (p *Participant) dropSubscribeRoute() {
	p.routeMu.Lock()
	old := p.route.Swap(nil)
	p.registerRTCP()
	p.routeMu.Unlock()
	old.release()
}

// dropRoute releases the route for good (Close).
func (p *Participant) dropRoute() {
	p.routeMu.Lock()
	p.routeGone = true
	old := p.route.Swap(nil)
	p.registerRTCP()
	p.registerRTP()
	p.routeMu.Unlock()
	old.release()
}

// writeRTP sends one packet of a subscription bound by b: through the connection's
// own SRTP writer when it has one, else through Pion's. st is its transport-wide
// number (sentlog.go); it returns the one it went with. Called only by the
// subscriber's writer.
func (p *Participant) writeRTP(b *binding, h *rtp.Header, payload []byte, st twccStamp) (int, uint16, error) {
	if o := p.srtp.Load(); o != nil {
		return o.write(p.out.batch, h, payload, b.twcc, st)
	}
	if b.stream == nil {
		return 0, 0, nil // a connection of the server's own before its handshake: dropped, as Pion drops it
	}
	if st.again && b.twcc != 0 {
		// Pion's interceptor gives every packet the next number: the copy would not be
		// the packet that went (sentlog.go).
		return 0, 0, errRenumbered
	}
	// The same check as the server's own sealer makes (rocState.next): two packets
	// under one sequence number (a publisher's duplicate, numbers come round) would
	// share a nonce, and audio has no sent log to refuse the second.
	if p.pion == nil {
		p.pion = newPionPath(p.sub)
	}
	if !p.pion.ready() {
		// Pion drops a packet before its SRTP runs; such a packet takes no index, so
		// that it may go under it later (a new subscriber's replay, a NACK).
		return 0, 0, nil
	}
	if o := p.srtp.Load(); o != nil {
		// The handshake ended since the load above: Pion's transport became connected
		// under its lock, in which the own writer started (startOwnSRTP), and the
		// indexes are the own writer's from here.
		return o.write(p.out.batch, h, payload, b.twcc, st)
	}
	if _, err := p.pion.indexes.next(h.SSRC, h.SequenceNumber, st.again); err != nil {
		return 0, 0, err
	}
	// From here the index stays taken whatever Pion returns: a write it reports as
	// nothing written may have been sealed (its mux answers (0, nil) for a packet it
	// had no candidate pair for, a TCP frame may have gone in part). Such a packet
	// counts as sent, so that the sent log has it and a copy (a replay, a NACK) goes
	// as it went.
	n, err := b.stream.WriteRTP(h, payload)
	if n == 0 && err == nil {
		n = len(payload)
	}
	return n, 0, err
}

// pionPath is what Pion's path keeps for the index check (writeRTP): the indexes it
// let Pion seal, and whether Pion's SRTP runs (its DTLS transport is connected:
// Pion drops what it is given before). Only the subscriber's writer uses it.
type pionPath struct {
	indexes   rocStreams
	connected func() bool
	up        bool // connected said so once: it is not asked again (it takes Pion's lock)
}

// ready says whether Pion's SRTP runs, asking Pion only until it does: a transport
// that closes later fails the writes itself.
func (pp *pionPath) ready() bool {
	if !pp.up {
		pp.up = pp.connected()
	}
	return pp.up
}

// newPionPath is pc's; without pc (a writer bound directly, as tests do) there is no
// handshake to wait for.
func newPionPath(pc *webrtc.PeerConnection) *pionPath {
	if pc == nil {
		return &pionPath{connected: func() bool { return true }}
	}
	dt := pc.SCTP().Transport()
	return &pionPath{connected: func() bool { return dt.State() == webrtc.DTLSTransportStateConnected }}
}

func (p *Participant) writePublishRTCP(pkts []rtcp.Packet) error {
	pub := p.pub.Load()
	if pub == nil {
		return ErrClosed
	}
	return pub.WriteRTCP(pkts)
}

func (p *Participant) writeSubscribeRTCP(pkts []rtcp.Packet) error {
	if p.own != nil {
		return p.own.writeRTCP(pkts)
	}
	return p.sub.WriteRTCP(pkts)
}
