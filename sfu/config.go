package sfu

import (
	"log/slog"
	"time"

	"github.com/pion/transport/v5"
)

// Config says where media flows. The zero value is not useful: UDPAddr is required.
type Config struct {
	// UDPAddr is the one UDP address all media uses (ICE UDP mux), e.g. ":10000".
	UDPAddr string
	// TCPAddr is the ICE-TCP fallback address, e.g. ":10000"; empty disables ICE-TCP.
	TCPAddr string
	// MaxTCPConns bounds the ICE-TCP connections held at once (default
	// DefaultMaxTCPConns), MaxTCPConnsPerAddr those from one IPv4 address or IPv6 /64
	// (default DefaultMaxTCPConnsPerAddr, and connlimit's 16 times that from the /64s of
	// one IPv6 /48); a connection beyond either is closed at once (tcplimit.go).
	MaxTCPConns, MaxTCPConnsPerAddr int
	// PublicIPs are announced instead of the interface addresses (1:1 NAT, e.g. a cloud VM).
	PublicIPs []string
	// Loopback makes the server offer loopback candidates and only those when the listen
	// address is a loopback address (tests, single-machine use).
	Loopback bool
	// Logger receives the SFU's own logs and, at debug level, Pion's.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AfterFunc runs f once d has passed on the clock, and returns a stop function
	// that reports whether it stopped f before it ran; nil means time.AfterFunc. It
	// times the encodings a publisher may stop (encodings.go).
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// SpeakerDetection negotiates the audio level header extension (RFC 6464) on publish
	// connections and tells who speaks from it (speakers.go, Room.Speakers). Off, the
	// extension is not negotiated, browsers do not send it, and the server cannot tell
	// who speaks.
	SpeakerDetection bool
	// NoBandwidthEstimation turns the subscribers' bandwidth estimation off: the
	// subscribe connection offers no transport-wide congestion control, and every
	// subscriber gets the layers its tiles call for whatever its link carries (bwe.go).
	// For tests whose subject is not the link, whose verdict must not depend on how
	// the machine's load delays packets.
	NoBandwidthEstimation bool
	// Net, when set, is the network the media sockets and connections use instead of
	// the operating system's: tests put the engine on Pion's virtual network (vnet) to
	// give subscribers slow links.
	Net transport.Net
	// Tap, when set, sees every packet a publisher sends, before forwarding (tests use
	// it to prove that the server only ever sees encrypted frames). It runs where the
	// stream's packets are received (layer.receive) and must not keep Payload.
	Tap func(TapPacket)

	// iceTimeouts, when set, replace the ICE agents' timers: tests shorten them to see
	// a silent peer's consent expire.
	iceTimeouts iceTimeouts
	// liteConsent, when set, replaces the consent time of the subscribe connections
	// the engine runs itself (disconnected+failed of the ICE timers): tests keep it
	// short on the engine's clock, which they move, while Pion's agents, on the
	// system's clock, get timers no pause of a loaded machine outlasts.
	liteConsent time.Duration
	// tcpCheckWait, when set, replaces tcpCheckWait (litetcp.go): tests shorten it to
	// see a connection whose checks fail closed, and lengthen it to hold connections.
	tcpCheckWait time.Duration
	// pionSubscribe runs the subscribe connections on Pion's PeerConnection, as
	// before ownsub.go, for the tests of that path; without it the engine runs them
	// itself wherever the media socket's reader can serve them (an operating system's
	// socket; a simulated network's is left to Pion).
	pionSubscribe bool
}

// iceTimeouts are an ICE agent's timers (webrtc.SettingEngine.SetICETimeouts).
type iceTimeouts struct{ disconnected, failed, keepalive time.Duration }

// TapPacket is one received RTP packet as Config.Tap sees it.
type TapPacket struct {
	ParticipantID  string
	Source         Source
	RID            string // the simulcast layer ("" for a single-layer track)
	SequenceNumber uint16
	Timestamp      uint32
	Marker         bool
	Payload        []byte
}
