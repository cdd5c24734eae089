package turn

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"conclave/internal/fakeclock"
)

// TestAnswerLimitsForgetFullBuckets: the addresses answered are forgotten once their
// bucket is full again, so that forged requests from ever new addresses (20000 here, as
// many answered as the bound in all lets through) leave no more than minAnswerSweep of
// them in memory.
func TestAnswerLimitsForgetFullBuckets(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	l := newAnswerLimits(DefaultUnauthenticatedAnswersPerAddr, DefaultUnauthenticatedAnswers, clock.Now)
	base := netip.MustParseAddr("198.18.0.0").As4()
	most := 0
	for i := range 20000 {
		a := base
		a[2], a[3] = byte(i>>8), byte(i)
		if !l.allow(net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(a), 3478))) {
			t.Fatalf("answer %d refused at a pace the bound in all allows", i)
		}
		most = max(most, len(l.byAddr))
		clock.Advance(time.Second / DefaultUnauthenticatedAnswers)
	}
	if most > minAnswerSweep {
		t.Fatalf("%d addresses kept at once, want at most %d", most, minAnswerSweep)
	}
}

// TestLeftMembersAreForgotten: the address of a member handed credentials is
// forgotten once their credentials are revoked, so that welcomes to ever new addresses
// (20000 here, each member leaving after 500 others came) leave no more than the
// members still there in memory.
func TestLeftMembersAreForgotten(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	l := newAnswerLimits(DefaultUnauthenticatedAnswersPerAddr, DefaultUnauthenticatedAnswers, clock.Now)
	base := netip.MustParseAddr("198.18.0.0").As4()
	const present = 500
	most := 0
	for i := range 20000 {
		a := base
		a[2], a[3] = byte(i>>8), byte(i)
		l.memberJoined(fmt.Sprint(i), netip.AddrFrom4(a))
		if i >= present {
			l.memberLeft(fmt.Sprint(i - present))
		}
		most = max(most, len(l.members), len(l.membersIn))
	}
	if most > present+1 {
		t.Fatalf("%d members or addresses kept at once, want at most %d", most, present+1)
	}
}

// TestRelayBucketFollowsAllocationsInAnyOrder: a UDP client whose allocation ends as
// it allocates again on the same address and port may have pion/turn report the old
// allocation deleted after the new one created, or the new one deleted before it is
// created (the old allocation's reader deletes what pion/turn holds at the five-tuple
// as the old relay closes). The client has its own bucket, beyond the bound in all,
// while it holds an allocation, and not once it holds none, whichever order the
// reports come in. The bound in all is spent by a forged source elsewhere.
func TestRelayBucketFollowsAllocationsInAnyOrder(t *testing.T) {
	client := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:5000"))
	forged := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("198.51.100.1:9"))
	for _, c := range []struct {
		name    string
		reports []bool // true: a creation, false: a deletion
		holds   bool
	}{
		{"the old one's deletion after the new one's creation", []bool{true, true, false}, true},
		{"the new one's deletion before its creation", []bool{true, false, false, true}, false},
		{"both ended", []bool{true, true, false, false}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := fakeclock.New(time.Unix(1_800_000_000, 0))
			l := newAnswerLimits(1, 1, clock.Now)
			for _, created := range c.reports {
				if created {
					l.allocationCreated(client)
				} else {
					l.allocationDeleted(client)
				}
			}
			if !l.allow(forged) {
				t.Fatal("the forged source's answer refused under the bound in all")
			}
			if got := l.allow(client); got != c.holds {
				t.Errorf("the client's answer with the bound in all spent: allowed %v, want %v", got, c.holds)
			}
			if !c.holds && (len(l.allocated) != 0 || len(l.allocatedIn) != 0) {
				t.Errorf("a client that holds nothing kept: %v, %v", l.allocated, l.allocatedIn)
			}
		})
	}
}

// FuzzUnauthenticatedAnswer: whatever the bytes, unauthenticatedAnswer does not panic
// and agrees with pion/stun's decoder: a STUN response it reads without
// MESSAGE-INTEGRITY is one, anything else (a request, an indication, a response with
// integrity) is not.
func FuzzUnauthenticatedAnswer(f *testing.F) {
	f.Add(stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassErrorResponse),
		stun.CodeUnauthorized, stun.NewNonce("abc"), stun.NewRealm("conclave")).Raw)
	f.Add(stun.MustBuild(stun.TransactionID, stun.BindingSuccess, &stun.XORMappedAddress{IP: net.IPv4(192, 0, 2, 1), Port: 9}, stun.Fingerprint).Raw)
	f.Add(stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodRefresh, stun.ClassSuccessResponse),
		stun.NewShortTermIntegrity("key"), stun.Fingerprint).Raw)
	f.Add(stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodData, stun.ClassIndication), stun.RawAttribute{Type: stun.AttrData, Value: []byte("x")}).Raw)
	f.Add(stun.MustBuild(stun.TransactionID, stun.BindingRequest).Raw)
	f.Add([]byte{0x40, 0x00, 0x00, 0x01, 0xff, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		got := unauthenticatedAnswer(b)
		m := &stun.Message{Raw: append([]byte(nil), b...)}
		if m.Decode() != nil || b[0]&0xc0 != 0 {
			// pion/turn writes no such message (a STUN message's first two bits are 0,
			// pion/stun does not look; ChannelData's are 01): any verdict will do, as
			// long as it is not an answer.
			if got && b[0]&0xc0 != 0 {
				t.Fatalf("%x: ChannelData or no STUN message taken for an answer", b)
			}
			return
		}
		response := m.Type.Class == stun.ClassSuccessResponse || m.Type.Class == stun.ClassErrorResponse
		want := response && !m.Contains(stun.AttrMessageIntegrity) && !m.Contains(stun.AttrMessageIntegritySHA256)
		if got != want {
			t.Fatalf("%x (%v): unauthenticatedAnswer = %v, want %v", b, m, got, want)
		}
	})
}
