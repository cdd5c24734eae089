package sfu

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor/pkg/cc"
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
	srtp atomic.Pointer[srtpOut]
	// pion is what Pion's path keeps for its index check (no srtp: a subscribe
	// connection of Pion's, before its handshake or for good when the handshake's
	// keys were not seen; writeRTP), made at its first packet there. Only the
	// subscriber's writer touches it.
	pion      *pionPath
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
	// indexed are the SSRCs a layer was ever read under (guarded by ssrcMu): a stranger
	// among them gives up its place (rtpIn.admit).
	indexed map[uint32]struct{}
	wg      sync.WaitGroup
	// readers are the published tracks whose reading goroutines wg counts (guarded by
	// mu): Close puts their reads past a deadline (readers.go).
	readers []trackReader
	// stopping is set by stopReaders before it puts the reads past a deadline: a tail
	// watch's timer that fires then probes nothing (tailloss.go).
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
	pubTrickled   int    // candidates trickled on each connection, against MaxTrickledCandidates
	pubUfrag      string // the publish connection's local ICE ufrag, in the engine's pubUfrags
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

// AddCandidate adds a trickled candidate to the publish (publish=true) or subscribe
// connection. Candidates that arrive before their connection's remote description are
// kept (up to a bound) and applied once it is set. Each connection takes at most
// MaxTrickledCandidates (ErrTooManyCandidates after that); a well-formed candidate the
// server must not use (candidates.go: TCP, a name, an address no peer has) is dropped
// without an error, as browsers trickle such candidates as a matter of course. Once the
// participant is closed it returns ErrClosed.
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
		p.own.addRemote(parsed, true)
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
		p.mu.Lock()
		closed := p.closed
		p.mu.Unlock()
		if closed {
			// Closed after the check above: the connection refused the candidate for
			// that (its ICE agent gone), not for the candidate.
			return ErrClosed
		}
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
	p.dropPublishUfrag()
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
