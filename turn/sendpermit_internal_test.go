package turn

import (
	"net"
	"testing"
	"time"

	"conclave/internal/conntest"
)

// TestPermitReportedAfterItsDeletionEndsWithTheRelay: pion/turn reports a permission
// it creates after it lets go of the allocation's lock (Allocation.AddPermission), and
// an allocation that ends meanwhile on another goroutine (its lifetime's timer, a
// revocation) reports the permission's deletion first, then closes the relay: the
// creation reported last must not leave a permission in the uplink's table that
// nothing takes out. pion/turn's order cannot be forced from outside, so the test
// reports the two events itself, in that order, for the client's real allocation,
// which pion/turn has granted nothing; the allocation then ends as a client's
// Refresh of lifetime 0 ends it. Another client's permission stays and is served.
func TestPermitReportedAfterItsDeletionEndsWithTheRelay(t *testing.T) {
	r := newSendRig(t)
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	servers := r.f.srv.ICEServers(time.Now())
	otherClient, _, _ := r.f.allocateWith(t, other, r.listener.String(), servers[0].Username, servers[0].Credential)
	if err := otherClient.CreatePermission(r.f.sfu.LocalAddr()); err != nil {
		t.Fatal(err)
	}

	d := r.f.srv.direct
	src, sfuIP := r.conn.LocalAddr(), r.f.sfu.LocalAddr().(*net.UDPAddr).IP
	user := r.f.relayAt(r.relayed.LocalAddr()).user
	d.permissionDeleted(src, r.listener, "UDP", user, "", r.relayed.LocalAddr(), sfuIP)
	d.permissionCreated(src, r.listener, "UDP", user, "", r.relayed.LocalAddr(), sfuIP)
	if n := r.permits(); n != 2 {
		t.Fatalf("%d permissions in the uplink's table, want the two clients'", n)
	}

	if err := r.relayed.Close(); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the allocation deleted", func() bool { return r.f.srv.AllocationCount() == 1 })
	if n := r.permits(); n != 1 {
		t.Errorf("%d permissions in the uplink's table after the allocation ended, want the other client's", n)
	}
	u := &r.f.srv.direct.uplink
	u.mu.RLock()
	_, kept := u.held[r.relay]
	u.mu.RUnlock()
	if kept {
		t.Error("the uplink still holds the ended allocation's relay")
	}
	// A report later still, whose relay was found registered before the close and
	// is recorded after it (permissionCreated's route, then permit), records nothing.
	client := r.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	u.permit(client, r.sfu.Addr(), r.relay)
	if n := r.permits(); n != 1 {
		t.Errorf("%d permissions in the uplink's table after one through the closed relay, want the other client's", n)
	}
	r.send(t, buildSendIndication(t, r.sfu, []byte("gone")))
	if !r.nothingTaken(t) {
		t.Error("a Send indication relayed after the allocation ended")
	}
	if _, err := other.WriteTo(buildSendIndication(t, r.sfu, []byte("kept")), r.listener); err != nil {
		t.Fatal(err)
	}
	if got := r.next(t); string(got.b) != "kept" {
		t.Fatalf("the SFU took %q, want the other client's", got.b)
	}
}
