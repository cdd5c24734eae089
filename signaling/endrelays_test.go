package signaling_test

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"conclave/internal/benchonce"
	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/sfu"
	"conclave/signaling"
	"conclave/turn"
)

// relayedMeeting is a server whose members get credentials of an embedded TURN
// server wired to its SFU as cmd/conclave wires them (turn.Config.LocalRelay and
// RelayUplink are the engine's), so that ending a meeting closes real relays the SFU
// hands its datagrams to in memory.
type relayedMeeting struct {
	srv  *testServer
	turn *turn.Server
	addr string // the TURN server's UDP address
}

// turnICE is cmd/conclave's adapter of the TURN server to signaling.ICESource.
type turnICE struct{ srv *turn.Server }

func (t *turnICE) ICEServers(now time.Time, member netip.Addr) []signaling.ICEServer {
	var out []signaling.ICEServer
	for _, s := range t.srv.ICEServersFor(now, member) {
		out = append(out, signaling.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}

func (t *turnICE) Revoke(servers []signaling.ICEServer) {
	for _, s := range servers {
		t.srv.Revoke(s.Username)
	}
}

func newRelayedMeeting(tb testing.TB, members int) *relayedMeeting {
	tb.Helper()
	ice := &turnICE{}
	// Every member joins from 127.0.0.1: its knocks (MaxConnsPerAddr at once) must
	// last all the iterations.
	srv := newTestServerWith(tb, signaling.Config{ICE: ice, MaxConnsPerAddr: 1 << 20, MaxParticipants: members})
	media := srv.engine.UDPAddr().(*net.UDPAddr).AddrPort()
	ts, err := turn.New(turn.Config{UDPAddr: "127.0.0.1:0", Host: "127.0.0.1", RelayIP: netip.MustParseAddr("127.0.0.1"),
		RelayBind: "127.0.0.1", Peers: []netip.AddrPort{media}, BatchUDP: sfu.BatchUDP,
		LocalRelay: srv.engine.AddLocalRelay, RelayUplink: srv.engine.RelayUplink,
		MaxAllocations: 16 * members, UnauthenticatedAnswersPerAddr: 1 << 20, UnauthenticatedAnswers: 1 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ts.Close() })
	ice.srv = ts
	r := &relayedMeeting{srv: srv, turn: ts}
	for _, u := range ts.URLs() {
		if a, ok := cutTURN(u, "udp"); ok {
			r.addr = a
		}
	}
	return r
}

// cutTURN is the address of a turn: URL over transport.
func cutTURN(u, transport string) (string, bool) {
	rest, ok := strings.CutPrefix(u, "turn:")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "?transport="+transport)
}

// relayedMember is a member of the meeting and the relays its credentials opened.
type relayedMember struct {
	c       *testclient.Client
	ice     signaling.ICEServer
	relays  []net.PacketConn
	clients []*pionturn.Client
}

// join lets n members into a new meeting, each opening perMember relays over UDP with
// its welcome's credentials (a browser opens one a peer connection and TURN URL: two
// over UDP for its publish and subscribe connections).
func (r *relayedMeeting) join(tb testing.TB, n, perMember int) (string, []*relayedMember) {
	tb.Helper()
	id := r.srv.createMeeting(tb)
	members := make([]*relayedMember, n)
	for i := range members {
		c := r.srv.join(tb, id, fmt.Sprintf("P%d", i))
		servers := welcomeOf(tb, c).ICEServers
		if len(servers) != 1 {
			tb.Fatalf("welcome's iceServers %+v", servers)
		}
		m := &relayedMember{c: c, ice: servers[0]}
		for range perMember {
			client, relay := r.allocate(tb, m.ice)
			m.clients, m.relays = append(m.clients, client), append(m.relays, relay)
		}
		members[i] = m
	}
	return id, members
}

// allocate opens a relay with ice's credentials.
func (r *relayedMeeting) allocate(tb testing.TB, ice signaling.ICEServer) (*pionturn.Client, net.PacketConn) {
	tb.Helper()
	client, relay, err := r.tryAllocate(ice)
	if err != nil {
		tb.Fatalf("allocate: %v", err)
	}
	return client, relay
}

func (r *relayedMeeting) tryAllocate(ice signaling.ICEServer) (*pionturn.Client, net.PacketConn, error) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	client, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: r.addr, TURNServerAddr: r.addr,
		Username: ice.Username, Password: ice.Credential, Conn: conn})
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	if err := client.Listen(); err != nil {
		client.Close()
		_ = conn.Close()
		return nil, nil, err
	}
	relay, err := client.Allocate()
	if err != nil {
		client.Close()
		_ = conn.Close()
		return nil, nil, err
	}
	return client, relay, nil
}

