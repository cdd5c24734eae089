package sfu

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

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
// participant, but for the tracks' bindings (downTrack.attach, unbind), changed with the
// sections' record of them and taking only the participant's ssrcMu; the handshake runs
// on a goroutine of its own until it is done.
type ownSub struct {
	e *Engine
	p *Participant

	mu        sync.Mutex
	closed    bool
	sessionID uint64
	version   uint64
	sections  []*subSection
	// sectionOf is the section each track is offered in (its d). A track is bound only
	// in its own section (answer binds s.d), so it finds both at once: a meeting's end
	// removes each member's tracks from every connection still open, which a look
	// through the sections made n³ in the members.
	sectionOf map[*downTrack]*subSection
	// retired draws the sections' SSRCs, and knows those of the tracks that left
	// their sections: never drawn again, and forgotten by the writer (ssrcretire.go).
	// Its own lock, taken under mu.
	retired retiredSSRCs
	lite    *iceLite // the credentials of the latest offer
	oldLite *iceLite // those before an ICE restart, until its answer
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

	// acceptedHook, nil but in tests, runs in accept once mu is let go, before what
	// the binds set going: a test plays what may come in between
	// (TestOwnSubscribeBindsNoTrackGoneMeanwhile).
	acceptedHook func()
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

func newOwnSub(e *Engine, p *Participant) *ownSub {
	var b [24]byte
	_, _ = rand.Read(b[:])
	o := &ownSub{e: e, p: p, sessionID: binary.BigEndian.Uint64(b[:]) >> 1, reached: make(chan struct{})}
	copy(o.retired.key[:], b[8:]) // the SSRCs' key
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
