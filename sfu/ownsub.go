package sfu

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"maps"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// ownSub is a subscribe connection the server runs itself, without a Pion
// PeerConnection: its offers and the answers to them (subsdp.go), ICE as an ICE-lite
// agent answered in the media socket's reader (icelite.go), the DTLS handshake over
// that reader's datagrams (dtlspeer.go), and then the same SRTP writer and SRTCP
// reader as a Pion connection whose keys the server learnt (srtpout.go, rtcpin.go).
// What a PeerConnection kept for every subscriber (an ICE agent with its task loop,
// checks and candidate reader, the DTLS connection, two SRTP sessions and their
// buffers, a mux, the interceptors, the transceivers; thirteen goroutines) is gone:
// after the handshake a subscriber is its sections, its credentials and its keys.
//
// Its state is guarded by mu, which is never held across I/O or a call into the
// participant; the handshake runs on a goroutine of its own until it is done.
type ownSub struct {
	e *Engine
	p *Participant

	mu        sync.Mutex
	closed    bool
	sessionID uint64
	version   uint64
	sections  []*subSection
	lite      *iceLite // the credentials of the latest offer
	oldLite   *iceLite // those before an ICE restart, until its answer
	// offered is the outstanding offer's sections and the credentials it carries.
	offered     []offerSection
	offeredD    []*downTrack
	offeredLite *iceLite
	// cert is the DTLS certificate of the first offer, fingerprint its fingerprint.
	cert        tls.Certificate
	fingerprint string
	// remote is the first accepted answer's DTLS side; later answers must keep it.
	remote  *answer
	dtls    *dtlsPeer
	srtcp   srtcpCipher // the local keys, for the RTCP the server sends
	cancel  context.CancelFunc
	started bool

	connected atomic.Bool
	// The probes of the peer's candidates (liteprobe.go), under mu.
	remotes    []probeTarget
	liteGen    uint64           // counts the credentials made, which the targets are named with
	unanswered int              // the probes sent to addresses that had not answered
	probedDsts []netip.Prefix   // the destinations probed, maxProbed at most (probeBudget.take)
	probeLite  *iceLite         // the agent of the last accepted answer's offer
	creds      probeCredentials // that answer's
	probeRound int
	probeStop  func() bool // the next round's timer; nil once probing has stopped

	// reached is closed at the first selection: a DTLS client's first flight waits
	// for somewhere to go (a lost one is sent again only after a second).
	reached     chan struct{}
	reachedOnce sync.Once
}

// subSection is one media section of the connection, as a transceiver is: a track,
// or free (d nil) for the next track of its kind.
type subSection struct {
	mid   string
	kind  webrtc.RTPCodecType
	d     *downTrack
	ssrc  uint32
	bound *downTrack // what the last accepted answer bound here
}

// dtlsHandshakeTimeout bounds a handshake; a peer that has not finished it by then
// has no media to get and rejoins.
const dtlsHandshakeTimeout = 30 * time.Second

func newOwnSub(e *Engine, p *Participant) *ownSub {
	var b [8]byte
	_, _ = rand.Read(b[:])
	o := &ownSub{e: e, p: p, sessionID: binary.BigEndian.Uint64(b[:]) >> 1, reached: make(chan struct{})}
	o.dtls = newDTLSPeer(e.udpConn.LocalAddr(), o.sendToPeer)
	return o
}

// newLite makes credentials whose checks the engine's reader answers for o.
func (o *ownSub) newLite() *iceLite {
	l := newICELite(o.selected)
	l.onDTLS = o.dtls.deliver
	l.onRTCP = o.tcpRTCP
	l.onLost = o.consentLost
	o.e.addLite(l)
	return l
}

// sendToPeer sends b (DTLS) to where the peer is, as the current credentials see it.
func (o *ownSub) sendToPeer(b []byte) error {
	o.mu.Lock()
	l := o.lite
	o.mu.Unlock()
	if l == nil {
		return errNoPath
	}
	to := l.dst()
	switch {
	case to.tcp != nil:
		return to.tcp.write(b)
	case to.valid():
		return o.e.writeTo(b, to.ap)
	}
	return errNoPath
}

