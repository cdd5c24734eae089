package sfu

import (
	"context"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Codecs: one audio and one video codec every browser has, so any publisher can be
// forwarded to any subscriber without transcoding.
var (
	opusCodec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}
	vp8Codec  = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
)

func registerCodecs(m *webrtc.MediaEngine, feedback []webrtc.RTCPFeedback) error {
	audio := opusCodec
	video := vp8Codec
	video.RTCPFeedback = feedback
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: audio, PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		return err
	}
	return m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: video, PayloadType: 96}, webrtc.RTPCodecTypeVideo)
}

// newPublishAPI: we receive. The SFU sends receiver reports and transport-wide
// congestion feedback so the browser's bandwidth estimate works (pubfeedback.go). NACKs to the publisher are the
// SFU's own (nackgen.go): sent on the gap itself and a bounded number of times, where
// Pion's generator re-NACKs on a timer without a cap. With levels, audio carries the
// audio level extension for speaker detection (audiolevel.go).
func newPublishParts(levels bool) (*webrtc.MediaEngine, *interceptor.Registry, error) {
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	if err := registerCodecs(m, fb); err != nil {
		return nil, nil, err
	}
	// mid lets Pion route packets of transceivers whose SSRC the SDP does not declare;
	// the RID tells the layers of a simulcast camera apart (each becomes a layer of one
	// upTrack).
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.SDESMidURI}, kind); err != nil {
			return nil, nil, err
		}
	}
	for _, uri := range []string{sdp.SDESRTPStreamIDURI, sdp.SDESRepairRTPStreamIDURI} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, nil, err
		}
	}
	if levels {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, nil, err
		}
	}
	// Transport-wide congestion control: the publisher numbers its packets, the SFU
	// acknowledges them (pubfeedback.go, which sends the receiver reports too).
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, kind)
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind); err != nil {
			return nil, nil, err
		}
	}
	// No interceptors: an empty registry, or Pion would add its defaults.
	reg := &interceptor.Registry{}
	return m, reg, nil
}

// newSubscribeParts: we send. NACKs are answered by the SFU itself from the publisher
// track's shared packet cache (no per-subscriber buffers). The only header extension is
// transport-wide congestion control's sequence number, which the SFU's own SRTP writer
// (srtpout.go) or, on a connection without one, Pion's interceptor adds to every
// packet on its way out (the publisher's extensions are stripped): the subscriber
// acknowledges them in transport-cc feedback, from which the SFU's own estimator
// (estimator.go; Pion's cc interceptor only carries packets and feedback to it) estimates
// the subscriber's bandwidth; onBWE gets each connection's estimator. Nothing paces: the
// subscriber's writer and its queues already do (sendqueue.go). There is no sender report
// interceptor: its reports would map timestamps to the time packets left the server; the
// SFU forwards the publisher's own reports instead (senderreport.go), so receivers keep
// lip sync.
func newSubscribeParts(estimate bool, onBWE cc.NewPeerConnectionCallback) (*webrtc.MediaEngine, *interceptor.Registry, error) {
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	if !estimate {
		if err := registerCodecs(m, fb); err != nil {
			return nil, nil, err
		}
		return m, &interceptor.Registry{}, nil
	}
	fb = append(fb, webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC})
	if err := registerCodecs(m, fb); err != nil {
		return nil, nil, err
	}
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, webrtc.RTPCodecTypeAudio)
	reg := &interceptor.Registry{}
	// The estimator first: interceptors added later wrap it, so the TWCC interceptor
	// has numbered a packet before the estimator records it as sent.
	ccf, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) { return newEstimator(time.Now), nil })
	if err != nil {
		return nil, nil, err
	}
	ccf.OnNewPeerConnection(onBWE)
	reg.Add(ccf)
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, reg); err != nil {
		return nil, nil, err
	}
	return m, reg, nil
}

// newPublishConnection makes a publish connection whose DTLS handshake keys is shown,
// with the server as DTLS server (browsers offer "actpass" and take the client's role
// then): as the client, the server would not see the ServerHello's random, without
// which the keys cannot be derived (dtlskeys.go). As on subscribe connections, ICE
// has proved the publisher's address before DTLS starts, so the cookie round trip
// goes.
func (e *Engine) newPublishConnection(keys *dtlsKeys) (*webrtc.PeerConnection, error) {
	settings := e.pubSettings
	if err := settings.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
		return nil, err
	}
	settings.SetDTLSKeyLogWriter(keys)
	settings.SetDTLSServerHelloMessageHook(keys.serverHello)
	settings.SetDTLSInsecureSkipHelloVerify(true)
	settings.SetDTLSConnectContextMaker(e.pionDTLSContext)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(e.pubMedia), webrtc.WithInterceptorRegistry(e.pubReg), webrtc.WithSettingEngine(settings))
	return api.NewPeerConnection(e.certs.configuration())
}

// newSubscribeConnection makes a subscribe connection whose DTLS handshake keys is
// shown (dtlskeys.go). The API is the connection's own only for that: the
// media engine and the interceptor registry are the engine's (Pion copies the first
// and builds the second per connection anyway).
func (e *Engine) newSubscribeConnection(keys *dtlsKeys) (*webrtc.PeerConnection, error) {
	settings := e.subSettings
	settings.SetDTLSKeyLogWriter(keys)
	settings.SetDTLSServerHelloMessageHook(keys.serverHello)
	// The server answers the subscriber's first ClientHello with its ServerHello,
	// without the HelloVerifyRequest round trip (RFC 6347 §4.2.1 lets a server skip
	// it). The cookie proves that a ClientHello's source address is real, against
	// amplification and spoofed state; here ICE has proved it already: the agent
	// hands DTLS only what comes from a remote candidate (one that passed a check
	// with this connection's ICE password, or that the subscriber named over its
	// authenticated signaling), and the DTLS flights go back only on the selected
	// pair, which passed a check. One round trip less for every join; at a crowd of 50
	// joining four at a time the handshake's median fell from 16–24 ms to 13–14 ms.
	settings.SetDTLSInsecureSkipHelloVerify(true)
	settings.SetDTLSConnectContextMaker(e.pionDTLSContext)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(e.subMedia), webrtc.WithInterceptorRegistry(e.subReg), webrtc.WithSettingEngine(settings))
	return api.NewPeerConnection(e.certs.configuration())
}

// pionDTLSContext bounds the DTLS handshake of a connection Pion runs as the engine's
// own are bounded (dtlsHandshakeContext), on the engine's clock. Without it Pion runs
// the handshake with no bound at all (DTLSTransport.Start: Handshake, on
// context.Background): a peer that kept its ICE up and never finished DTLS (its
// records lost, or never meant to) held a publish connection's half-made handshake,
// its goroutines and flights, for as long as its participant stayed.
func (e *Engine) pionDTLSContext() (context.Context, func()) {
	return e.dtlsHandshakeContext()
}
