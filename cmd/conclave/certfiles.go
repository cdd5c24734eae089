package main

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"sync"
)

// certFiles serves the certificate of -tls-cert/-tls-key and picks up a renewal (certbot
// and the like rewrite the files every few weeks) without a restart: each handshake
// reads the two small files and parses them again only when they changed. A changed
// pair that does not work (a renewal half written, a key that does not match) keeps the
// previous certificate in use and is logged once.
type certFiles struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	certPEM []byte // the files' contents when last read, served or not
	keyPEM  []byte
}

// newCertFiles reads the pair at start, where any problem is an error.
func newCertFiles(certFile, keyFile string, log *slog.Logger) (*certFiles, error) {
	certPEM, keyPEM, err := readKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	cert, err := parseKeyPair(certFile, keyFile, certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return &certFiles{certFile: certFile, keyFile: keyFile, log: log, cert: &cert, certPEM: certPEM, keyPEM: keyPEM}, nil
}

func (c *certFiles) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	certPEM, keyPEM, readErr := readKeyPair(c.certFile, c.keyFile)
	c.mu.Lock()
	cur := c.cert
	changed := readErr == nil && (!bytes.Equal(certPEM, c.certPEM) || !bytes.Equal(keyPEM, c.keyPEM))
	if changed {
		c.certPEM, c.keyPEM = certPEM, keyPEM // judged once, below
	}
	c.mu.Unlock()
	if !changed {
		return cur, nil // unchanged, or unreadable for a moment: keep serving
	}
	cert, err := parseKeyPair(c.certFile, c.keyFile, certPEM, keyPEM)
	if err != nil {
		c.log.Warn("the certificate files changed but cannot be used; still serving the previous certificate", "err", err)
		return cur, nil
	}
	c.mu.Lock()
	if bytes.Equal(certPEM, c.certPEM) && bytes.Equal(keyPEM, c.keyPEM) { // not overtaken by a newer change
		c.cert = &cert
	}
	c.mu.Unlock()
	c.log.Info("certificate files changed; serving the new certificate")
	return &cert, nil
}
