package turn

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"conclave/internal/conntest"
)

// streamSendRig is a streamRig whose SFU keeps what it takes, for the tests of the
// Send indications of a client over TCP or TLS.
type streamSendRig struct {
	*streamRig
	taken chan takenDatagram
}

func newStreamSendRig(t *testing.T, overTLS bool, opts ...func(*Config)) *streamSendRig {
	t.Helper()
	taken := make(chan takenDatagram, 64)
	r := newStreamRig(t, overTLS, func(from netip.AddrPort, b []byte) {
		taken <- takenDatagram{from: from, b: bytes.Clone(b)}
	}, opts...)
	return &streamSendRig{streamRig: r, taken: taken}
}

// next is the next datagram the SFU took.
func (r *streamSendRig) next(t *testing.T) takenDatagram { return nextTaken(t, r.taken) }

// nothingTaken reports whether the SFU took nothing of what the client sent so far
// (settle: the server has handled all of it).
func (r *streamSendRig) nothingTaken(t *testing.T) bool {
	t.Helper()
	r.settle(t)
	select {
	case d := <-r.taken:
		t.Logf("the SFU took %d bytes", len(d.b))
		return false
	default:
		return true
	}
}

// relayAddr is the relay's address as the SFU sees it.
func (r *streamRig) relayAddr() netip.AddrPort {
	return netip.AddrPortFrom(r.sfu.Addr(), uint16(r.relayed.LocalAddr().(*net.UDPAddr).Port))
}

// stream is the server's record of the client's connection, nil once it is closed.
func (r *streamRig) stream() *stream {
	key, ok := streamKeyOf(r.conn.LocalAddr(), r.conn.RemoteAddr())
	if !ok {
		return nil
	}
	r.f.srv.direct.streams.mu.Lock()
	defer r.f.srv.direct.streams.mu.Unlock()
	return r.f.srv.direct.streams.m[key]
}

// permits is how many permissions the connection's reader knows of.
func (r *streamRig) permits(t *testing.T) int {
	t.Helper()
	st := r.stream()
	if st == nil {
		t.Fatal("the connection is not registered")
	}
	if l := st.permits.cur.Load(); l != nil {
		return len(*l)
	}
	return 0
}

// TestStreamSendIndicationsServedBeforePion: a client over TCP or TLS that binds no
// channel (Firefox behind a firewall that lets only TCP through) sends its media in
// Send indications on its connection; those to the SFU's address under the client's
// permission reach the SFU from the relay's address, served before pion/turn reads
// them, also with comprehension-optional attributes and several in one write. A Send
// indication to another port of the SFU's IP, to an IP without a permission, with an
// unknown comprehension-required attribute, filling pion/turn's read buffer, or on a
// connection without an allocation goes to pion/turn, which drops it; one larger than
// pion/turn's buffer makes pion/turn close the connection, as before. A refreshed
// permission is still served; once the allocation is deleted, nothing is relayed.
func TestStreamSendIndicationsServedBeforePion(t *testing.T) {
	for _, overTLS := range []bool{false, true} {
		name := "tcp"
		if overTLS {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) { testStreamSendIndications(t, overTLS) })
	}
}

