package sfu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

func fingerprint(t *testing.T, c []webrtc.Certificate) string {
	t.Helper()
	if len(c) != 1 {
		t.Fatalf("%d certificates, want 1", len(c))
	}
	fps, err := c[0].GetFingerprints()
	if err != nil || len(fps) == 0 {
		t.Fatalf("fingerprints: %v", err)
	}
	return fps[0].Value
}

// TestConnectionsShareADailyCertificate: every connection the engine makes within a
// day, publish and subscribe, has the same DTLS certificate; a connection made a day
// later has another.
func TestConnectionsShareADailyCertificate(t *testing.T) {
	clock, eng, room := newClockedRoom(t, false, withPionSubscribe)
	a, err := room.Join("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := room.Join("b")
	if err != nil {
		t.Fatal(err)
	}
	first := fingerprint(t, a.sub.GetConfiguration().Certificates)
	if fp := fingerprint(t, b.sub.GetConfiguration().Certificates); fp != first {
		t.Fatalf("two subscribe connections of one day have certificates %s and %s", first, fp)
	}
	pub := eng.certs.configuration()
	if fp := fingerprint(t, pub.Certificates); fp != first {
		t.Fatalf("a publish connection's certificate %s differs from the day's %s", fp, first)
	}
	clock.Advance(certificateLifetime)
	c, err := room.Join("c")
	if err != nil {
		t.Fatal(err)
	}
	if fp := fingerprint(t, c.sub.GetConfiguration().Certificates); fp == first {
		t.Fatal("a connection made a day later still has the first certificate")
	}
}

// TestOwnConnectionsShareADailyCertificate: the subscribe connections the server runs
// itself offer the day's certificate, the one Pion's connections are given, and keep
// the one they first offered.
func TestOwnConnectionsShareADailyCertificate(t *testing.T) {
	clock, eng, room := newClockedRoom(t, false)
	joined := map[string]*Participant{}
	offered := func(id string) string {
		p := joined[id]
		if p == nil {
			var err error
			if p, err = room.Join(id); err != nil {
				t.Fatal(err)
			}
			joined[id] = p
		}
		if p.own == nil {
			t.Fatal("a subscribe connection on Pion's path")
		}
		o, err := p.own.offer(false)
		if err != nil {
			t.Fatal(err)
		}
		fp := fingerprintLine.FindString(o.SDP)
		if fp == "" {
			t.Fatalf("no fingerprint in %s", o.SDP)
		}
		return strings.TrimPrefix(fp, "a=fingerprint:sha-256 ")
	}
	first := offered("a")
	if fp := offered("b"); fp != first {
		t.Fatalf("two subscribe connections of one day offer %s and %s", first, fp)
	}
	if fp := fingerprint(t, eng.certs.configuration().Certificates); !strings.EqualFold(fp, first) {
		t.Fatalf("a publish connection's certificate %s differs from the day's %s", fp, first)
	}
	clock.Advance(certificateLifetime)
	if fp := offered("c"); fp == first {
		t.Fatal("a connection made a day later still offers the first certificate")
	}
	// A connection keeps its certificate for good: its next offer names the same.
	if fp := offered("a"); fp != first {
		t.Fatalf("a connection's offer changed its certificate from %s to %s", first, fp)
	}
}

// TestCertificatePastItsEndAtTheWallClockIsReplaced: a connection made after the wall
// clock has gone past the day's certificate's end, while the engine's clock counts it
// a few hours old, gets a new certificate and is made. The certificate was replaced
// only at a day of the engine's clock, which a step of the wall clock does not move,
// and Pion refuses a connection a certificate past its end at the wall clock: after a
// step ahead by a month every join failed for up to a day. The step is made here by a
// certificate whose month ended yesterday, as the one made before such a step is.
func TestCertificatePastItsEndAtTheWallClockIsReplaced(t *testing.T) {
	_, eng, room := newClockedRoom(t, false, withPionSubscribe)
	if _, err := room.Join("a"); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Now()
	ended, err := webrtc.NewCertificate(key, x509.Certificate{
		SerialNumber: big.NewInt(1), Version: 2,
		NotBefore: wall.AddDate(0, -1, -1), NotAfter: wall.AddDate(0, 0, -1),
	})
	if err != nil {
		t.Fatal(err)
	}
	eng.certs.mu.Lock()
	eng.certs.cert = ended // made today on the engine's clock (made stays), a month ago on the wall's
	eng.certs.mu.Unlock()

	b, err := room.Join("b")
	if err != nil {
		t.Fatalf("a join after the wall clock went past the day's certificate's end: %v", err)
	}
	if fp := fingerprint(t, b.sub.GetConfiguration().Certificates); fp == fingerprint(t, []webrtc.Certificate{*ended}) {
		t.Fatal("the new connection has the certificate past its end")
	}
}
