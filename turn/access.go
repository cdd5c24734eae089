package turn

import (
	"net/netip"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
)

// authenticate gives pion/turn the long-term key of a username the server issued and
// did not revoke. Expiry is checked when an allocation is opened; refreshes,
// permissions and channel binds of an allocation made in time go on with the same
// (authentic) credentials, so that a meeting longer than the TTL keeps its relay, until
// the credentials are revoked (Revoke: their member is gone). An allocation belongs to
// the client's address and port, so an old credential cannot take over anybody else's.
//
// The key is the client's realm's (clientrealm.go: over UDP its address and port's own,
// which binds the key to the source; over TCP and TLS the server's): pion/turn hands over
// the REALM the request names and leaves the choice to us, and a key made from it took a
// request in any realm the client liked (RFC 8489, section 9.2.4: the password is the
// one of the username in that realm, and the server has none in another).
func (s *Server) authenticate(ra *pionturn.RequestAttributes) (string, []byte, bool) {
	realm := s.realms.of(ra.SrcAddr)
	if ra.Realm != realm || s.quota.isRevoked(ra.Username) {
		return "", nil, false
	}
	now := s.clock.now()
	if ra.Method != stun.MethodAllocate {
		// Far in the past: only the HMAC matters for an existing allocation.
		now = time.Unix(0, 0)
	}
	password, err := s.creds.check(ra.Username, now)
	if err != nil {
		return "", nil, false
	}
	return ra.Username, pionturn.GenerateAuthKey(ra.Username, realm, password), true
}

// ICEServers returns fresh credentials for every URL the server listens on, valid for
// Config.TTL from now (a reading of Config.Now's clock) on the credentials' clock
// (credclock.go).
func (s *Server) ICEServers(now time.Time) []ICEServer {
	username, password := s.creds.issue(s.clock.shift(now))
	return []ICEServer{{URLs: append([]string(nil), s.urls...), Username: username, Credential: password}}
}

// ICEServersFor is ICEServers for a member whose connection to the server comes from
// client (the websocket's address, as signaling sees it; invalid: unknown): until the
// credentials are revoked (Revoke: the member is gone), the UDP listener's
// unauthenticated answers to client's address (IPv6: its /64) are bounded by its own
// bucket only, not by the one in all that forged sources spread over many victims
// spend, so that the 401s of its first relays arrive in such a flood, and that bucket
// is larger by a member, for the STUN keepalives of its browser (answerLimits,
// memberJoined). A browser's relays and keepalives over UDP mostly come from that
// address: behind a NAT the same public address as its websocket, unless one goes over
// IPv4 and the other over IPv6, or a proxy in front hides the address (then the
// proxy's is counted, which is of no use and no harm).
func (s *Server) ICEServersFor(now time.Time, client netip.Addr) []ICEServer {
	servers := s.ICEServers(now)
	s.answers.memberJoined(servers[0].Username, client.WithZone("").Unmap())
	return servers
}

// Revoke ends the credentials of username, handed out by ICEServers: their relays end
// now, and nothing they ask for is granted any more (no new relay, no refresh,
// permission or channel); the address they were handed to (ICEServersFor) counts a
// member less. Signaling calls it when the member they were handed to is gone: left,
// removed, sent back to the waiting room, or the meeting ended, and for credentials
// it made but could not hand over. A username the server did not make is ignored.
//
// When it returns, the relays relay nothing more either way, the SFU hands them
// nothing and their places in the allocation caps are free; their sockets are closed a
// moment later on a goroutine of their own (socketClosers), which Close waits for: a
// close waits for the socket's reader, and Revoke is called under a meeting's lock.
// pion/turn deletes their allocations once its reader sees them shut (or, without the
// SFU's hand-over, their sockets closed).
func (s *Server) Revoke(username string) {
	s.answers.memberLeft(username)
	expiry, err := parseUsername(username)
	if err != nil {
		return
	}
	relays := s.quota.revoke(username, time.Unix(expiry, 0), s.clock.now())
	for _, c := range relays {
		c.shut()
	}
	s.closers.close(relays)
}
