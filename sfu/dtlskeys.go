package sfu

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"sync"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/srtp/v3"
)

// dtlsKeys learns the SRTP keys of one connection's DTLS handshake, so the SFU can
// encrypt what it sends a subscriber (srtpout.go) and decrypt what a subscriber
// (rtcpin.go) or a publisher (rtpin.go) sends it itself, instead of through Pion's
// SRTP sessions and the ICE layers under them. Pion does not hand out a connection's keying
// material, so dtlsKeys is given the two things its public settings let a program see:
// the ServerHello the server is about to send (its random, the cipher suite and the
// SRTP profile it chose; SettingEngine.SetDTLSServerHelloMessageHook) and the
// handshake's key log line (the client's random and the master secret;
// SetDTLSKeyLogWriter). From those it derives what DTLS-SRTP exports (RFC 5764 §4.2,
// the RFC 5705 exporter), exactly as Pion's own SRTP session does.
//
// The master secret protects only the hop between the browser and this server (the
// media inside is end-to-end encrypted in an encrypted meeting). It stays in memory,
// is never logged or written anywhere, and is dropped once the keys are derived.
//
// Only when this server is the DTLS server: a subscribe connection is offered by the
// server, and browsers (and Pion) answer as the DTLS client; a publish connection is
// answered by the server, which takes the server's role (newPublishConnection).
// Otherwise, or when any part is missing or unknown, keys fails and the connection
// keeps Pion's path.
type dtlsKeys struct {
	mu           sync.Mutex
	serverRandom []byte
	suite        uint16
	profile      srtp.ProtectionProfile
	clientRandom []byte
	master       []byte
}

var (
	errKeysIncomplete = errors.New("sfu: DTLS handshake seen incompletely")
	errKeysSuite      = errors.New("sfu: DTLS cipher suite or SRTP profile not known")
)

// serverHello is the ServerHello hook: it notes what the server chose and sends the
// message unchanged.
func (k *dtlsKeys) serverHello(m handshake.MessageServerHello) handshake.Message {
	random := m.Random.MarshalFixed()
	k.mu.Lock()
	k.serverRandom = random[:]
	k.suite, k.profile = 0, 0
	if m.CipherSuiteID != nil {
		k.suite = *m.CipherSuiteID
	}
	for _, e := range m.Extensions {
		if u, ok := e.(*extension.UseSRTP); ok && len(u.ProtectionProfiles) == 1 {
			k.profile = srtp.ProtectionProfile(u.ProtectionProfiles[0])
		}
	}
	k.mu.Unlock()
	return &m
}

// Write takes the key log: one line "CLIENT_RANDOM <client random> <master secret>"
// in hex per handshake.
func (k *dtlsKeys) Write(p []byte) (int, error) {
	fields := bytes.Fields(p)
	if len(fields) != 3 || string(fields[0]) != "CLIENT_RANDOM" {
		return len(p), nil
	}
	random, err1 := hex.DecodeString(string(fields[1]))
	master, err2 := hex.DecodeString(string(fields[2]))
	if err1 != nil || err2 != nil || len(random) != handshake.RandomLength {
		return len(p), nil
	}
	k.mu.Lock()
	clear(k.master)
	k.clientRandom, k.master = random, master
	k.mu.Unlock()
	return len(p), nil
}

// prfHash is the TLS 1.2 PRF's hash of the cipher suites Pion offers.
func prfHash(suite uint16) prf.HashFunc {
	switch dtls.CipherSuiteID(suite) {
	case dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, dtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return sha512.New384
	case dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, dtls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:
		return sha256.New
	}
	return nil
}

// ExportKeyingMaterial is the RFC 5705 exporter over the handshake seen (no context),
// for srtp.Config.ExtractSessionKeysFromDTLS; called by sessionKeys, under mu.
func (k *dtlsKeys) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	if len(context) != 0 {
		return nil, errKeysSuite
	}
	h := prfHash(k.suite)
	if h == nil {
		return nil, errKeysSuite
	}
	seed := make([]byte, 0, len(label)+2*handshake.RandomLength)
	seed = append(append(append(seed, label...), k.clientRandom...), k.serverRandom...)
	return prf.PHash(k.master, seed, length, h)
}

// sessionKeys derives the connection's SRTP master keys and salts (the server's are
// the local ones) and forgets the master secret.
func (k *dtlsKeys) sessionKeys() (srtp.SessionKeys, srtp.ProtectionProfile, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	defer func() {
		clear(k.master)
		k.master = nil
	}()
	if k.serverRandom == nil || k.clientRandom == nil || k.master == nil {
		return srtp.SessionKeys{}, 0, errKeysIncomplete
	}
	switch k.profile {
	case srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAeadAes256Gcm,
		srtp.ProtectionProfileAes128CmHmacSha1_80, srtp.ProtectionProfileAes128CmHmacSha1_32:
	default:
		return srtp.SessionKeys{}, 0, errKeysSuite
	}
	cfg := srtp.Config{Profile: k.profile}
	if err := cfg.ExtractSessionKeysFromDTLS(k, false); err != nil {
		return srtp.SessionKeys{}, 0, err
	}
	return cfg.Keys, k.profile, nil
}