// nominated is told of the peer's nomination once its path is routable (selected): a
// DTLS client's first flight may go, to where it can go (iceLite.dst).
func (o *ownSub) nominated() { o.reachedOnce.Do(func() { close(o.reached) }) }

// selected is the lite agent's selection, a nominated path once it is routable
// (liteproof.go): the route. A TCP connection's write waits for the peer: such a
// subscriber gets a writer of its own (writerpool.go).
func (o *ownSub) selected(to litePath) {
	o.nominated()
	if to.tcp != nil {
		o.p.out.dedicate()
		o.p.setRoute(&route{tcp: liteTCPRoute{to.tcp}, raddr: net.TCPAddrFromAddrPort(to.ap)})
	} else {
		o.p.setRoute(&route{ap: to.ap})
	}
	o.maybeConnected()
}

// tcpRTCP serves the peer's SRTCP that came over ICE-TCP (over UDP the socket
// reader's routes serve it).
func (o *ownSub) tcpRTCP(b []byte) {
	o.p.routeMu.Lock()
	in := o.p.rtcpIn
	o.p.routeMu.Unlock()
	if in == nil {
		return
	}
	if err := in.serve(b); err != nil {
		o.e.subRTCP.refused.Add(1)
	} else {
		o.e.subRTCP.read.Add(1)
	}
}

// consentLost stops sending to a peer that stopped checking (RFC 7675), as
// Participant.consentExpired does for Pion's connections.
func (o *ownSub) consentLost() {
	o.connected.Store(false)
	o.p.dropSubscribeRoute()
}

// addTrack gives d a section: a free one of its kind, or a new one.
func (o *ownSub) addTrack(d *downTrack) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var s *subSection
	for _, x := range o.sections {
		if x.d == nil && x.bound == nil && x.kind == d.up.kind {
			s = x
			break
		}
	}
	if s == nil {
		s = &subSection{mid: strconv.Itoa(len(o.sections)), kind: d.up.kind}
		o.sections = append(o.sections, s)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	s.d, s.ssrc = d, binary.BigEndian.Uint32(b[:])|1
}

// removeTrack frees d's section; d stops being sent at once.
func (o *ownSub) removeTrack(d *downTrack) {
	o.mu.Lock()
	var unbind bool
	for _, s := range o.sections {
		if s.d == d {
			s.d = nil
		}
		if s.bound == d {
			s.bound, unbind = nil, true
		}
	}
	o.mu.Unlock()
	if unbind {
		d.unbind()
	}
}

// offer makes the next offer, with new ICE credentials when restart.
func (o *ownSub) offer(restart bool) (*Offer, error) {
	cert, fp, err := o.e.certs.dtls()
	if err != nil {
		return nil, err
	}
	cands, err := o.e.liteCandidates()
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, ErrClosed
	}
	// The connection keeps the certificate of its first offer for good, as a
	// PeerConnection does: every offer names it, and the handshake proves it, even
	// when the engine has made the next day's meanwhile.
	if o.fingerprint == "" {
		o.cert, o.fingerprint = cert, fp
	}
	fp = o.fingerprint
	if o.lite == nil || restart {
		if o.oldLite != nil && o.oldLite != o.lite {
			o.retire(o.oldLite, o.lite) // a restart before the last one's answer
		}
		o.oldLite = o.lite
		o.lite = o.newLite()
		o.liteGen++
	}
	o.version++
	params := offerParams{sessionID: o.sessionID, version: o.version, ufrag: o.lite.ufrag, pwd: o.lite.pwd,
		fingerprint: fp, candidates: cands, twcc: o.p.bw.est != nil}
	out := &Offer{}
	o.offeredD = o.offeredD[:0]
	for _, s := range o.sections {
		sec := offerSection{mid: s.mid, kind: s.kind}
		if s.d != nil {
			sec.ssrc, sec.streamID, sec.trackID = s.ssrc, s.d.up.owner.id, s.d.up.id
			out.Tracks = append(out.Tracks, TrackInfo{Mid: s.mid, ParticipantID: s.d.up.owner.id, Source: s.d.up.source, Kind: s.kind.String()})
		}
		params.sections = append(params.sections, sec)
		o.offeredD = append(o.offeredD, s.d)
	}
	o.offered, o.offeredLite = params.sections, o.lite
	out.SDP = writeOffer(params)
	return out, nil
}

