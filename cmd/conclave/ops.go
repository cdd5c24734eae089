package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"conclave/connlimit"
	"conclave/metrics"
	"conclave/sfu"
	"conclave/signaling"
	"conclave/turn"
)

// opsServer is the operator's listener: /metrics and /healthz, never on the public one.
type opsServer struct {
	ln  net.Listener
	srv *http.Server
}

// startMetrics listens on addr ("" or "off" mean no metrics listener: nil, nil; "off"
// because an empty environment variable means "unset"). It serves only requests whose
// Host is an IP address, localhost (or a name under .localhost), one of names (the
// -server-name names) or the name in addr: a page whose name was re-pointed at
// 127.0.0.1 (DNS rebinding) read the metrics from the browser of someone on the
// server's machine, as it could the web port before its own check (hostcheck.go).
func startMetrics(addr string, names []string, log *slog.Logger, engine *sfu.Engine, sig *signaling.Server, web, h2Requests *connlimit.Limits, turnSrv *turn.Server, healthy metrics.Health) (*opsServer, error) {
	if addr == "" || addr == "off" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		log.Warn("metrics and /healthz listen on a non-loopback address: keep the port closed to the public")
	}
	src := metricSources(engine, sig, web, h2Requests)
	if turnSrv != nil { // never a typed nil in the interface: no TURN, no gauge
		src.TURN = turnAllocations{turnSrv}
	}
	h := metricsHosts(addr, names).wrap(metrics.Handler(src, healthy))
	return &opsServer{ln: ln, srv: newHTTPServer(h, slog.NewLogLogger(log.Handler(), slog.LevelDebug), httpIdleWait)}, nil
}

// metricsHosts is the Host check of the metrics listener at addr: IP addresses,
// localhost, names, and a name in addr.
func metricsHosts(addr string, names []string) *hostPolicy {
	p := &hostPolicy{enforce: true, names: map[string]bool{}}
	for _, n := range names {
		p.names[n] = true
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if name, isIP, ok := hostOf(host); ok && !isIP && !isLocalhost(name) {
			p.names[name] = true
		}
	}
	return p
}

// serve serves until Shutdown; a shutdown is not an error.
func (o *opsServer) serve() error {
	if err := o.srv.Serve(o.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics listener: %w", err)
	}
	return nil
}

// turnAllocations adapts the TURN server to the metrics package's TURN source.
type turnAllocations struct{ srv *turn.Server }

func (t turnAllocations) Allocations() int        { return t.srv.AllocationCount() }
func (t turnAllocations) TCPRefused() uint64      { return t.srv.TCPRefused() }
func (t turnAllocations) TCPAcceptFailed() uint64 { return t.srv.TCPAcceptFailed() }
func (t turnAllocations) DirectWrites() uint64    { return t.srv.DirectWrites() }
func (t turnAllocations) UnauthenticatedAnswersDropped() uint64 {
	return t.srv.UnauthenticatedAnswersDropped()
}
func (t turnAllocations) UplinkServed() (channelData, sends uint64) { return t.srv.UplinkServed() }

// metricSources copies the snapshots of signaling and the SFU into the metrics
// package's types, so that metrics imports neither. An embedded TURN server reports its
// allocations through Sources.TURN, set by startMetrics.
func metricSources(engine *sfu.Engine, sig *signaling.Server, web, h2Requests *connlimit.Limits) metrics.Sources {
	return metrics.Sources{
		Server: func() metrics.Server { return serverMetrics(sig.Stats(), web, h2Requests) },
		Media:  func() metrics.Media { return mediaMetrics(engine.Stats()) },
	}
}

// serverMetrics is signaling's snapshot s, with the web port's refusals (of connections,
// web, and of HTTP/2's requests in flight, h2Requests), as the metrics package takes
// it. Every number of signaling.Stats must be carried
// (TestEveryStatsNumberReachesTheMetrics).
func serverMetrics(s signaling.Stats, web, h2Requests *connlimit.Limits) metrics.Server {
	return metrics.Server{
		Meetings: s.Meetings, Participants: s.Participants, Waiting: s.Waiting, Websockets: s.Websockets,
		RefusedServerFull: s.RefusedServerFull, RefusedAddressFull: s.RefusedAddressFull, RefusedShuttingDown: s.RefusedShuttingDown,
		WrongPasswords: s.WrongPasswords, WrongModeratorSecrets: s.WrongModeratorSecrets, WrongHostKeys: s.WrongHostKeys,
		GuessesThrottled: s.GuessesThrottled, ResumesDelayed: s.ResumesDelayed, KnocksLimited: s.KnocksLimited, WebConnsRefused: web.Refused(), WebAcceptFailed: web.AcceptFailed(),
		H2RequestsRefused: h2Requests.Refused(),
	}
}

