package sfu

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// Participant is one member's media: a publish connection (the client offers) and a
// subscribe connection (we offer). Its methods are meant to be called from the one
// goroutine that owns the member's session; other goroutines (publishers' tracks coming
// and going) only add or remove subscriptions and signal NegotiationNeeded.
type Participant struct {
	id   string
	room *Room
	// joined is when it joined, on the engine's clock: in an end-to-end encrypted
	// meeting only keyframes from well after it are replayed to it (replay.go).
	joined time.Time
	// pub is made by the first Publish (under mu, never once closed): most people in a
	// large meeting only watch, and an idle connection still costs memory and the
	// tickers of its interceptors.
	pub atomic.Pointer[webrtc.PeerConnection]
	// feedback is the publish connection's transport-cc feedback and receiver reports
	// (pubfeedback.go), made with it.
	feedback atomic.Pointer[pubFeedback]
	sub      *webrtc.PeerConnection // nil when own
	own      *ownSub                // the subscribe connection the server runs itself (ownsub.go)
	out      *sendQueue
	// srtp is the subscribe connection's own SRTP writer once its DTLS handshake is
	// done (srtpout.go); route is where it sends: the selected candidate pair's remote
	// address on the UDP socket, or the pair's ICE-TCP connection.
	srtp      atomic.Pointer[srtpOut]
	route     atomic.Pointer[route]
	routeMu   sync.Mutex // orders setRoute, dropRoute and the start of rtcpIn
	routeGone bool       // dropRoute was called: the connection is closed
	// rtcpIn reads the connection's SRTCP in the media socket's reader once there are
	// keys and a UDP route (rtcpin.go); rtcpFrom is the address it is registered for.
	// Both guarded by routeMu.
	rtcpIn   *rtcpIn
	rtcpFrom netip.AddrPort
	// pionRTCP (guarded by mu) is set once the subscriber's RTCP may take Pion's path:
	// on an engine whose socket reader does not read it, over ICE-TCP, or when the
	// handshake's keys were not seen. From then on every subscription reads its own
	// (downTrack.readRTCP), a goroutine each; before, none does, as none would get
	// anything: Pion's SRTCP session starts only with the handshake, by when the
	// socket reader serves a connection that has keys and a UDP route.
	pionRTCP    bool
	rtcpReaders atomic.Int32 // readRTCP goroutines running, for the tests
	// bySSRC maps the SSRC of each bound subscription to it, for the socket reader
	// (rtcpin.go), which must never wait for mu (held across Pion's offer making): a
	// copy made under ssrcMu at every Bind and Unbind, read without a lock.
	ssrcMu sync.Mutex
	bySSRC atomic.Pointer[map[uint32]*downTrack]
	// pubIn reads the publish connection's SRTP in the media socket's reader once it
	// has keys (rtpin.go); pubRoute is the connection's selected UDP address (invalid
	// over ICE-TCP or before a pair), pubFrom the address pubIn is registered for;
	// pubTCPRoute and pubTCPFrom the same over ICE-TCP (the peer's end of the
	// connection, read by pubTCPConn).
	// Guarded by routeMu. pubBySSRC maps the SSRC of each published stream to its
	// layer, a copy made under ssrcMu, read by the socket reader without a lock.
	pubIn       *rtpIn
	pubRoute    netip.AddrPort
	pubFrom     netip.AddrPort
	pubTCPRoute netip.AddrPort
	pubTCPFrom  netip.AddrPort
	pubBySSRC   atomic.Pointer[map[uint32]*layer]
	wg          sync.WaitGroup
	// readers are the published tracks whose reading goroutines wg counts (guarded by
	// mu): Close puts their reads past a deadline (readers.go).
	readers []trackReader
	// stopping is set by stopReaders before it puts the reads past a deadline: a reader
	// then leaves the deadline alone (tailloss.go sets its own) and stops at any error.
	stopping atomic.Bool

	negotiate chan struct{}
	blocked   [3]atomic.Bool       // by sourceIndex: a moderator stopped forwarding this source
	view      atomic.Pointer[view] // what this participant shows (choose.go); nil: no view yet
	bw        bandwidth            // its downlink's estimate and allocation (bwe.go)

	encReady  chan struct{} // encodings to send to the publisher (encodings.go)
	encMu     sync.Mutex    // guards encodings
	encodings map[Source]Encodings

	mu            sync.Mutex
	closed        bool
	sources       map[string]Source // publish mid → source; a mid keeps its first source
	downs         map[*upTrack]*downTrack
	ups           map[string]*upTrack // publish mid → its track, whose layers start one by one
	offerPending  bool
	pendingOffer  *Offer // the outstanding subscribe offer, once made
	dirty         bool
	iceRestart    bool // the next subscribe offer restarts ICE (the client asked)
	pubCandidates []webrtc.ICECandidateInit
	subCandidates []webrtc.ICECandidateInit
	pubTrickled   int // candidates trickled on each connection, against MaxTrickledCandidates
	subTrickled   int
}