// retire forgets the credentials old, which next replaces (an ICE restart): next
// keeps the path old selected, and its consent, until the peer nominates one of its
// own (iceLite.takeOver).
func (o *ownSub) retire(old, next *iceLite) {
	next.takeOver(old)
	o.e.lites.remove(old)
}

var errDTLSChanged = errors.New("sfu: a subscribe answer changed its DTLS fingerprint or role")

// accept applies the answer to the outstanding offer: binds the tracks it accepted,
// and with the first answer starts the DTLS handshake. An answer it refuses changes
// nothing.
func (o *ownSub) accept(text string) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrClosed
	}
	a, err := parseAnswer(text, o.offered)
	if err == nil && o.remote != nil && (o.remote.dtlsClient != a.dtlsClient || !maps.Equal(o.remote.fingerprints, a.fingerprints)) {
		err = errDTLSChanged
	}
	var askProven bool
	if err == nil {
		askProven, err = o.offeredLite.setRemote(a.ufrag, a.pwd)
	}
	if err != nil {
		o.mu.Unlock()
		return err
	}
	if o.oldLite != nil && o.oldLite != o.offeredLite {
		o.retire(o.oldLite, o.offeredLite)
		o.oldLite = nil
	}
	type change struct {
		d                 *downTrack
		ssrc              uint32
		pt, twcc          uint8
		unbind, rebinding bool
	}
	var changes []change
	for i, as := range a.sections {
		d := o.offeredD[i]
		s := o.sections[i]
		switch {
		case d == nil || s.d != d:
			// Free when offered, or its track changed since: the next offer says.
		case as.accepted && s.bound != d:
			s.bound = d
			changes = append(changes, change{d: d, ssrc: s.ssrc, pt: as.pt, twcc: as.twcc})
		case !as.accepted && s.bound == d:
			s.bound = nil
			changes = append(changes, change{d: d, unbind: true})
		}
	}
	lite := o.offeredLite
	start := !o.started
	if start {
		o.started = true
		// Only the DTLS side is kept (later answers must keep it), not the sections
		// and candidates, which the connection holds elsewhere.
		o.remote = &answer{fingerprints: a.fingerprints, dtlsClient: a.dtlsClient}
	}
	o.mu.Unlock()

	for _, c := range a.candidates {
		if cand, err := ice.UnmarshalCandidate(c); err == nil && o.e.cands.ok(cand) {
			o.addRemote(cand, false)
		}
	}
	if askProven {
		o.e.lites.askProven(lite)
	}
	o.startProbing(lite, probeCredentials{ufrag: a.ufrag, pwd: a.pwd})
	for _, c := range changes {
		if c.unbind {
			c.d.unbind()
		} else {
			c.d.bind(c.ssrc, c.pt, c.twcc, nil, o.p.writeSubscribeRTCP)
		}
	}
	if start {
		ctx, cancel := context.WithTimeout(context.Background(), dtlsHandshakeTimeout)
		o.mu.Lock()
		o.cancel = cancel
		closed := o.closed
		o.mu.Unlock()
		if closed {
			cancel()
			return nil
		}
		go o.handshake(ctx, cancel, a)
	}
	return nil
}

