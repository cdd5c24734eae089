package sfu

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"testing"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/interceptor"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"conclave/internal/conntest"
)

// TestDTLSKeysMatchTheHandshake: for every cipher suite and SRTP profile a browser
// may choose, the keys dtlsKeys derives from what the server's hooks see are the ones
// the DTLS client exports (what the subscriber decrypts with).
func TestDTLSKeysMatchTheHandshake(t *testing.T) {
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		suite   dtls.CipherSuiteID
		profile dtls.SRTPProtectionProfile
		ems     dtls.ExtendedMasterSecretType
	}{
		{dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM, dtls.RequireExtendedMasterSecret},
		{dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, dtls.SRTP_AEAD_AES_256_GCM, dtls.RequireExtendedMasterSecret},
		{dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, dtls.SRTP_AES128_CM_HMAC_SHA1_80, dtls.DisableExtendedMasterSecret},
		{dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AES128_CM_HMAC_SHA1_32, dtls.RequestExtendedMasterSecret},
	}
	for _, c := range cases {
		t.Run(c.suite.String()+"/"+srtp.ProtectionProfile(c.profile).String(), func(t *testing.T) {
			keys := &dtlsKeys{}
			client, err := handshakeDTLS(t,
				&dtls.Config{Certificates: []tls.Certificate{cert}, CipherSuites: []dtls.CipherSuiteID{c.suite},
					SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{c.profile}, ExtendedMasterSecret: c.ems,
					KeyLogWriter: keys, ServerHelloMessageHook: keys.serverHello},
				&dtls.Config{Certificates: []tls.Certificate{cert}, CipherSuites: []dtls.CipherSuiteID{c.suite},
					SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{c.profile}, ExtendedMasterSecret: c.ems,
					InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			state, ok := client.ConnectionState()
			if !ok {
				t.Fatal("no client state")
			}
			want := srtp.Config{Profile: srtp.ProtectionProfile(c.profile)}
			if err := want.ExtractSessionKeysFromDTLS(&state, true); err != nil {
				t.Fatal(err)
			}
			got, profile, err := keys.sessionKeys()
			if err != nil {
				t.Fatal(err)
			}
			if profile != srtp.ProtectionProfile(c.profile) {
				t.Fatalf("profile %v, want %v", profile, c.profile)
			}
			// The server's local keys are the client's remote ones.
			if !bytes.Equal(got.LocalMasterKey, want.Keys.RemoteMasterKey) || !bytes.Equal(got.LocalMasterSalt, want.Keys.RemoteMasterSalt) ||
				!bytes.Equal(got.RemoteMasterKey, want.Keys.LocalMasterKey) || !bytes.Equal(got.RemoteMasterSalt, want.Keys.LocalMasterSalt) {
				t.Fatal("derived SRTP keys differ from the client's")
			}
			if keys.master != nil {
				t.Fatal("the master secret is kept after the keys were derived")
			}
			if _, _, err := keys.sessionKeys(); err == nil {
				t.Fatal("keys derived twice from one handshake")
			}
		})
	}
}

// TestDTLSKeysRefuseWhatTheyDidNotSee: a handshake seen in part (no key log, or no
// ServerHello as when this side is the DTLS client) gives no keys.
func TestDTLSKeysRefuseWhatTheyDidNotSee(t *testing.T) {
	k := &dtlsKeys{}
	if _, _, err := k.sessionKeys(); err == nil {
		t.Fatal("keys from nothing")
	}
	_, _ = k.Write([]byte("CLIENT_RANDOM 00 11\n"))                                                               // a random of the wrong size
	_, _ = k.Write([]byte("SERVER_HANDSHAKE_TRAFFIC_SECRET " + string(bytes.Repeat([]byte("ab"), 32)) + " 00\n")) // not TLS 1.2's line
	if k.clientRandom != nil || k.master != nil {
		t.Fatal("a malformed or foreign key log line was taken")
	}
	_, _ = k.Write([]byte("CLIENT_RANDOM " + string(bytes.Repeat([]byte("ab"), 32)) + " " + string(bytes.Repeat([]byte("cd"), 48)) + "\n"))
	if _, _, err := k.sessionKeys(); err == nil {
		t.Fatal("keys without the ServerHello")
	}
}

// handshakeDTLS runs a DTLS handshake on 127.0.0.1 and returns the client's side.
func handshakeDTLS(t *testing.T, server, client *dtls.Config) (*dtls.Conn, error) {
	t.Helper()
	sc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv, err := dtls.Server(sc, cc.LocalAddr(), server)
	if err != nil {
		return nil, err
	}
	cli, err := dtls.Client(cc, sc.LocalAddr(), client)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		_ = cli.Close()
		_ = srv.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.HandshakeContext(ctx) }()
	if err := cli.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	if err := <-done; err != nil {
		return nil, err
	}
	return cli, nil
}

// TestSubscriberRTPIsSentByTheSFU: a subscriber's packets are encrypted by the SFU's
// own writer (no packet on Pion's path: the writer counts every one), and the
// subscriber, a stock Pion peer, decrypts them all.
func TestSubscriberRTPIsSentByTheSFU(t *testing.T) {
	r := newMediaRig(t)
	o := r.subP.srtp.Load()
	if o == nil {
		t.Fatal("the subscribe connection has no SRTP writer of its own")
	}
	before := o.sent.Load()
	r.sendAndReceive(50)
	conntest.Eventually(t, "the SFU's writer counting the 50 packets", func() bool { return o.sent.Load()-before >= 50 })
	for _, s := range r.eng.writers.shards {
		if s.batch == nil {
			t.Fatal("a writer without a batch of its own on the operating system's socket")
		}
	}
	// A batch counts what it sent once the system call has returned, which can be after
	// the subscriber has the datagrams.
	conntest.Eventually(t, "the writers' batches sending the 50 packets", func() bool {
		var batched uint64
		for _, s := range r.eng.writers.shards {
			batched += s.batch.sent.Load()
		}
		return batched >= 50
	})
}

// TestSubscriberAsDTLSServerKeepsPionsPath: when the subscriber answers as the DTLS
// server, the SFU sees no ServerHello of its own and cannot derive the keys; the
// connection's RTP stays on Pion's path, and arrives.
func TestSubscriberAsDTLSServerKeepsPionsPath(t *testing.T) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	s := testPeerSettings()
	if err := s.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
		t.Fatal(err)
	}
	r := newMediaRigAPIs(t, testPeerAPI(t), webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(s)), withPionSubscribe)
	if r.subP.srtp.Load() != nil {
		t.Fatal("an SRTP writer of its own without the handshake's keys")
	}
	r.sendAndReceive(20)
}

// sendAndReceive has the publisher send n packets and waits until the subscriber has
// them all.
func (r *mediaRig) sendAndReceive(n int) {
	r.t.Helper()
	seqs := make([]uint16, n)
	for i := range seqs {
		seqs[i] = r.pub.send()
	}
	conntest.Eventually(r.t, "the packets sent", func() bool {
		for _, s := range seqs {
			if !r.sub.has(s) {
				return false
			}
		}
		return true
	})
}