// TrackInfo describes one track of a subscribe offer.
type TrackInfo struct {
	Mid           string
	ParticipantID string
	Source        Source
	Kind          string // "audio" or "video"
}

// Offer is a subscribe offer and the tracks its media sections carry.
type Offer struct {
	SDP    string
	Tracks []TrackInfo
}

// Candidate is a trickled ICE candidate, as browsers give it.
type Candidate struct {
	Candidate        string
	SDPMid           *string
	SDPMLineIndex    *uint16
	UsernameFragment *string
}

func newParticipant(r *Room, id string) (*Participant, error) {
	e := r.engine
	p := &Participant{
		id:        id,
		room:      r,
		joined:    e.now(),
		out:       newSendQueue(e.writers),
		negotiate: make(chan struct{}, 1),
		encReady:  make(chan struct{}, 1),
		sources:   make(map[string]Source),
		downs:     make(map[*upTrack]*downTrack),
		ups:       make(map[string]*upTrack),
		pionRTCP:  !e.readsRTCP(),
	}
	p.out.now = e.now
	if e.own {
		p.own = newOwnSub(e, p)
		var est cc.BandwidthEstimator
		if e.estimate {
			est = newEstimator(time.Now)
		}
		p.startBWE(est)
		e.queues.add(p.out)
		return p, nil
	}
	keys := &dtlsKeys{}
	e.subMu.Lock()
	sub, err := e.newSubscribeConnection(keys)
	est := e.newBWE
	e.newBWE = nil
	e.subMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("sfu: new subscribe connection: %w", err)
	}
	p.sub = sub
	p.startBWE(est)
	e.queues.add(p.out)
	sub.OnConnectionStateChange(p.onSubscribeState) // replay.go
	// A TCP connection's write waits for the peer: such a subscriber gets a writer of
	// its own (writerpool.go).
	iceT := sub.SCTP().Transport().ICETransport()
	iceT.OnSelectedCandidatePairChange(func(pair *webrtc.ICECandidatePair) {
		if pair != nil && pair.Local != nil && pair.Local.Protocol == webrtc.ICEProtocolTCP {
			p.out.dedicate()
		}
		p.setRoute(e.routeFor(iceT, pair))
	})
	sub.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		if s == webrtc.ICEConnectionStateFailed {
			p.consentExpired(iceT)
		}
	})
	// Called by Pion with its DTLS lock held, before it starts its SRTP session:
	// nothing here may call into the connection.
	sub.SCTP().Transport().OnStateChange(func(s webrtc.DTLSTransportState) {
		if s == webrtc.DTLSTransportStateConnected {
			p.startOwnSRTP(keys)
		}
	})
	return p, nil
}

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
	p.srtp.Store(o)
	in, err := newRTCPIn(p, sk, profile)
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
	n, err := b.stream.WriteRTP(h, payload)
	return n, 0, err
}

// Block stops (true) or resumes (false) forwarding everything this participant
// publishes from source, at once and for tracks published later. It is how a
// moderator's mute is enforced: a client cannot get around it.
func (p *Participant) Block(source Source, blocked bool) {
	if i := sourceIndex(source); i >= 0 {
		p.blocked[i].Store(blocked)
	}
}

// Blocked reports whether source is blocked.
func (p *Participant) Blocked(source Source) bool {
	i := sourceIndex(source)
	return i >= 0 && p.blocked[i].Load()
}

func sourceIndex(s Source) int {
	switch s {
	case SourceMicrophone:
		return 0
	case SourceCamera:
		return 1
	case SourceScreen:
		return 2
	}
	return -1
}

