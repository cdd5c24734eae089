package turn

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net"

	"github.com/pion/stun/v4"
)

// A request's long-term key (MD5 of username:realm:password, RFC 8489 section 9.2.2)
// is bound to the address and port it comes from over UDP, so that a member, who holds
// credentials, cannot send authenticated requests naming someone else as their source:
// their answers (a relay's success, a 437 or 486, all with MESSAGE-INTEGRITY) are never
// held back by answerLimits, and would be reflected at whoever the source names.
//
// The nonce is where RFC 8489 (section 9.2) puts such a binding, but pion/turn v5 makes
// it itself: NewServer sets server.NewShortNonceHash(0), a type of its internal
// package, and ServerConfig has no field to replace it; nor could a replacement bind
// it, as NonceManager.Generate is given no address. Its nonce is a minute's timestamp
// and an HMAC of that timestamp alone, the same for every client within the minute, so
// a nonce fetched from the member's own address worked from any other for an hour.
//
// The realm is the other value a client takes from the 401 (and the 438) and sends
// back under its key: the UDP listener's unauthenticated answers carry a realm made for
// the address and port they go to (an HMAC under a secret made at start, which never
// leaves memory), and authenticate takes a request over UDP only in the realm of its
// source. A request naming another's source with the member's own realm is refused
// with a 401, which goes out bounded like any unauthenticated answer; the victim's
// realm reaches only the victim. Over TCP and TLS the handshake proves the address,
// and the realm is Config.Realm.
type clientRealms struct {
	secret []byte
	plain  string
}

// clientRealmTagLen is the HMAC bytes of a UDP client's realm: 72 bits, 12 characters
// (the 401 grows by 4 bytes over "conclave"), too many to guess a victim's by trying.
const clientRealmTagLen = 9

func newClientRealms(plain string) (clientRealms, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return clientRealms{}, err
	}
	return clientRealms{secret: secret, plain: plain}, nil
}

// of is the realm of a client at a: over UDP its address and port's own, otherwise
// the plain realm.
func (r clientRealms) of(a net.Addr) string {
	if _, ok := a.(*net.UDPAddr); !ok {
		return r.plain
	}
	ap := udpClientOf(a)
	ip, port := ap.Addr().As16(), ap.Port()
	mac := hmac.New(sha256.New, r.secret)
	mac.Write(ip[:])
	mac.Write([]byte{byte(port >> 8), byte(port)})
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:clientRealmTagLen])
}

// withRealm is the STUN message b with the value of its REALM replaced by realm (a
// FINGERPRINT recomputed), for an answer without MESSAGE-INTEGRITY only (which would
// no longer hold). ok is false, and b to be sent as it is, when b does not decode or
// holds no REALM.
func withRealm(b []byte, realm string) (out []byte, ok bool) {
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if m.Decode() != nil || !m.Contains(stun.AttrRealm) || m.Contains(stun.AttrMessageIntegrity) ||
		m.Contains(stun.AttrMessageIntegritySHA256) {
		return nil, false
	}
	rewritten := &stun.Message{Type: m.Type, TransactionID: m.TransactionID}
	rewritten.WriteHeader()
	fingerprint := false
	for _, a := range m.Attributes {
		switch a.Type {
		case stun.AttrRealm:
			rewritten.Add(stun.AttrRealm, []byte(realm))
		case stun.AttrFingerprint:
			fingerprint = true
		default:
			rewritten.Add(a.Type, a.Value)
		}
	}
	if fingerprint && stun.Fingerprint.AddTo(rewritten) != nil {
		return nil, false
	}
	return rewritten.Raw, true
}
