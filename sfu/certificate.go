package sfu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// certificateLifetime is how long the engine gives new connections the same DTLS
// certificate before it makes another. Pion's certificates are valid for a month;
// WebRTC checks a peer's certificate against the fingerprint in the description, not
// its dates, but a day keeps every certificate in use far from its end anyway.
const certificateLifetime = 24 * time.Hour

// certificates gives every new connection of the engine the same DTLS certificate
// (rotated daily) instead of letting Pion make a key pair and sign a certificate for
// each one: that took 0.27 ms of CPU and 17 KB of garbage for every connection, about
// five times the rest of making one (a join makes one or two). Janus and mediasoup
// likewise keep one certificate per process. A connection's certificate only proves
// the server's end of the DTLS handshake to the fingerprint its description carried;
// the key never leaves memory, and the certificate, sent in clear by DTLS 1.2, names
// nothing but this server, which the address already names.
type certificates struct {
	mu   sync.Mutex
	now  func() time.Time
	cert *webrtc.Certificate
	made time.Time
	// The same certificate for the connections the server runs itself (ownsub.go):
	// for pion/dtls, and its SHA-256 fingerprint as an offer names it.
	tls         tls.Certificate
	fingerprint string
}

var errNoCertificate = errors.New("sfu: no DTLS certificate")

// certificateWallMargin is how long before its end at the wall clock a certificate
// is made anew.
const certificateWallMargin = time.Hour

// validAtWall reports whether the current certificate is valid at the wall clock for
// certificateWallMargin more; under mu. Its age is counted on the engine's clock,
// which a step of the wall clock does not move (steadyClock), but Pion makes a
// certificate valid for a month of the wall clock and refuses a connection one past
// its end (NewPeerConnection: ErrCertificateExpired), reading time.Now. A step of the
// wall clock ahead by a month (a virtual machine restored from a snapshot weeks old,
// a machine without a clock of its own whose first connection came before NTP set its
// time) left a certificate a few hours old on the engine's clock and past its end at
// the wall's, and every connection made until it was a day old failed: no one's
// media, no join and no resume, for up to a day.
func (c *certificates) validAtWall() bool {
	return time.Now().Add(certificateWallMargin).Before(c.cert.Expires())
}

// configuration is a connection's configuration with the current certificate,
// making a new one when the last is a day old or near its end. Should making one fail
// (the system's randomness), the connection gets none and Pion makes its own, as
// before.
func (c *certificates) configuration() webrtc.Configuration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.current() != nil {
		return webrtc.Configuration{}
	}
	return webrtc.Configuration{Certificates: []webrtc.Certificate{*c.cert}}
}

// dtls is the current certificate for pion/dtls and its fingerprint ("sha-256 AB:…").
func (c *certificates) dtls() (tls.Certificate, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.current(); err != nil {
		return tls.Certificate{}, "", err
	}
	return c.tls, c.fingerprint, nil
}

// current makes a new certificate when there is none, the last is a day old, or the
// wall clock has come near the last one's end; under mu.
func (c *certificates) current() error {
	now := c.now()
	if c.cert != nil && now.Sub(c.made) < certificateLifetime && !now.Before(c.made) && c.validAtWall() {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return err
	}
	pem, err := cert.PEM()
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair([]byte(pem), []byte(pem))
	if err != nil {
		return err
	}
	fps, err := cert.GetFingerprints()
	if err != nil {
		return err
	}
	fp := ""
	for _, f := range fps {
		if strings.EqualFold(f.Algorithm, "sha-256") {
			fp = f.Algorithm + " " + strings.ToUpper(f.Value) // RFC 8122: upper-case hex
		}
	}
	if fp == "" {
		return errNoCertificate
	}
	c.cert, c.made, c.tls, c.fingerprint = cert, now, pair, fp
	return nil
}