// ID is the participant id given to Join.
func (p *Participant) ID() string { return p.id }

// NegotiationNeeded fires when the subscribe connection needs a new offer; call
// NextSubscribeOffer then.
func (p *Participant) NegotiationNeeded() <-chan struct{} { return p.negotiate }

func (p *Participant) signal() {
	select {
	case p.negotiate <- struct{}{}:
	default:
	}
}

// Publish applies the client's offer for the publish connection and returns the answer,
// with all of the server's candidates in it. sources maps each sending mid to its source;
// it must match the offer (checkPublishOffer), and a mid cannot change its source. An
// offer refused with ErrTracks or ErrBadSDP changes nothing.
func (p *Participant) Publish(ctx context.Context, offer string, sources map[string]Source) (string, error) {
	if err := checkPublishOffer(offer, sources); err != nil {
		return "", err
	}
	offer = p.room.engine.cands.filterSDP(offer)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return "", ErrClosed
	}
	prev := p.sources
	merged := make(map[string]Source, len(prev)+len(sources))
	for mid, src := range prev {
		merged[mid] = src
	}
	for mid, src := range sources {
		if old, ok := prev[mid]; ok && old != src {
			p.mu.Unlock()
			return "", fmt.Errorf("%w: track %q was published as %s", ErrTracks, mid, old)
		}
		merged[mid] = src
	}
	pub := p.pub.Load()
	if pub == nil {
		var err error
		keys := &dtlsKeys{}
		if pub, err = p.room.engine.newPublishConnection(keys); err != nil {
			p.mu.Unlock()
			return "", fmt.Errorf("sfu: new publish connection: %w", err)
		}
		pub.OnTrack(p.onTrack)
		p.pub.Store(pub)
		p.room.engine.stats.publishConns.Add(1)
		e := p.room.engine
		p.feedback.Store(newPubFeedback(e.now, e.after, p.writePublishRTCP))
		pub.SCTP().Transport().ICETransport().OnSelectedCandidatePairChange(func(pair *webrtc.ICECandidatePair) {
			p.setPublishRoute(pair)
		})
		// Called with Pion's DTLS lock held: nothing here calls into the connection.
		pub.SCTP().Transport().OnStateChange(func(s webrtc.DTLSTransportState) {
			if s == webrtc.DTLSTransportStateConnected {
				p.startPublishSRTP(keys)
			}
		})
	}
	p.sources = merged
	p.mu.Unlock()

	if err := pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		p.mu.Lock()
		p.sources = prev
		p.mu.Unlock()
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	answer, err := pub.CreateAnswer(nil)
	if err != nil {
		_ = pub.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback})
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	gathered := webrtc.GatheringCompletePromise(pub)
	if err := pub.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	p.flushCandidates(pub, &p.pubCandidates)
	// The answer Pion keeps as its own stays as it made it: the ask is for the browser's
	// encoder only (sdpdtx.go).
	return askForDTX(pub.LocalDescription().SDP), nil
}

