package shapedturn

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"conclave/internal/fakeclock"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v5"
)

// TestRelayShapesPeerToClientOnly: through a real TURN allocation, what the peer sends
// to the client passes Burst bytes while the (fake) clock stands still, the queue holds
// QueueBytes and the rest is dropped; what the client sends to the peer is not shaped;
// the held packets follow once the clock moves.
func TestRelayShapesPeerToClientOnly(t *testing.T) {
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	clock := fakeclock.New(time.Unix(1000, 0))
	srv, err := New(Config{Peers: []netip.AddrPort{peer.LocalAddr().(*net.UDPAddr).AddrPort()}, Shape: slow, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	logs := logging.NewDefaultLoggerFactory()
	logs.DefaultLogLevel = logging.LogLevelDisabled
	host := srv.URL()[len("turn:") : len(srv.URL())-len("?transport=udp")]
	client, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: host, TURNServerAddr: host, Conn: conn,
		Username: srv.Username(), Password: srv.Password(), Realm: realm, LoggerFactory: logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := client.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()

	// Client to peer: ten packets of 1000 bytes, all arrive (and open the permission).
	buf := make([]byte, 2000)
	for i := range 10 {
		if _, err := relay.WriteTo(bytes.Repeat([]byte{byte(i)}, 1000), peer.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	_ = peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	var relayAddr net.Addr
	for i := range 10 {
		n, from, err := peer.ReadFrom(buf)
		if err != nil || n != 1000 {
			t.Fatalf("peer got %d of 10 unshaped packets: %d %v", i, n, err)
		}
		relayAddr = from
	}

	// Peer to client: ten packets of 1000 bytes into a 3000-byte queue behind a
	// 2000-byte bucket that does not refill while the clock stands still.
	for i := range 10 {
		if _, err := peer.WriteTo(bytes.Repeat([]byte{byte(i)}, 1000), relayAddr); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for n := srv.Counts(); n.PassedPackets+n.DroppedPackets+int64(n.QueuedBytes/1000) < 10; n = srv.Counts() {
		if time.Now().After(deadline) {
			t.Fatalf("relay saw %+v of ten packets", n)
		}
		time.Sleep(time.Millisecond)
	}
	if n := srv.Counts(); n.DroppedPackets != 5 || n.PassedPackets+int64(n.QueuedBytes/1000) != 5 {
		t.Fatalf("counts %+v, want 5 dropped (2 due now, 3 queued)", n)
	}
	_ = relay.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := func(want byte) {
		t.Helper()
		n, _, err := relay.ReadFrom(buf)
		if err != nil || n != 1000 || buf[0] != want {
			t.Fatalf("client read %d bytes starting %d (%v), want packet %d", n, buf[0], err, want)
		}
	}
	got(0)
	got(1)
	if n := srv.Counts(); n.PassedPackets != 2 || n.QueuedBytes != 3000 {
		t.Fatalf("with the clock standing: %+v, want 2 passed and 3000 bytes waiting", n)
	}
	clock.Advance(3 * time.Second)
	got(2)
	got(3)
	got(4)
	if n := srv.Counts(); n.PassedPackets != 5 || n.QueuedBytes != 0 {
		t.Fatalf("after 3 s: %+v", n)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := New(Config{Shape: slow}); err == nil {
		t.Error("no peers: want an error")
	}
	if _, err := New(Config{Peers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}, Shape: Shape{Rate: 1}}); err == nil {
		t.Error("bad shape: want an error")
	}
}
