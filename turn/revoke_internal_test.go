package turn

import (
	"net/netip"
	"testing"
	"time"

	"conclave/internal/fakeclock"
)

// TestRevokeCostStaysLinear: each Revoke forgot the expired usernames by visiting every
// one revoked, under the lock every TURN request takes (isRevoked) and the meeting's
// that called it: n members leaving within a credential's lifetime cost n²/2 visits
// (40,000 in ten minutes, a few a second from many addresses, took 22 s of that lock).
// A sweep now waits until the list has doubled since the last: a few visits each,
// however long the list and -turn-ttl, and the list holds at most about twice the
// usernames still to refuse.
func TestRevokeCostStaysLinear(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	ttl := time.Minute
	s, err := New(Config{UDPAddr: "127.0.0.1:0", Host: "127.0.0.1", RelayIP: netip.MustParseAddr("127.0.0.1"), RelayBind: "127.0.0.1",
		Peers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}, TTL: ttl, Now: clock.Now, AfterFunc: clock.AfterFunc})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 6000
	step := 100 * time.Millisecond // 10 leaves a second: n span 10 minutes, ten lifetimes
	for i := range n {
		user := s.ICEServers(clock.Now())[0].Username
		s.Revoke(user)
		if !s.quota.isRevoked(user) {
			t.Fatalf("revoke %d: not refused", i)
		}
		clock.Advance(step)
	}
	if v := s.quota.visited; v > 3*n {
		t.Fatalf("%d revocations visited the revoked list %d times (more than %d)", n, v, 3*n)
	}
	// Still refused: every username not yet past its expiry (and margin); bounded:
	// the rest is forgotten, up to as many again.
	live := int((ttl+revokedMargin)/step) + 1
	if got := len(s.quota.revoked); got > 2*live+minRevokedSweep {
		t.Fatalf("%d usernames kept, %d still to refuse", got, live)
	}
}