// handshake runs the DTLS handshake and starts the connection's SRTP with its keys.
func (o *ownSub) handshake(ctx context.Context, cancel context.CancelFunc, a *answer) {
	defer cancel()
	o.mu.Lock()
	cert := o.cert
	o.mu.Unlock()
	var (
		keys    srtp.SessionKeys
		profile srtp.ProtectionProfile
		err     error
	)
	if a.dtlsClient {
		select {
		case <-o.reached:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err == nil {
		keys, profile, err = o.dtls.handshake(ctx, a.dtlsClient, cert, a.fingerprints, o.e.pionLogs)
	}
	if err == nil && !a.dtlsClient {
		// Armed before the keys are used, so that once media flows the bound holds.
		o.e.after(dtlsLinger, o.dtls.stop)
	}
	if err == nil {
		err = o.startSRTP(keys, profile)
	}
	if err != nil {
		o.e.log.Debug("sfu: subscribe handshake failed", "err", err)
		o.dtls.stop()
		return
	}
	// As the DTLS client the server got the last flight: nothing can be asked of it
	// again. As the server it sent the last flight, which the peer asks for again
	// (by retransmitting its own) until it arrives: the handshake keeps reading until
	// the peer's first SRTCP shows it has the keys (rtcpIn.serve calls rtcpSeen), or
	// for dtlsLinger at most, so a peer that sends no RTCP does not keep it.
	if a.dtlsClient {
		o.dtls.stop()
	}
	o.maybeConnected()
}

// dtlsLinger bounds how long the server, as the DTLS server, answers a peer's
// retransmitted last flight: a browser sends it again after 1, 2, 4 and 8 s when our
// answer to it was lost, and sends its first receiver report within a second or two of
// getting the keys, which ends the handshake sooner (rtcpSeen).
const dtlsLinger = 30 * time.Second

// rtcpSeen is told of the peer's first SRTCP: its handshake is done, so the
// handshake's goroutines go.
func (o *ownSub) rtcpSeen() { o.dtls.stop() }

// startSRTP gives the connection its SRTP writer and SRTCP reader, and the cipher the
// RTCP it sends is encrypted with.
func (o *ownSub) startSRTP(keys srtp.SessionKeys, profile srtp.ProtectionProfile) error {
	sc, err := newSRTCPCipher(keys.LocalMasterKey, keys.LocalMasterSalt, profile)
	if err != nil {
		return err
	}
	o.mu.Lock()
	o.srtcp = sc
	o.mu.Unlock()
	return o.p.startSubscribeSRTP(keys, profile)
}

// maybeConnected reports the connection up once it has keys and a route: the
// subscriptions replay their keyframes then (replay.go).
func (o *ownSub) maybeConnected() {
	if o.p.srtp.Load() == nil || o.p.route.Load() == nil || o.connected.Swap(true) {
		return
	}
	o.p.onSubscribeState(webrtc.PeerConnectionStateConnected)
}

var errNotConnected = errors.New("sfu: subscribe connection not connected")

// writeRTCP encrypts pkts and sends them on the route.
func (o *ownSub) writeRTCP(pkts []rtcp.Packet) error {
	r := o.p.route.Load()
	if r == nil || (!r.ap.IsValid() && r.tcp == nil) {
		return errNotConnected
	}
	raw, err := rtcp.Marshal(pkts)
	if err != nil {
		return err
	}
	var out []byte
	err = errNotConnected
	o.mu.Lock()
	if o.srtcp != nil {
		out, err = o.srtcp.seal(raw)
	}
	o.mu.Unlock()
	if err != nil {
		return err
	}
	if r.tcp != nil {
		_, err = r.tcp.WriteTo(out, r.raddr)
		return err
	}
	return o.e.writeTo(out, r.ap)
}

// close forgets the credentials and ends the handshake.
func (o *ownSub) close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	lites := []*iceLite{o.lite, o.oldLite}
	cancel := o.cancel
	if o.probeStop != nil {
		o.probeStop()
	}
	o.mu.Unlock()
	for _, l := range lites {
		if l != nil {
			o.e.lites.remove(l)
		}
	}
	if cancel != nil {
		cancel()
	}
	o.dtls.stop()
	o.connected.Store(false)
}
