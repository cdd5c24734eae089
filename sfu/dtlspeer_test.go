package sfu

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/pion/dtls/v3"
	dtlsfp "github.com/pion/dtls/v3/pkg/crypto/fingerprint"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	dtlsnet "github.com/pion/dtls/v3/pkg/net"
	"github.com/pion/srtp/v3"
	"go.uber.org/goleak"

	"conclave/internal/conntest"
)

func testCertificate(t *testing.T) (tls.Certificate, map[string]string) {
	t.Helper()
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	x, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	h, err := dtlsfp.HashFromString("sha-256")
	if err != nil {
		t.Fatal(err)
	}
	fp, err := dtlsfp.Fingerprint(x, h)
	if err != nil {
		t.Fatal(err)
	}
	return cert, map[string]string{"sha-256": fp}
}

// TestDTLSPeerOverICELite: a peer that connected to the lite agent (Pion's full agent,
// as a browser) runs DTLS-SRTP over that connection with the server's dtlsPeer, in
// either role; both ends derive the same SRTP keys, each side's local keys the
// other's remote ones. Once stopped, nothing of the handshake keeps running.
func TestDTLSPeerOverICELite(t *testing.T) {
	for _, serverIsClient := range []bool{false, true} {
		name := "server as DTLS server"
		if serverIsClient {
			name = "server as DTLS client"
		}
		t.Run(name, func(t *testing.T) {
			baseline := goleak.IgnoreCurrent()
			r := newLiteRig(t)
			a := newControllingAgent(t)
			conn, _ := connectAgent(t, r, a)
			ours, ourFP := testCertificate(t)
			theirs, theirFP := testCertificate(t)
			logs := newPionLoggerFactory(slog.New(slog.DiscardHandler))
			peer := newDTLSPeer(r.conn.LocalAddr(), r.sendToPeer)
			r.dtls.Store(peer)

			// The remote end: pion/dtls over the agent's connection.
			type result struct {
				keys    srtp.SessionKeys
				profile srtp.ProtectionProfile
				conn    *dtls.Conn
				err     error
			}
			remote := make(chan result, 1)
			go func() {
				opts := []dtls.Option{
					dtls.WithCertificates(theirs),
					dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM),
					dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
					dtls.WithInsecureSkipVerify(true),
					dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509.Certificate) error { return verifyFingerprint(raw, ourFP) }),
					dtls.WithLoggerFactory(logs),
				}
				pc := dtlsnet.PacketConnFromConn(conn)
				var c *dtls.Conn
				var err error
				if serverIsClient {
					sopts := []dtls.ServerOption{dtls.WithClientAuth(dtls.RequireAnyClientCert)}
					for _, o := range opts {
						sopts = append(sopts, o)
					}
					c, err = dtls.ServerWithOptions(pc, conn.RemoteAddr(), sopts...)
				} else {
					var copts []dtls.ClientOption
					for _, o := range opts {
						copts = append(copts, o)
					}
					c, err = dtls.ClientWithOptions(pc, conn.RemoteAddr(), copts...)
				}
				if err == nil {
					err = c.HandshakeContext(context.Background())
				}
				if err != nil {
					remote <- result{err: err}
					return
				}
				state, _ := c.ConnectionState()
				id, _ := c.SelectedSRTPProtectionProfile()
				cfg := srtp.Config{Profile: srtp.ProtectionProfile(id)}
				err = cfg.ExtractSessionKeysFromDTLS(&state, !serverIsClient)
				remote <- result{keys: cfg.Keys, profile: cfg.Profile, conn: c, err: err}
			}()

			ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
			defer cancel()
			keys, profile, err := peer.handshake(ctx, serverIsClient, ours, theirFP, logs)
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			res := <-remote
			if res.err != nil {
				t.Fatalf("the peer's handshake: %v", res.err)
			}
			if profile != srtp.ProtectionProfileAeadAes128Gcm || res.profile != profile {
				t.Fatalf("profiles %v and %v", profile, res.profile)
			}
			if !bytes.Equal(keys.LocalMasterKey, res.keys.RemoteMasterKey) || !bytes.Equal(keys.RemoteMasterKey, res.keys.LocalMasterKey) ||
				!bytes.Equal(keys.LocalMasterSalt, res.keys.RemoteMasterSalt) || !bytes.Equal(keys.RemoteMasterSalt, res.keys.LocalMasterSalt) {
				t.Fatal("the two ends derived different keys")
			}
			if bytes.Equal(keys.LocalMasterKey, keys.RemoteMasterKey) || len(keys.LocalMasterKey) != 16 {
				t.Fatalf("keys %x / %x", keys.LocalMasterKey, keys.RemoteMasterKey)
			}

			// Records after the handshake that nobody reads (application data: a
			// browser sends none, a hostile peer may) must not keep pion/dtls's
			// read loop, and with it the subscriber, past stop.
			read := peer.reads.Load()
			for range 3 {
				if _, err := res.conn.Write([]byte("x")); err != nil {
					t.Fatal(err)
				}
			}
			conntest.Eventually(t, "the records read", func() bool { return peer.reads.Load() >= read+2 })

			// Once stopped, the peer (which lives as long as its subscriber) does
			// not keep the handshake's connection: its flights, certificates and
			// ciphers are about 10 KB a subscriber.
			held := weak.Make(peer.conn.Load())
			peer.stop()
			_ = res.conn.Close()
			_ = a.Close()
			r.stop()
			conntest.GoroutinesEnd(t, baseline)
			runtime.GC()
			if held.Value() != nil {
				t.Error("the stopped peer still holds the handshake's connection")
			}
			runtime.KeepAlive(peer)
		})
	}
}

