package sfu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
}

// configuration is a connection's configuration with the current certificate,
// making a new one when the last is a day old. Should making one fail (the system's
// randomness), the connection gets none and Pion makes its own, as before.
func (c *certificates) configuration() webrtc.Configuration {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.cert == nil || now.Sub(c.made) >= certificateLifetime || now.Before(c.made) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return webrtc.Configuration{}
		}
		cert, err := webrtc.GenerateCertificate(key)
		if err != nil {
			return webrtc.Configuration{}
		}
		c.cert, c.made = cert, now
	}
	return webrtc.Configuration{Certificates: []webrtc.Certificate{*c.cert}}
}
