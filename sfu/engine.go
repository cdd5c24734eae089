// Package sfu is Conclave's selective forwarding unit: it terminates the browsers' peer
// connections and forwards RTP between them without touching payload bytes, so it works
// with end-to-end encrypted frames it cannot read. It is the only server package that
// imports Pion.
//
// Every participant has two peer connections: a publish connection (the client offers, we
// answer) and a subscribe connection (we offer, the client answers). The packets of each
// incoming stream are received one at a time (in the media socket's reader, rtpin.go, or
// by the stream's Pion reader) and fanned out to a copy-on-write list of subscriptions;
// each subscriber has bounded queues, drained by one writer goroutine per core
// (writerpool.go), so a slow subscriber only ever loses its own packets.
package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"conclave/connlimit"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/logging"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// Engine owns the media sockets and the Pion APIs shared by all rooms.
type Engine struct {
	log    *slog.Logger
	now    func() time.Time
	after  func(time.Duration, func()) func() bool
	tap    func(TapPacket)
	levels bool // Config.SpeakerDetection
	// given is Config.AfterFunc as given, nil for the system's timers: a timer that
	// is set again and again (resetTimer) is then one time.Timer for its life.
	given func(time.Duration, func()) func() bool
	// A publish connection's API is made for it too (newPublishConnection), for its
	// keys (rtpin.go).
	pubSettings webrtc.SettingEngine
	pubMedia    *webrtc.MediaEngine
	pubReg      *interceptor.Registry
	// A subscribe connection's API is made for it (newSubscribeConnection), with these
	// parts, so its DTLS handshake can be watched for its SRTP keys (dtlskeys.go).
	subSettings webrtc.SettingEngine
	subMedia    *webrtc.MediaEngine
	subReg      *interceptor.Registry
	cands       candidateFilter
	udpConn     net.PacketConn
	udpMux      ice.UDPMux
	subRTCP     rtcpRoutes  // subscribers' SRTCP read in the media socket's reader (rtcpin.go)
	pubRTP      rtpRoutes   // publishers' SRTP read there too (rtpin.go)
	pubTCP      rtpRoutes   // and over ICE-TCP by the connection's reader (pubTCPConn)
	relays      localRelays // relay sockets of this machine, sent to in memory (localrelay.go)
	certs       certificates
	tcpLn       net.Listener
	tcpMux      ice.TCPMux
	tcpLimits   *connlimit.Limits
	tcpWait     time.Duration // a new ICE-TCP connection's time to pass a check (litetcp.go)
	stats       counters      // monitoring (stats.go)
	queues      queueStats    // what subscribers were sent, counted by their writers
	writers     *writerPool   // drain the subscribers' queues (writerpool.go)

	// subMu serialises making subscribe connections, so the bandwidth estimator the
	// congestion control makes inside NewPeerConnection (newBWE, set by its callback
	// on the same goroutine) is known to be that connection's (bwe.go).
	subMu  sync.Mutex
	newBWE cc.BandwidthEstimator

	// The subscribe connections the server runs itself (ownsub.go), when own: their
	// ICE-lite agents, the server's UDP host candidates (gathered once, as Pion's
	// agents would), the consent sweep and its timeout.
	own            bool
	estimate       bool // !Config.NoBandwidthEstimation
	lites          liteAgents
	probes         probeBudget // of probes to addresses that never answered (probebudget.go)
	pubUfrags      pubUfrags   // the publish connections' ICE ufrags, for ICE-TCP (pubufrags.go)
	pionLogs       logging.LoggerFactory
	candsOnce      sync.Once
	liteCands      []string
	liteCandsErr   error
	consentTimeout time.Duration
	sweepMu        sync.Mutex
	sweepStop      func() bool // the next sweep's; nil while none is to come (no agent)
	sweepDone      bool
	closeOnce      sync.Once // Close's work is done once; a second Close returns its error
	closeErr       error
}

// untilNext is the wait from now to the next multiple of every on the clock. The
// engine's periodic work (publishers' feedback, tracks' liveness, subscribers'
// bandwidth) is due at such instants, so a server with many connections wakes once a
// tick for all of them (and what they send leaves in one batch), not once for each.
func untilNext(now time.Time, every time.Duration) time.Duration {
	return every - time.Duration(now.UnixNano()%int64(every))
}