// NextSubscribeOffer makes the next subscribe offer, or returns nil when none is needed
// now: nothing changed, or an offer is still waiting for its answer (the change then goes
// into the offer after it).
func (p *Participant) NextSubscribeOffer(ctx context.Context) (*Offer, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if p.offerPending || !p.dirty {
		p.mu.Unlock()
		return nil, nil
	}
	p.offerPending = true
	p.dirty = false
	if p.own != nil {
		restart := p.iceRestart
		p.iceRestart = false
		out, err := p.own.offer(restart)
		if err != nil {
			p.offerPending = false
			p.mu.Unlock()
			return nil, fmt.Errorf("sfu: subscribe offer: %w", err)
		}
		p.pendingOffer = out
		p.mu.Unlock()
		return out, nil
	}
	var opts *webrtc.OfferOptions
	if p.iceRestart {
		opts = &webrtc.OfferOptions{ICERestart: true}
		p.iceRestart = false
	}
	offer, err := p.sub.CreateOffer(opts)
	var gathered <-chan struct{}
	if err == nil {
		gathered = webrtc.GatheringCompletePromise(p.sub)
		err = p.sub.SetLocalDescription(offer)
	}
	if err != nil {
		p.offerPending = false
		p.mu.Unlock()
		return nil, fmt.Errorf("sfu: subscribe offer: %w", err)
	}
	p.mu.Unlock()

	select {
	case <-gathered:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := &Offer{SDP: p.sub.LocalDescription().SDP}
	for _, t := range p.sub.GetTransceivers() {
		s := t.Sender()
		if s == nil || t.Mid() == "" {
			continue
		}
		d, ok := s.Track().(*downTrack)
		if !ok {
			continue
		}
		out.Tracks = append(out.Tracks, TrackInfo{
			Mid:           t.Mid(),
			ParticipantID: d.up.owner.id,
			Source:        d.up.source,
			Kind:          d.up.kind.String(),
		})
	}
	p.mu.Lock()
	p.pendingOffer = out
	p.mu.Unlock()
	return out, nil
}

// RestartSubscribeICE makes the next subscribe offer restart ICE (new credentials), for
// a client whose subscribe connection failed while its signaling still works. The offer
// follows through NegotiationNeeded like any other.
func (p *Participant) RestartSubscribeICE() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.iceRestart = true
	p.dirty = true
	pending := p.offerPending
	p.mu.Unlock()
	if !pending {
		p.signal()
	}
}

// AcceptSubscribeAnswer applies the client's answer to the outstanding subscribe offer.
// A rejected answer leaves the offer outstanding (Pion cannot roll a local offer back),
// so the caller offers it again with PendingSubscribeOffer; changes made meanwhile go
// into the offer after it.
func (p *Participant) AcceptSubscribeAnswer(answer string) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if !p.offerPending {
		p.mu.Unlock()
		return ErrNoOfferPending
	}
	p.mu.Unlock()

	if p.own != nil {
		// An answer the connection refuses leaves the offer outstanding, as Pion's does.
		err := p.own.accept(answer)
		p.answerSettled(err == nil)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadSDP, err)
		}
		p.bweNegotiated(answer)
		return nil
	}
	answer = p.room.engine.cands.filterSDP(answer)
	err := p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer})
	p.answerSettled(err == nil || p.sub.SignalingState() == webrtc.SignalingStateStable)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	p.flushCandidates(p.sub, &p.subCandidates)
	p.bweNegotiated(answer)
	return nil
}

// answerSettled ends the outstanding offer when its answer settled it, and asks for
// the next offer if something changed meanwhile.
func (p *Participant) answerSettled(settled bool) {
	p.mu.Lock()
	if settled {
		p.offerPending = false
		p.pendingOffer = nil
	}
	dirty := p.dirty && !p.offerPending
	p.mu.Unlock()
	if dirty {
		p.signal()
	}
}

// PendingSubscribeOffer returns the outstanding subscribe offer, or nil when there is
// none (or it is still being made). The caller sends it again when the client has not
// answered in time or its answer was refused: the same offer, because Pion cannot roll
// it back; once it is answered, whatever changed since follows in the next offer.
func (p *Participant) PendingSubscribeOffer() *Offer {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || !p.offerPending {
		return nil
	}
	return p.pendingOffer
}

// AddCandidate adds a trickled candidate to the publish (publish=true) or subscribe
// connection. Candidates that arrive before their connection's remote description are
// kept (up to a bound) and applied once it is set. Each connection takes at most
// MaxTrickledCandidates (ErrTooManyCandidates after that); a well-formed candidate the
// server must not use (candidates.go: TCP, a name, an address no peer has) is dropped
// without an error, as browsers trickle such candidates as a matter of course.
func (p *Participant) AddCandidate(publish bool, c Candidate) error {
	parsed, err := ice.UnmarshalCandidate(c.Candidate)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadCandidate, err)
	}
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	buf, count := &p.subCandidates, &p.subTrickled
	if publish {
		buf, count = &p.pubCandidates, &p.pubTrickled
	}
	p.mu.Lock()
	pc := p.sub
	if publish {
		pc = p.pub.Load() // nil before the first publish_offer
	}
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if *count >= MaxTrickledCandidates {
		p.mu.Unlock()
		return ErrTooManyCandidates
	}
	*count++
	if !p.room.engine.cands.ok(parsed) {
		p.mu.Unlock()
		return nil
	}
	if !publish && p.own != nil {
		// The lite agent learns the peer's addresses from the checks it answers; it
		// probes the candidates the peer names (liteprobe.go).
		p.mu.Unlock()
		p.own.addRemote(parsed)
		return nil
	}
	if pc == nil || pc.RemoteDescription() == nil {
		// Kept until the description arrives; the trickle cap above bounds them.
		*buf = append(*buf, init)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	if err := pc.AddICECandidate(init); err != nil {
		return fmt.Errorf("%w: %v", ErrBadCandidate, err)
	}
	return nil
}

