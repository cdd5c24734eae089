package sfu

import (
	"context"
	"errors"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// dtlsHandshakeTimeout bounds a handshake on the engine's clock; a peer that has not
// finished it by then has no media to get and rejoins.
const dtlsHandshakeTimeout = 30 * time.Second

// dtlsHandshakeContext is a handshake's context, cancelled once dtlsHandshakeTimeout
// has passed on the engine's clock (Config.AfterFunc), as the engine's other waits
// are, or when the returned cancel is called, which also stops that wait. A deadline
// on the system's clock would end a stalled handshake at its own time whatever the
// engine's clock said: a test's fake clock could neither drive it nor rely on it, and
// the half-made handshake (its goroutines, flights and queued records) outlived every
// bound the test set.
func (e *Engine) dtlsHandshakeContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	stop := e.after(dtlsHandshakeTimeout, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
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
		// Armed before the keys are used, so that once media flows the bound holds;
		// stopped with the reading, at the peer's first SRTCP or the connection's close.
		o.dtls.stopAfter(dtlsLinger, o.e.after)
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
	o.useSRTCP(sc)
	return o.p.startSubscribeSRTP(keys, profile)
}

// useSRTCP makes sc the cipher of the RTCP the connection sends. An AES-GCM one
// forgets a retired SSRC's index and refuses its reports (srtcpGCM.retired), as the
// SRTP writer does its packets.
func (o *ownSub) useSRTCP(sc srtcpCipher) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if g, ok := sc.(*srtcpGCM); ok {
		g.retired = &o.retired
	}
	o.srtcp = sc
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