func (m *relayedMember) close() {
	for _, r := range m.relays {
		_ = r.Close()
	}
	for _, c := range m.clients {
		c.Close()
	}
	m.c.Close()
}

// BenchmarkEndMeetingWithRelays ends a meeting of n members, each holding two relays
// of the embedded TURN server, as the server ends it (its room deleted): the time and
// allocations of the end itself, everything under the meeting's lock (the members
// ejected and told, their credentials revoked, their relays ended and taken out of
// the SFU's table of local relays), and the room's media closed. The relays' sockets
// are closed a moment later, on the TURN server's goroutines (turn.Server.Revoke),
// which the timer does not wait for. relays=0 is the same
// meeting without relays, for what the relays add. Every iteration joins a meeting
// whose set-up is not timed: run it with -benchtime=Nx (a time would have it make
// thousands of meetings).
func BenchmarkEndMeetingWithRelays(b *testing.B) {
	for _, n := range []int{25, 100, 200} {
		for _, per := range []int{0, 2} {
			b.Run(fmt.Sprintf("members=%d/relays=%d", n, per), func(b *testing.B) { benchEndMeeting(b, n, per) })
		}
	}
}

func benchEndMeeting(b *testing.B, n, perMember int) {
	r := newRelayedMeeting(b, n)
	b.ReportAllocs()
	b.StopTimer()
	for range b.N {
		id, members := r.join(b, n, perMember)
		if got, want := r.turn.AllocationCount(), n*perMember; got != want {
			b.Fatalf("%d allocations, want %d", got, want)
		}
		b.StartTimer()
		signaling.EndMeeting(r.srv.sig, id)
		b.StopTimer()
		for _, m := range members {
			m.close()
		}
		conntest.Eventually(b, "the relays closed", func() bool { return r.turn.AllocationCount() == 0 })
	}
	b.ReportMetric(float64(n*perMember), "relays")
}

// TestEndMeetingBenchmarkRuns runs one iteration of BenchmarkEndMeetingWithRelays'
// smallest meeting, a meeting of 25 with relays (benchonce).
func TestEndMeetingBenchmarkRuns(t *testing.T) {
	benchonce.Run(t, benchonce.Benchmark{Name: "EndMeetingWithRelays/25", F: func(b *testing.B) { benchEndMeeting(b, 25, 2) }})
}

// TestEndedMeetingsRelaysAreClosed: a meeting ended by the server closes every relay
// its members' credentials opened, and those credentials open none again, while the
// relays of a member of another meeting stay and its credentials still work.
func TestEndedMeetingsRelaysAreClosed(t *testing.T) {
	const n, per = 25, 2
	r := newRelayedMeeting(t, n)
	id, members := r.join(t, n, per)
	_, others := r.join(t, 1, per)
	if got := r.turn.AllocationCount(); got != (n+1)*per {
		t.Fatalf("%d allocations, want %d", got, (n+1)*per)
	}
	signaling.EndMeeting(r.srv.sig, id)
	for i, m := range members {
		if client, relay, err := r.tryAllocate(m.ice); err == nil {
			_ = relay.Close()
			client.Close()
			t.Fatalf("member %d of the ended meeting opened a relay", i)
		}
	}
	conntest.Eventually(t, "the ended meeting's relays closed", func() bool { return r.turn.AllocationCount() == per })
	client, relay := r.allocate(t, others[0].ice)
	defer client.Close()
	defer relay.Close()
	if got := r.turn.AllocationCount(); got != per+1 {
		t.Fatalf("%d allocations after the other meeting's member opened one more, want %d", got, per+1)
	}
	for _, m := range append(members, others...) {
		m.close()
	}
}