func (p *Participant) flushCandidates(pc *webrtc.PeerConnection, buf *[]webrtc.ICECandidateInit) {
	p.mu.Lock()
	pending := *buf
	*buf = nil
	p.mu.Unlock()
	for _, c := range pending {
		_ = pc.AddICECandidate(c)
	}
}

// Close leaves the room: unpublishes this participant's tracks, drops its
// subscriptions, closes both connections and waits for its goroutines.
func (p *Participant) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	downs := p.downs
	p.downs = map[*upTrack]*downTrack{}
	p.mu.Unlock()

	for _, up := range p.room.leave(p) {
		p.room.unpublish(up)
	}
	for up, d := range downs {
		up.removeSub(d)
	}
	p.stopBWE()
	p.closePeers()
	p.dropRoute()
	p.stopReaders()
	p.out.close()
	p.room.engine.queues.remove(p.out)
}

// discardRefused undoes newParticipant for a participant the room refused: its connections,
// its estimator's ticks and its send queue, which newParticipant registered with the
// engine (left there, each refused join kept a queue and its rings for the engine's
// life).
func (p *Participant) discardRefused() {
	p.stopBWE()
	p.closePeers()
	p.out.close()
	p.room.engine.queues.remove(p.out)
}

func (p *Participant) closePeers() {
	if f := p.feedback.Load(); f != nil {
		f.close()
	}
	if pub := p.pub.Load(); pub != nil { // counted down once: only Close gets here after an offer
		_ = pub.Close()
		p.room.engine.stats.publishConns.Add(-1)
	}
	if p.own != nil {
		p.own.close()
		return
	}
	_ = p.sub.Close()
}

// onTrack runs on a Pion goroutine when a published track's first packet arrives.
func (p *Participant) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	mid := ""
	for _, t := range p.pub.Load().GetTransceivers() { // the connection that calls
		if t.Receiver() == recv {
			mid = t.Mid()
			break
		}
	}
	index, ridOK := layerIndex(remote.RID())
	p.mu.Lock()
	src, ok := p.sources[mid]
	closed := p.closed
	if !closed {
		p.wg.Add(2)
		p.readers = append(p.readers, trackReader{remote: remote, recv: recv})
	}
	p.mu.Unlock()
	if closed {
		return
	}
	if !ok || !ridOK || kindOf(src) != remote.Kind().String() || (remote.RID() != "" && src != SourceCamera) {
		// The offer checks make this unreachable for a well-behaved client; a track that
		// slips past them anyway is read and thrown away, never forwarded.
		p.room.engine.log.Debug("sfu: unlabelled track discarded", "kind", remote.Kind().String())
		p.discardTrack(remote, recv)
		return
	}
	// The layers of a simulcast track arrive as tracks of their own, one by one: the
	// first makes the track, the others join it.
	p.mu.Lock()
	up := p.ups[mid]
	isNew := up == nil || up.ended()
	if isNew {
		up = &upTrack{
			id:     fmt.Sprintf("%s-%s", src, mid),
			owner:  p,
			source: src,
			kind:   remote.Kind(),
			codec:  remote.Codec().RTPCodecCapability,
			// src is always a known source here, so its index is valid.
			blocked: &p.blocked[sourceIndex(src)],
			tap:     p.room.engine.tap,
			stats:   &p.room.engine.stats,
			clock:   p.room.engine.now,
			after:   p.room.engine.after,
		}
		up.enc.init(p, up)
		p.ups[mid] = up
	}
	p.mu.Unlock()
	l := &layer{index: uint8(index), rid: remote.RID(), remote: remote, deadline: remote}
	if remote.Kind() == webrtc.RTPCodecTypeAudio {
		l.slab.chunk = audioSlabBytes
	}
	if f := p.feedback.Load(); f != nil {
		l.feedback = f
		l.rr = f.addStream(uint32(remote.SSRC()), remote.Codec().ClockRate)
		l.twccID = headerExtensionID(recv, sdp.TransportCCURI)
	}
	if src == SourceMicrophone {
		l.level = p.levelReader(recv)
	}
	if !up.addLayer(l) {
		p.room.speakers.release(l.level)
		p.discardTrack(remote, recv)
		return
	}
	// Sender reports from the publisher feed our receiver reports and are forwarded
	// to subscribers for lip sync.
	rid := remote.RID()
	go func() {
		defer p.wg.Done()
		l.readPublisherRTCP(func(b []byte) (int, error) {
			if rid != "" {
				n, _, err := recv.ReadSimulcast(b, rid)
				return n, err
			}
			n, _, err := recv.Read(b)
			return n, err
		})
	}()
	go func() {
		defer p.wg.Done()
		defer p.room.speakers.release(l.level)
		if isNew && !p.room.publish(up) {
			up.layerEnded()
			return
		}
		l.run()
	}()
}