// keyframeInterval is the minimum time between two keyframe requests sent to one
// publisher track, however many subscribers ask.
const keyframeInterval = 500 * time.Millisecond

// NewEngine opens the media sockets. Close releases them.
func NewEngine(cfg Config) (*Engine, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// The kernel's receive times are on the wall clock: the reader moves them onto
	// the engine's clock, which for a test's clock means nothing (they are not used).
	kernelTimes := cfg.Now == nil
	if cfg.Now == nil {
		cfg.Now = steadyClock()
	}
	given := cfg.AfterFunc
	if cfg.AfterFunc == nil {
		cfg.AfterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	e := &Engine{log: cfg.Logger, now: cfg.Now, after: cfg.AfterFunc, given: given, tap: cfg.Tap, levels: cfg.SpeakerDetection, cands: candidateFilter{allowLoopback: cfg.Loopback}}
	e.certs.now = cfg.Now

	listen := net.ListenPacket
	if cfg.Net != nil {
		listen = cfg.Net.ListenPacket
	}
	udpConn, err := listen("udp", cfg.UDPAddr)
	if err != nil {
		return nil, fmt.Errorf("sfu: listen media UDP %s: %w", cfg.UDPAddr, err)
	}
	if uc, ok := udpConn.(*net.UDPConn); ok {
		// batchconn.go; a simulated network's socket is used as it is, and so is a
		// socket the batching cannot use (it says why at debug level).
		if bc, err := newBatchConn(uc); err == nil {
			bc.taker = mediaTaker{sub: &e.subRTCP, pub: &e.pubRTP, lites: &e.lites} // before the UDP mux starts reading
			bc.relays = &e.relays
			e.own = !cfg.pionSubscribe
			if kernelTimes {
				if err := bc.reader.stampReceipts(cfg.Now); err != nil {
					cfg.Logger.Debug("forwarding delays start at the read", "err", err)
				}
			}
			udpConn = bc
		} else {
			cfg.Logger.Debug("media socket writes not batched", "err", err)
		}
	}
	e.udpConn = udpConn
	loggerFactory := newPionLoggerFactory(cfg.Logger)
	e.pionLogs = loggerFactory
	e.udpMux = webrtc.NewICEUDPMux(loggerFactory.NewLogger("udpmux"), udpConn)
	timers := cfg.iceTimeouts
	if timers == (iceTimeouts{}) {
		timers = iceTimeouts{disconnected: 5 * time.Second, failed: 20 * time.Second, keepalive: 2 * time.Second}
	}
	if cfg.TCPAddr != "" {
		ln, err := net.Listen("tcp", cfg.TCPAddr)
		if err != nil {
			_ = e.udpMux.Close()
			return nil, fmt.Errorf("sfu: listen ICE-TCP %s: %w", cfg.TCPAddr, err)
		}
		e.tcpLn = ln
		e.tcpLimits = newTCPLimits(cfg.MaxTCPConns, cfg.MaxTCPConnsPerAddr)
		e.tcpWait = tcpCheckWait
		if cfg.tcpCheckWait > 0 {
			e.tcpWait = cfg.tcpCheckWait
		}
		ln = e.tcpLimits.Listener(ln)
		var muxLn net.Listener = ln
		if e.own {
			// The lite agents' connections are sorted out first (litetcp.go).
			h := newTCPHandoff(ln)
			muxLn = h
			go e.acceptTCP(ln, h)
		}
		// webrtc.NewICETCPMux's parameters, but for how long the mux keeps a connection
		// it made itself for a check naming a ufrag no agent holds (30 s by default):
		// an agent takes its connection from the mux when it gathers, before the answer
		// tells the peer its ufrag, so a genuine peer's checks find that connection and
		// never make one. The mux makes one only for a check that comes as the agent
		// lets go of its ufrag (a publisher closing while its first check is handed
		// over, pubufrags.go), and no agent will ever take that: it need not outlive
		// the agent's own disconnect timeout.
		e.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{
			Listener:                     muxLn,
			Logger:                       loggerFactory.NewLogger("tcpmux"),
			ReadBufferSize:               32,
			WriteBufferSize:              4 * 1024 * 1024,
			AliveDurationForConnFromStun: timers.disconnected,
		})
	}

	settings := webrtc.SettingEngine{LoggerFactory: loggerFactory}
	// One view of the machine's interfaces for every ICE agent: without it each
	// connection's agent lists them itself (a netlink dump per join) and keeps its
	// own copy for as long as it lives. The agents only read it (the server does
	// not gather again when interfaces change: its media socket is bound once).
	agentNet := cfg.Net
	if agentNet == nil {
		if agentNet, err = stdnet.NewNet(); err != nil {
			_ = e.Close()
			return nil, fmt.Errorf("sfu: list network interfaces: %w", err)
		}
	}
	settings.SetNet(agentNet)
	settings.SetICEUDPMux(e.udpMux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if e.tcpMux != nil {
		settings.SetICETCPMux(e.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	settings.SetNetworkTypes(networks)
	// The server never opens a connection to an address a client names: ICE-TCP is
	// passive only (clients connect to TCPAddr), and remote addresses are filtered
	// (candidates.go).
	settings.DisableActiveTCP(true)
	settings.SetRemoteIPFilter(e.cands.remoteIPFilter)
	settings.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	settings.SetICETimeouts(timers.disconnected, timers.failed, timers.keepalive)
	e.consentTimeout = timers.disconnected + timers.failed
	if cfg.liteConsent > 0 {
		e.consentTimeout = cfg.liteConsent
	}
	e.estimate = !cfg.NoBandwidthEstimation
	e.lites.send, e.lites.now, e.lites.allow, e.lites.consent = e.writeTo, cfg.Now, e.cands.ipOK, e.consentTimeout
	if len(cfg.PublicIPs) > 0 {
		settings.SetNAT1To1IPs(cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	if cfg.Loopback {
		settings.SetIncludeLoopbackCandidate(true)
		if ip := listenIP(udpConn.LocalAddr()); ip != nil && ip.IsLoopback() {
			settings.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		}
	}

	e.pubSettings = settings
	if e.pubMedia, e.pubReg, err = newPublishParts(cfg.SpeakerDetection); err != nil {
		_ = e.Close()
		return nil, err
	}
	e.subSettings = settings
	if e.subMedia, e.subReg, err = newSubscribeParts(!cfg.NoBandwidthEstimation, func(_ string, est cc.BandwidthEstimator) { e.newBWE = est }); err != nil {
		_ = e.Close()
		return nil, err
	}
	e.writers = newWriterPool(0, e.newWriterBatch)
	return e, nil
}

func listenIP(a net.Addr) net.IP {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.IP
	}
	return nil
}

// SpeakerDetection reports whether the engine tells who speaks (Config.SpeakerDetection).
func (e *Engine) SpeakerDetection() bool { return e.levels }

// UDPAddr is the bound media UDP address.
func (e *Engine) UDPAddr() net.Addr { return e.udpConn.LocalAddr() }

// TCPAddr is the bound ICE-TCP address, or nil when ICE-TCP is off.
func (e *Engine) TCPAddr() net.Addr {
	if e.tcpLn == nil {
		return nil
	}
	return e.tcpLn.Addr()
}

// Close closes the media sockets. Rooms must be closed first. Closing again returns
// the first Close's error and does nothing: the writer pool's channels close once, and
// a shutdown path that closes on an error and again on its way out must not panic.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() { e.closeErr = e.close() })
	return e.closeErr
}

func (e *Engine) close() error {
	var errs []error
	e.sweepMu.Lock()
	e.sweepDone = true
	if e.sweepStop != nil {
		e.sweepStop()
	}
	e.sweepMu.Unlock()
	e.lites.closeAll()
	if e.writers != nil {
		e.writers.close()
	}
	if e.udpMux != nil {
		errs = append(errs, e.udpMux.Close())
	}
	if e.tcpMux != nil {
		errs = append(errs, e.tcpMux.Close())
	}
	if e.tcpLn != nil {
		_ = e.tcpLn.Close() // already closed by the mux
	}
	return errors.Join(errs...)
}