// mediaMetrics is the SFU's snapshot m as the metrics package takes it. Every number
// of sfu.Stats must be carried (TestEveryStatsNumberReachesTheMetrics).
func mediaMetrics(m sfu.Stats) metrics.Media {
	return metrics.Media{
		TracksPublished:           m.TracksPublished,
		PublishConnections:        m.PublishConnections,
		PacketsForwarded:          m.PacketsForwarded,
		BytesForwarded:            m.BytesForwarded,
		PacketsDropped:            m.PacketsDropped,
		NACKsReceived:             m.NACKsReceived,
		NACKsAnswered:             m.NACKsAnswered,
		Retransmissions:           m.Retransmissions,
		KeyframeRequestsReceived:  m.KeyframeRequestsReceived,
		KeyframeRequestsSent:      m.KeyframeRequestsSent,
		KeyframeRequestsRepaired:  m.KeyframeRequestsRepaired,
		KeyframeRequestsLimited:   m.KeyframeRequestsLimited,
		KeyframeRequestsCoalesced: m.KeyframeRequestsCoalesced,
		KeyframesReplayed:         m.KeyframesReplayed,
		RetransmissionsDropped:    m.RetransmissionsDropped,
		PacketsIndexRefused:       m.PacketsIndexRefused,
		PacketsBeyondTrackIDs:     m.PacketsBeyondTrackIDs,
		PacketsOverAudioRate:      m.PacketsOverAudioRate,
		PacketsUnnegotiatedType:   m.PacketsUnnegotiatedType,
		PaddingUnforwarded:        m.PaddingUnforwarded,
		NACKsSent:                 m.NACKsSent,
		NACKedPackets:             m.NACKedPackets,
		NACKsGivenUp:              m.NACKsGivenUp,
		SenderReports:             m.SenderReports,
		SenderReportsLimited:      m.SenderReportsLimited,
		LayerSwitches:             m.LayerSwitches,
		SendingLayerQ:             m.SendingLayer[0],
		SendingLayerH:             m.SendingLayer[1],
		SendingLayerF:             m.SendingLayer[2],
		LayersLost:                m.LayersLost,
		LayersBack:                m.LayersBack,
		LayersUndecodable:         m.LayersUndecodable,
		LayersDecodable:           m.LayersDecodable,
		SubscribersLimited:        m.SubscribersLimited,
		DatagramsSegmented:        m.DatagramsSegmented,
		SegmentationRefused:       m.SegmentationRefused,
		PacketsWithoutRoute:       m.PacketsWithoutRoute,
		SubscriberRTCPRead:        m.SubscriberRTCPRead,
		SubscriberRTCPRefused:     m.SubscriberRTCPRefused,
		PublisherRTPRead:          m.PublisherRTPRead,
		PublisherRTPRefused:       m.PublisherRTPRefused,
		PublisherRTPStrangers:     m.PublisherRTPStrangers,
		ICETCPRefused:             m.ICETCPRefused,
		ICETCPAcceptFailed:        m.ICETCPAcceptFailed,
		ICETCPStrangers:           m.ICETCPStrangers,
		DatagramsToRelays:         m.DatagramsToRelays,
		DatagramsFromRelays:       m.DatagramsFromRelays,
		ICEChecksAnswered:         m.ICEChecksAnswered,
		ICEChecksRefused:          m.ICEChecksRefused,
		ICERequestsSent:           m.ICERequestsSent,
		ICERequestsAnswered:       m.ICERequestsAnswered,
		ICEAnswersRefused:         m.ICEAnswersRefused,
		ICERequestsHeld:           m.ICERequestsHeld,
		ICEConsentLost:            m.ICEConsentLost,
		ICEProbesSent:             m.ICEProbesSent,
		ICEProbesHeld:             m.ICEProbesHeld,
		DTLSEarlyHeld:             m.DTLSEarlyHeld,
		DTLSEarlyGiven:            m.DTLSEarlyGiven,
		DTLSEarlyRefused:          m.DTLSEarlyRefused,
		DTLSHoldFull:              m.DTLSHoldFull,
		ForwardDelay:              delayHistogram(m.ForwardDelay),
	}
}

// delayHistogram is the SFU's forwarding delay histogram as Prometheus counts it
// (cumulative buckets, seconds).
func delayHistogram(h sfu.DelayHistogram) metrics.Histogram {
	out := metrics.Histogram{Buckets: make(map[float64]uint64, len(h.Bounds)), Count: h.Count(), Sum: h.Sum.Seconds()}
	var below uint64
	for i, b := range h.Bounds {
		below += h.Counts[i]
		out.Buckets[b.Seconds()] = below
	}
	return out
}