func testStreamSendIndications(t *testing.T, overTLS bool) {
	r := newStreamSendRig(t, overTLS)
	r.permit(t)
	sends := func() uint64 { return r.stream().counts.sends.Load() }
	served := func(msg []byte, want ...[]byte) {
		t.Helper()
		before := sends()
		r.write(t, msg)
		for _, w := range want {
			d := r.next(t)
			if !bytes.Equal(d.b, w) || d.from != r.relayAddr() {
				t.Fatalf("the SFU took %q from %v, want %q from the relay %v", d.b, d.from, w, r.relayAddr())
			}
		}
		if got := sends() - before; got != uint64(len(want)) {
			t.Fatalf("%d Send indications served before pion/turn, want %d", got, len(want))
		}
	}
	media := bytes.Repeat([]byte{0x80}, 1181)
	served(buildSendIndication(t, r.sfu, media), media) // as pion/turn's client sends it
	served(withAttrs(t, r.sfu, []byte("odd"), stun.NewSoftware("nICEr"), stun.Fingerprint), []byte("odd"))
	served(append(buildSendIndication(t, r.sfu, []byte("one")), buildSendIndication(t, r.sfu, []byte("two"))...),
		[]byte("one"), []byte("two"))

	// pion/turn's read buffer is 1600 bytes: it drops a frame that fills it.
	full := withAttrs(t, r.sfu, make([]byte, 1400), stun.NewSoftware(string(bytes.Repeat([]byte("s"), 160))))
	if len(full) != pionInboundMTU {
		t.Fatalf("a Send indication of %d bytes, want %d", len(full), pionInboundMTU)
	}
	otherPort := netip.AddrPortFrom(r.sfu.Addr(), r.sfu.Port()+1)
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"another port of the SFU's IP", buildSendIndication(t, otherPort, []byte("x"))},
		{"an IP without a permission", buildSendIndication(t, netip.MustParseAddrPort("127.0.0.2:9"), []byte("x"))},
		{"an unknown comprehension-required attribute", withAttrs(t, r.sfu, []byte("x"), stun.RawAttribute{Type: 0x7777, Value: []byte{1, 2, 3, 4}})},
		{"filling pion/turn's buffer", full},
	} {
		before := sends()
		r.write(t, tc.msg)
		if !r.nothingTaken(t) || sends() != before {
			t.Errorf("%s: relayed (%d served before pion/turn)", tc.name, sends()-before)
		}
	}

	// A connection without an allocation: pion/turn answers its Binding request, after
	// it dropped the Send indication.
	stranger := r.dialRaw(t)
	binding := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	if _, err := stranger.Write(append(buildSendIndication(t, r.sfu, []byte("x")), binding.Raw...)); err != nil {
		t.Fatal(err)
	}
	if answer := readSTUN(t, stranger); answer.Type != stun.BindingSuccess || answer.TransactionID != binding.TransactionID {
		t.Fatalf("a connection without an allocation was answered %v", answer.Type)
	}
	if len(r.taken) != 0 {
		t.Error("a Send indication relayed from a connection without an allocation")
	}

	// Larger than pion/turn's buffer: pion/turn closes the connection, having relayed
	// nothing (another client's, holding a permission).
	o := r.another(t)
	o.permit(t)
	o.write(t, withAttrs(t, r.sfu, make([]byte, 1400), stun.NewSoftware(string(bytes.Repeat([]byte("s"), 164)))))
	conntest.Eventually(t, "the connection closed", func() bool { return o.stream() == nil })
	if len(r.taken) != 0 {
		t.Error("a Send indication larger than pion/turn's buffer relayed")
	}

	r.permit(t) // a refresh: pion/turn reports nothing
	served(buildSendIndication(t, r.sfu, media), media)

	// The allocation's end takes its permission out of the connection's; the
	// connection stays, and its Send indications go to pion/turn.
	if err := r.relayed.Close(); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the allocation deleted", func() bool { return r.f.srv.AllocationCount() == 0 })
	if n := r.permits(t); n != 0 {
		t.Errorf("%d permissions left on the connection", n)
	}
	r.write(t, buildSendIndication(t, r.sfu, media))
	if !r.nothingTaken(t) {
		t.Fatal("a Send indication relayed after the allocation was deleted")
	}
}

