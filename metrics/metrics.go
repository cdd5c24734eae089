// Package metrics serves /healthz and Prometheus metrics for an operator, on a listener
// of its own (cmd/conclave binds it to localhost). It reads snapshots at scrape time
// through functions the caller wires, so it imports none of Conclave's packages and the
// packet path pays nothing for it beyond the counters the SFU keeps anyway.
//
// No metric has a label that could name a person, a meeting or an address: labels are
// only fixed values of collector.go (state, kind, reason, listener, rid, result).
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is the signaling server's state and counters (signaling.Stats).
type Server struct {
	Meetings, Participants, Waiting, Websockets                int
	RefusedServerFull, RefusedAddressFull, RefusedShuttingDown uint64
	WrongPasswords, WrongModeratorSecrets, WrongHostKeys       uint64
	GuessesThrottled                                           uint64
	// Resumes that waited: their membership had resumed too often lately.
	ResumesDelayed uint64
	// Knocks refused: their address knocked too often.
	KnocksLimited uint64
	// Connections to the web port closed at accept by its bounds (cmd/conclave).
	WebConnsRefused uint64
	// Accepts on the web port that failed for want of descriptors or memory and were
	// tried again after a wait (connlimit).
	WebAcceptFailed uint64
	// HTTP/2 requests answered 503 at once by the web port's bounds (cmd/conclave).
	H2RequestsRefused uint64
}

// Media is the SFU's state and counters (sfu.Stats).
type Media struct {
	TracksPublished                                int64
	PublishConnections                             int64 // open now (sfu.Stats)
	PacketsForwarded, BytesForwarded               uint64
	PacketsDropped                                 uint64
	NACKsReceived, NACKsAnswered, Retransmissions  uint64
	KeyframeRequestsReceived, KeyframeRequestsSent uint64
	// Why keyframe requests received were not sent on (sfu.Stats).
	KeyframeRequestsRepaired, KeyframeRequestsLimited, KeyframeRequestsCoalesced uint64
	KeyframesReplayed                                                            uint64 // new subscriptions started from the cache (sfu.Stats)
	RetransmissionsDropped, PacketsIndexRefused, PacketsBeyondTrackIDs           uint64
	PacketsOverAudioRate                                                         uint64 // audio beyond what Opus can be (sfu.Stats)
	PacketsUnnegotiatedType                                                      uint64 // under a payload type the stream did not negotiate (sfu.Stats)
	PaddingUnforwarded                                                           uint64 // video padding no subscription was told of (sfu.Stats)
	NACKsSent, NACKedPackets, NACKsGivenUp                                       uint64
	SenderReports, SenderReportsLimited                                          uint64
	// Simulcast: layer switches, and subscriptions sending each layer now.
	LayerSwitches                               uint64
	SendingLayerQ, SendingLayerH, SendingLayerF int64
	// Subscriptions moved off a layer that stopped arriving, and back up when a
	// better one came back (sfu.Stats).
	LayersLost, LayersBack uint64
	// Simulcast layers judged undecodable while they went on arriving (no keyframe
	// of them whole), and those judgements ended (sfu.Stats).
	LayersUndecodable, LayersDecodable uint64
	// Subscribers whose estimated bandwidth does not cover the video they show.
	SubscribersLimited int64
	// UDP segmentation of the media socket's writes, and RTP packets for subscribers
	// whose candidate pair was not known yet (sfu.Stats).
	DatagramsSegmented, SegmentationRefused, PacketsWithoutRoute uint64
	// Subscribers' SRTCP read by the server in its media socket's reader, and what
	// came from a subscriber's address but failed to decrypt or parse (sfu.Stats).
	SubscriberRTCPRead, SubscriberRTCPRefused uint64
	// Publishers' SRTP read there, what failed to decrypt, and what came under a
	// made-up SSRC: beyond a connection's bound of streams without a layer, or moving
	// a layer to a new SSRC (sfu.Stats).
	PublisherRTPRead, PublisherRTPRefused, PublisherRTPStrangers uint64
	// Datagrams for TURN-relayed subscribers handed to the embedded TURN server's
	// relays in memory (sfu.Stats).
	DatagramsToRelays uint64
	// DatagramsFromRelays counts what those relays handed to the SFU in memory:
	// relayed publishers' SRTP and relayed subscribers' SRTCP.
	DatagramsFromRelays uint64
	// ICE-TCP connections closed at accept: the server's or their address's bound
	// was reached (sfu.Stats).
	ICETCPRefused uint64
	// Accepts on the ICE-TCP port that failed for want of descriptors or memory
	// (sfu.Stats).
	ICETCPAcceptFailed uint64
	// ICE-TCP connections closed after a first frame that was no check for any of the
	// server's connections (sfu.Stats).
	ICETCPStrangers uint64
	// The ICE-lite agents of the subscribe connections the server runs itself:
	// checks answered and dropped, the server's own requests sent, the answers that
	// held and those whose integrity failed, the requests the budget of requests to
	// addresses that never answered held back, and selected paths whose consent
	// expired; the probes of the candidates peers named, sent and held back by the
	// budget of probes to a destination that never answered; the DTLS records that
	// came before the answer to the server's request, held for it, given at it, and
	// kept out by the hold's bounds, and the requests whose address the hold had no
	// room for (sfu.Stats).
	ICEChecksAnswered, ICEChecksRefused                                      uint64
	ICERequestsSent, ICERequestsAnswered, ICEAnswersRefused, ICERequestsHeld uint64
	ICEConsentLost                                                           uint64
	ICEProbesSent, ICEProbesHeld                                             uint64
	DTLSEarlyHeld, DTLSEarlyGiven, DTLSEarlyRefused, DTLSHoldFull            uint64
	// How long the server held the packets it forwarded (sfu.Stats.ForwardDelay).
	ForwardDelay Histogram
}

// Histogram is a distribution as Prometheus exports it: each bucket's upper bound (in
// seconds) with the number of observations at or below it, and the number and sum of
// all observations.
type Histogram struct {
	Buckets map[float64]uint64
	Count   uint64
	Sum     float64
}

// TURN is the embedded TURN server, when there is one.
type TURN interface {
	// Allocations is the number of relay allocations open now.
	Allocations() int
	// TCPRefused is the number of TCP and TLS connections closed at accept by the
	// listeners' bounds.
	TCPRefused() uint64
	// TCPAcceptFailed is the number of accepts on its TCP and TLS listeners that
	// failed for want of descriptors or memory.
	TCPAcceptFailed() uint64
	// DirectWrites is the number of packets the relays wrote to their clients
	// themselves (the rest pass the TURN library's relay loop).
	DirectWrites() uint64
	// UnauthenticatedAnswersDropped is the number of answers to requests over UDP
	// that were not authenticated (401s mostly) left unsent by the bounds on them.
	UnauthenticatedAnswersDropped() uint64
	// UplinkServed is the number of ChannelData messages and of Send indications
	// from clients to the SFU that the listeners relayed themselves (the rest pass
	// the TURN library's reader).
	UplinkServed() (channelData, sends uint64)
}

// Sources are what a scrape reads. Server and Media are required; TURN is optional
// (without it conclave_turn_allocations is not exported).
type Sources struct {
	Server func() Server
	Media  func() Media
	TURN   TURN
}

// Health says whether the server is serving; false makes /healthz answer 503.
type Health func() bool

// Handler serves GET /metrics (Prometheus text format) and GET /healthz ("ok", or 503
// "shutting down" once healthy reports false). It has a registry of its own: Conclave's
// collector and the Go runtime and process collectors.
func Handler(src Sources, healthy Health) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !healthy() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("shutting down\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