// TestDTLSPeerRefusesAnotherCertificate: a peer whose certificate is not the one its
// answer named (a server in the middle, or a forged answer) gets no keys.
func TestDTLSPeerRefusesAnotherCertificate(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	r := newLiteRig(t)
	a := newControllingAgent(t)
	conn, _ := connectAgent(t, r, a)
	ours, ourFP := testCertificate(t)
	theirs, _ := testCertificate(t)
	_, otherFP := testCertificate(t)
	logs := newPionLoggerFactory(slog.New(slog.DiscardHandler))
	peer := newDTLSPeer(r.conn.LocalAddr(), r.sendToPeer)
	r.dtls.Store(peer)
	done := make(chan *dtls.Conn, 1)
	go func() {
		c, err := dtls.ClientWithOptions(dtlsnet.PacketConnFromConn(conn), conn.RemoteAddr(),
			dtls.WithCertificates(theirs),
			dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM),
			dtls.WithInsecureSkipVerify(true),
			dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509.Certificate) error { return verifyFingerprint(raw, ourFP) }),
			dtls.WithLoggerFactory(logs))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
			_ = c.HandshakeContext(ctx)
			cancel()
		}
		done <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if _, _, err := peer.handshake(ctx, false, ours, otherFP, logs); err == nil {
		t.Fatal("handshake with another certificate succeeded")
	}
	if c := <-done; c != nil {
		_ = c.Close()
	}
	_ = a.Close()
	r.stop()
	conntest.GoroutinesEnd(t, baseline)
}

// TestDTLSPeerDropsWhenFull: deliver never waits for the handshake; past its queue a
// datagram is dropped, and after stop nothing is kept.
func TestDTLSPeerDropsWhenFull(t *testing.T) {
	var sent int
	p := newDTLSPeer(nil, func([]byte) error { sent++; return nil })
	for range dtlsQueue + 5 {
		p.deliver([]byte{22, 254, 253})
	}
	if len(p.in) != dtlsQueue {
		t.Fatalf("%d queued", len(p.in))
	}
	if n, err := p.WriteTo([]byte{22}, nil); n != 1 || err != nil || sent != 1 {
		t.Fatalf("write: %d, %v, sent %d", n, err, sent)
	}
	p.stop()
	p.deliver([]byte{22, 254, 253})
	if len(p.in) != 0 {
		t.Fatalf("%d datagrams kept after stop (the peer lives as long as its subscriber)", len(p.in))
	}
	if _, _, err := p.ReadFrom(make([]byte, 10)); err == nil {
		t.Fatal("read after stop")
	}
	if _, err := p.WriteTo([]byte{22}, nil); err == nil || sent != 1 {
		t.Fatal("write after stop")
	}
	_ = p.SetReadDeadline(time.Now().Add(-time.Second))
}