// dialRaw opens a connection to r's listener, TLS over TLS, with no client on it.
func (r *streamRig) dialRaw(t *testing.T) net.Conn {
	t.Helper()
	var c net.Conn
	var err error
	if r.overTLS {
		c, err = tls.Dial("tcp", r.f.srv.tlsLn.Addr().String(), &tls.Config{RootCAs: r.cert.Pool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	} else {
		c, err = net.Dial("tcp", r.f.srv.tcpLn.Addr().String())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readSTUN reads a STUN message off a stream.
func readSTUN(t *testing.T, c net.Conn) *stun.Message {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(conntest.Wait))
	b := make([]byte, stunHeader)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	b = append(b, make([]byte, binary.BigEndian.Uint16(b[2:]))...)
	if _, err := io.ReadFull(c, b[stunHeader:]); err != nil {
		t.Fatal(err)
	}
	m := &stun.Message{Raw: b}
	if err := m.Decode(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestStreamPermitReportedAfterItsDeletionEndsWithTheRelay: pion/turn reports a
// permission it creates after it lets go of the allocation's lock, and an allocation
// that ends meanwhile reports the permission's deletion first, then closes the relay
// (sendpermit_internal_test.go has the UDP client's case): the creation reported last
// must not leave a permission on a TCP connection that outlives its allocation, nor
// pin the closed relay. The test reports the two events itself, in that order, for
// the client's real allocation, which pion/turn has granted nothing; the allocation
// then ends as a client's Refresh of lifetime 0 ends it, and the connection stays.
// Another connection's permission stays and is served.
func TestStreamPermitReportedAfterItsDeletionEndsWithTheRelay(t *testing.T) {
	r := newStreamSendRig(t, false)
	o := r.another(t)
	o.permit(t)

	d := r.f.srv.direct
	src, dst := r.conn.LocalAddr(), r.conn.RemoteAddr()
	user := r.f.relayAt(r.relayed.LocalAddr()).user
	sfuIP := r.f.sfu.LocalAddr().(*net.UDPAddr).IP
	d.permissionDeleted(src, dst, "TCP", user, "", r.relayed.LocalAddr(), sfuIP)
	d.permissionCreated(src, dst, "TCP", user, "", r.relayed.LocalAddr(), sfuIP)
	if n := r.permits(t); n != 1 {
		t.Fatalf("%d permissions on the connection, want the one reported", n)
	}

	if err := r.relayed.Close(); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the allocation deleted", func() bool { return r.f.srv.AllocationCount() == 1 })
	if n := r.permits(t); n != 0 {
		t.Errorf("%d permissions on the connection after its allocation ended, want 0", n)
	}
	d.streams.mu.Lock()
	_, kept := d.streams.held[r.relay]
	d.streams.mu.Unlock()
	if kept {
		t.Error("the registry still holds the ended allocation's relay")
	}
	// A report later still, whose relay was found registered before the close and
	// is recorded after it (permissionCreated's route, then permit), records nothing.
	d.streams.permit(src, dst, r.sfu.Addr(), r.relay)
	if n := r.permits(t); n != 0 {
		t.Errorf("%d permissions on the connection after one through the closed relay, want 0", n)
	}
	r.write(t, buildSendIndication(t, r.sfu, []byte("gone")))
	if !r.nothingTaken(t) {
		t.Error("a Send indication relayed after the allocation ended")
	}
	o.write(t, buildSendIndication(t, o.sfu, []byte("kept")))
	if got := r.next(t); string(got.b) != "kept" || got.from != o.relayAddr() {
		t.Fatalf("the SFU took %q from %v, want the other client's from %v", got.b, got.from, o.relayAddr())
	}
}

// TestStreamSendIndicationsEndWithThePermission: once the permission of a client over
// TCP lapses, its Send indications are no longer relayed. The lapse is pion/turn's
// timer, on the system's clock (pion/turn takes no clock), so the lifetime is short
// here; the test waits for the lapse, however long it takes.
func TestStreamSendIndicationsEndWithThePermission(t *testing.T) {
	r := newStreamSendRig(t, false, func(c *Config) { c.permissionLifetime = time.Second })
	r.permit(t)
	// The relay's own routes (directevents.go) lose it at the same event.
	conntest.Eventually(t, "the permission lapsed", func() bool {
		routes := r.relay.routes.cur.Load()
		return routes != nil && len(routes.permits) == 0
	})
	r.write(t, buildSendIndication(t, r.sfu, []byte("lapsed")))
	if !r.nothingTaken(t) || r.permits(t) != 0 {
		t.Fatalf("a Send indication relayed after its permission lapsed (%d permissions on the connection)", r.permits(t))
	}
}

// TestStreamUplinkServesSendWithoutAllocating: a burst of Send indications read off a
// stream in one read is relayed without an allocation (pion/turn's reader made 23 a
// packet).
func TestStreamUplinkServesSendWithoutAllocating(t *testing.T) {
	frame := buildSendIndication(t, uplinkSFU, make([]byte, 1181))
	binding := []byte("\x00\x01\x00\x00\x21\x12\xa4\x42twelve bytes")
	burst := append(bytes.Repeat(frame, 8), binding...)
	conn := &chunkedConn{chunk: 64 << 10}
	sock := &countingPacketConn{}
	u := uplinkOn(conn, sock)
	p := make([]byte, 1600)
	read := func() {
		conn.data = burst
		if n, err := u.Read(p); err != nil || !bytes.Equal(p[:n], binding) {
			t.Fatalf("read %x, %v; want the Binding request", p[:n], err)
		}
	}
	read() // the buffer grows to its size
	read()
	if allocs := testing.AllocsPerRun(100, read); allocs != 0 {
		t.Fatalf("%v allocations a burst, want 0", allocs)
	}
	if sock.writes != 8*103 {
		t.Fatalf("%d datagrams relayed, want %d", sock.writes, 8*103)
	}
	if got := u.st.counts.sends.Load(); got != 8*103 {
		t.Fatalf("%d Send indications counted, want %d", got, 8*103)
	}
}

// TestStreamPermitsAreEachConnections: a client's permissions are its connection's
// allocation's. A second connection of the same client (another port of its address,
// as a browser's publish and subscribe connections are) holds none until it creates
// its own, and its Send indications are not relayed until then; a new allocation on a
// connection whose allocation ended inherits nothing of the old one: its Send
// indications are relayed only once it creates its own permission, and through its
// own relay.
func TestStreamPermitsAreEachConnections(t *testing.T) {
	for _, overTLS := range []bool{false, true} {
		name := "tcp"
		if overTLS {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) {
			r := newStreamSendRig(t, overTLS)
			o := r.another(t)
			servedFrom := func(c *streamRig, data string) {
				t.Helper()
				c.write(t, buildSendIndication(t, c.sfu, []byte(data)))
				if d := r.next(t); string(d.b) != data || d.from != c.relayAddr() {
					t.Fatalf("the SFU took %q from %v, want %q from the relay %v", d.b, d.from, data, c.relayAddr())
				}
			}
			notServed := func(c *streamRig, what string) {
				t.Helper()
				c.write(t, buildSendIndication(t, c.sfu, []byte(what)))
				if !c.nothingTakenBy(t, r) {
					t.Fatalf("%s: relayed", what)
				}
			}

			r.permit(t)
			servedFrom(r.streamRig, "first connection")
			notServed(o, "second connection before its permission")
			o.permit(t)
			servedFrom(o, "second connection")
			servedFrom(r.streamRig, "first connection again")

			if err := r.relayed.Close(); err != nil { // a Refresh of lifetime 0
				t.Fatal(err)
			}
			conntest.Eventually(t, "the first allocation deleted", func() bool { return r.f.srv.AllocationCount() == 1 })
			old := r.relayAddr()
			relayed, err := r.client.Allocate()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = relayed.Close() })
			r.relayed, r.relay = relayed, r.f.relayAt(relayed.LocalAddr())
			if r.relayAddr() == old {
				t.Fatalf("the new allocation has the old relay %v", old)
			}
			notServed(r.streamRig, "new allocation before its permission")
			if n := r.permits(t); n != 0 {
				t.Fatalf("%d permissions on the connection of a new allocation, want 0", n)
			}
			r.permit(t)
			servedFrom(r.streamRig, "new allocation")
			servedFrom(o, "second connection after the first's new allocation")
		})
	}
}

// nothingTakenBy reports whether the SFU of rig took nothing of what c sent so far.
func (c *streamRig) nothingTakenBy(t *testing.T, rig *streamSendRig) bool {
	t.Helper()
	c.settle(t)
	select {
	case d := <-rig.taken:
		t.Logf("the SFU took %q from %v", d.b, d.from)
		return false
	default:
		return true
	}
}