// levelReader is speaker detection's part of a microphone track, or nil when the audio
// level extension was not negotiated (speaker detection off) or the room is closed.
func (p *Participant) levelReader(recv *webrtc.RTPReceiver) *levelReader {
	id := headerExtensionID(recv, sdp.AudioLevelURI)
	if id == 0 {
		return nil
	}
	if m := p.room.speakers.attach(p.id); m != nil {
		return &levelReader{id: id, meter: m}
	}
	return nil
}

// headerExtensionID is the id the receiver's stream carries the header extension uri
// under, 0 when it was not negotiated.
func headerExtensionID(recv *webrtc.RTPReceiver, uri string) uint8 {
	for _, ext := range recv.GetParameters().HeaderExtensions {
		if ext.URI == uri && ext.ID >= 1 && ext.ID <= 255 {
			return uint8(ext.ID)
		}
	}
	return 0
}

// discardTrack reads a track nobody gets until it ends; it takes the two counts of p.wg
// that onTrack added.
func (p *Participant) discardTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	rid := remote.RID()
	go p.discard(func(b []byte) error {
		if rid != "" {
			_, _, err := recv.ReadSimulcast(b, rid)
			return err
		}
		_, _, err := recv.Read(b)
		return err
	})
	go p.discard(func(b []byte) error { _, _, err := remote.Read(b); return err })
}

// discard reads with read until it fails; it holds one count of p.wg.
func (p *Participant) discard(read func([]byte) error) {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	for read(buf) == nil {
	}
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

// subscribe starts sending up to p.
func (p *Participant) subscribe(up *upTrack) {
	p.mu.Lock()
	// Join and publish both subscribe, each from its own snapshot of the room: someone
	// who joins while a track is published may be subscribed to it by both. A second
	// subscription would take p.downs[up] from the first, which would go on being sent
	// to, beyond the reach of the view and the allocation.
	if _, ok := p.downs[up]; p.closed || ok {
		p.mu.Unlock()
		return
	}
	d := newDownTrack(up, p)
	if p.own != nil {
		p.own.addTrack(d)
	} else {
		sender, err := p.sub.AddTrack(d)
		if err != nil {
			p.mu.Unlock()
			p.room.engine.log.Debug("subscribe failed", "err", err)
			return
		}
		d.sender = sender
	}
	p.downs[up] = d
	p.dirty = true
	pionRTCP := p.pionRTCP
	if pionRTCP {
		p.wg.Add(1)
	}
	p.mu.Unlock()

	if pionRTCP {
		go p.readRTCP(d)
	}
	if !up.addSub(d) {
		p.unsubscribe(up)
		return
	}
	p.signal()
}

// unsubscribe stops sending up to p.
func (p *Participant) unsubscribe(up *upTrack) {
	p.mu.Lock()
	d := p.downs[up]
	delete(p.downs, up)
	if d == nil || p.closed {
		p.mu.Unlock()
		return
	}
	if p.own != nil {
		p.own.removeTrack(d)
	} else {
		_ = p.sub.RemoveTrack(d.sender)
	}
	p.dirty = true
	p.mu.Unlock()
	up.removeSub(d)
	p.signal()
}
