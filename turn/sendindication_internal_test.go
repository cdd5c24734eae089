package turn

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"

	"conclave/internal/conntest"
)

// takenDatagram is what the SFU took from a relay in memory, and the relay's address
// it took it from.
type takenDatagram struct {
	from netip.AddrPort
	b    []byte
}

// sendRig is a UDP client with a relay of a directFixture's server, whose SFU takes
// what the relays send it in memory (Config.RelayUplink, as cmd sets it) and keeps
// it; the client's Send indications are written by the test on the client's socket.
type sendRig struct {
	f        *directFixture
	client   *pionturn.Client
	conn     *net.UDPConn
	relayed  net.PacketConn
	relay    *restrictedConn
	listener *net.UDPAddr
	sfu      netip.AddrPort
	taken    chan takenDatagram
}

func newSendRig(t *testing.T, opts ...func(*Config)) *sendRig {
	t.Helper()
	r := &sendRig{taken: make(chan takenDatagram, 64)}
	opts = append(opts, func(c *Config) {
		c.RelayUplink = func(ap netip.AddrPort) func([]byte) bool {
			return func(b []byte) bool {
				r.taken <- takenDatagram{from: ap, b: bytes.Clone(b)}
				return true
			}
		}
	})
	r.f = newDirectFixture(t, nil, opts...)
	var err error
	if r.conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.conn.Close() }) // after the allocation's own cleanups
	r.listener = r.f.srv.udpConn.LocalAddr().(*net.UDPAddr)
	r.sfu = r.f.sfu.LocalAddr().(*net.UDPAddr).AddrPort()
	servers := r.f.srv.ICEServers(time.Now())
	r.client, r.relayed, r.relay = r.f.allocateWith(t, r.conn, r.listener.String(), servers[0].Username, servers[0].Credential)
	return r
}

// permit has the client create a permission for the SFU's IP, as Firefox does before
// it sends.
func (r *sendRig) permit(t *testing.T) {
	t.Helper()
	if err := r.client.CreatePermission(r.f.sfu.LocalAddr()); err != nil {
		t.Fatal(err)
	}
}

// send writes msg to the listener from the client's socket.
func (r *sendRig) send(t *testing.T, msg []byte) {
	t.Helper()
	if _, err := r.conn.WriteTo(msg, r.listener); err != nil {
		t.Fatal(err)
	}
}

// next is the next datagram the SFU took.
func (r *sendRig) next(t *testing.T) takenDatagram { return nextTaken(t, r.taken) }

// nextTaken is the next datagram the SFU took on taken, of either listener's rig.
func nextTaken(t *testing.T, taken <-chan takenDatagram) takenDatagram {
	t.Helper()
	select {
	case d := <-taken:
		return d
	case <-time.After(conntest.Wait):
		t.Fatalf("the SFU took nothing within %v", conntest.Wait)
		return takenDatagram{}
	}
}

// nothingTaken reports whether the SFU took nothing of what the client sent so far:
// a Binding request's answer comes after the server handled all of it (one reader
// serves the listener, in order, and a relay's write to the SFU is done in it).
func (r *sendRig) nothingTaken(t *testing.T) bool {
	t.Helper()
	if _, err := r.client.SendBindingRequest(); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-r.taken:
		t.Logf("the SFU took %d bytes", len(d.b))
		return false
	default:
		return true
	}
}

// relayAddr is the relay's address as the SFU sees it.
func (r *sendRig) relayAddr() netip.AddrPort {
	return netip.AddrPortFrom(r.sfu.Addr(), uint16(r.relayed.LocalAddr().(*net.UDPAddr).Port))
}

func (r *sendRig) permits() int {
	r.f.srv.direct.uplink.mu.RLock()
	defer r.f.srv.direct.uplink.mu.RUnlock()
	return len(r.f.srv.direct.uplink.permits)
}

// withAttrs is a Send indication of data to peer with the attributes given after.
func withAttrs(t *testing.T, peer netip.AddrPort, data []byte, more ...stun.Setter) []byte {
	t.Helper()
	m, err := stun.Build(append([]stun.Setter{stun.TransactionID, stun.NewType(stun.MethodSend, stun.ClassIndication),
		stun.RawAttribute{Type: stun.AttrData, Value: data}, peerAddress(peer)}, more...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m.Raw
}

// TestSendIndicationsServedBeforePion: a client over UDP that binds no channel
// (Firefox) sends its media in Send indications; those to the SFU's address under the
// client's permission reach the SFU from the relay's address, served before pion/turn
// reads them, also with comprehension-optional attributes (SOFTWARE, FINGERPRINT). A
// Send indication to another port of the SFU's IP, to an IP without a permission, with
// an unknown comprehension-required attribute, cut short, filling pion/turn's read
// buffer, or from a client without an allocation goes to pion/turn, which drops it. A
// refreshed permission is still served; once the allocation is deleted, nothing is
// relayed.
func TestSendIndicationsServedBeforePion(t *testing.T) {
	r := newSendRig(t)
	r.permit(t)
	sends := func() uint64 { return r.f.srv.direct.uplink.counts.sends.Load() }
	served := func(msg, want []byte) {
		t.Helper()
		before := sends()
		r.send(t, msg)
		d := r.next(t)
		if !bytes.Equal(d.b, want) || d.from != r.relayAddr() {
			t.Fatalf("the SFU took %q from %v, want %q from the relay %v", d.b, d.from, want, r.relayAddr())
		}
		// The listener's reader counts the indication after it handed it to the SFU:
		// the answer to a Binding request says the reader is past the count.
		if _, err := r.client.SendBindingRequest(); err != nil {
			t.Fatal(err)
		}
		if got := sends() - before; got != 1 {
			t.Fatalf("%d Send indications served before pion/turn, want 1", got)
		}
	}
	media := bytes.Repeat([]byte{0x80}, 1181)
	served(buildSendIndication(t, r.sfu, media), media) // as pion/turn's client sends it
	served(withAttrs(t, r.sfu, []byte("odd"), stun.NewSoftware("nICEr"), stun.Fingerprint), []byte("odd"))

	otherPort := netip.AddrPortFrom(r.sfu.Addr(), r.sfu.Port()+1)
	cut := buildSendIndication(t, r.sfu, []byte("cut short"))
	full := buildSendIndication(t, r.sfu, make([]byte, 1600-36-8)) // pion/turn's buffer: 1600
	stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	for _, tc := range []struct {
		name string
		send func()
	}{
		{"another port of the SFU's IP", func() { r.send(t, buildSendIndication(t, otherPort, []byte("x"))) }},
		{"an IP without a permission", func() {
			r.send(t, buildSendIndication(t, netip.MustParseAddrPort("127.0.0.2:9"), []byte("x")))
		}},
		{"an unknown comprehension-required attribute", func() {
			r.send(t, withAttrs(t, r.sfu, []byte("x"), stun.RawAttribute{Type: 0x7777, Value: []byte{1, 2, 3, 4}}))
		}},
		{"cut short", func() { r.send(t, cut[:len(cut)-8]) }},
		{"filling pion/turn's buffer", func() {
			if len(full) != 1600 {
				t.Fatalf("%d bytes", len(full))
			}
			r.send(t, full)
		}},
		{"a client without an allocation", func() {
			if _, err := stranger.WriteTo(buildSendIndication(t, r.sfu, []byte("x")), r.listener); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		before := sends()
		tc.send()
		if !r.nothingTaken(t) || sends() != before {
			t.Errorf("%s: relayed (%d served before pion/turn)", tc.name, sends()-before)
		}
	}

	r.permit(t) // a refresh: pion/turn reports nothing
	served(buildSendIndication(t, r.sfu, media), media)

	// The allocation's end takes its permission out of the uplink's table.
	if err := r.relayed.Close(); err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "the allocation deleted", func() bool { return r.f.srv.AllocationCount() == 0 })
	if n := r.permits(); n != 0 {
		t.Errorf("%d permissions left in the uplink's table", n)
	}
	r.send(t, buildSendIndication(t, r.sfu, media))
	if !r.nothingTaken(t) {
		t.Fatal("a Send indication relayed after the allocation was deleted")
	}
}

// TestSendIndicationsEndWithThePermission: once the client's permission lapses, its
// Send indications are no longer relayed. The lapse is pion/turn's timer, on the
// system's clock (pion/turn takes no clock), so the lifetime is short here.
func TestSendIndicationsEndWithThePermission(t *testing.T) {
	// Long enough that pion/turn reports the permission (after its timer is armed)
	// before it lapses; the test waits for the lapse, however long it takes.
	r := newSendRig(t, func(c *Config) { c.permissionLifetime = time.Second })
	r.permit(t)
	// The relay's own routes (directevents.go) lose it at the same event.
	conntest.Eventually(t, "the permission lapsed", func() bool {
		routes := r.relay.routes.cur.Load()
		return routes != nil && len(routes.permits) == 0
	})
	r.send(t, buildSendIndication(t, r.sfu, []byte("lapsed")))
	if !r.nothingTaken(t) || r.permits() != 0 {
		t.Fatalf("a Send indication relayed after its permission lapsed (%d permissions in the uplink's table)", r.permits())
	}
}

// TestSendIndicationServedWithoutAllocating: the uplink relays a Send indication under
// a permission without an allocation (pion/turn's reader made 23 a packet).
func TestSendIndicationServedWithoutAllocating(t *testing.T) {
	client := netip.MustParseAddrPort("192.0.2.1:5000")
	sfu := netip.MustParseAddrPort("127.0.0.1:10000")
	sock := &countingPacketConn{}
	relay := &restrictedConn{PacketConn: sock, peers: newPeers([]netip.AddrPort{sfu})}
	u := udpUplink{channels: &udpChannels{}}
	u.channels.permit(client, sfu.Addr(), relay)
	msg := buildSendIndication(t, sfu, make([]byte, 1181))
	if n := testing.AllocsPerRun(100, func() { u.serve(msg, client) }); n != 0 {
		t.Errorf("%.1f allocations a Send indication", n)
	}
	if sock.writes != 101 {
		t.Fatalf("%d relayed, want 101", sock.writes)
	}
}

// FuzzSendIndication: whatever a UDP client sends, the uplink serves only a Send
// indication that pion/turn's decoder reads the same (its peer and data, nothing it
// would drop the indication for), under the client's permission, to the SFU's
// address, and relays exactly its data; and it does serve every such indication that
// is plainly formed (one peer, data, no other attribute but optional ones).
func FuzzSendIndication(f *testing.F) {
	client := netip.MustParseAddrPort("192.0.2.1:5000")
	sfu := netip.MustParseAddrPort("127.0.0.1:10000")
	for _, peer := range []netip.AddrPort{sfu, netip.MustParseAddrPort("[2001:db8::1]:10000")} {
		for _, more := range [][]stun.Setter{nil, {stun.NewSoftware("x"), stun.Fingerprint}} {
			m, err := stun.Build(append([]stun.Setter{stun.NewTransactionIDSetter([12]byte{1, 2, 3}), stun.NewType(stun.MethodSend, stun.ClassIndication),
				stun.RawAttribute{Type: stun.AttrData, Value: []byte("hello")}, peerAddress(peer)}, more...)...)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(m.Raw)
		}
	}
	// pion/stun's encoder writes an IPv4-mapped address as IPv4, so these are raw: the
	// SFU's address mapped into IPv6 (served, as pion/turn serves it under the IPv4
	// permission), and an IPv4 address cut to three bytes (pion/turn reads it, the
	// last byte 0; not served here).
	for _, v := range [][]byte{
		append([]byte{0, xorAddressFamilyIP6, 0, 0}, netip.AddrFrom16(sfu.Addr().As16()).AsSlice()...),
		{0, xorAddressFamilyIP4, 0, 0, 127, 0, 0},
	} {
		id := [12]byte{1, 2, 3}
		var key [16]byte
		binary.BigEndian.PutUint32(key[:4], stunMagicCookie)
		copy(key[4:], id[:])
		v = bytes.Clone(v)
		binary.BigEndian.PutUint16(v[2:], sfu.Port()^(stunMagicCookie>>16))
		for i := range v[4:] {
			v[4+i] ^= key[i]
		}
		m, err := stun.Build(stun.NewTransactionIDSetter(id), stun.NewType(stun.MethodSend, stun.ClassIndication),
			stun.RawAttribute{Type: stun.AttrData, Value: []byte("hello")}, stun.RawAttribute{Type: stun.AttrXORPeerAddress, Value: v})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.Raw)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sock := &recordingPacketConn{}
		relay := &restrictedConn{PacketConn: sock, peers: newPeers([]netip.AddrPort{sfu})}
		u := udpUplink{channels: &udpChannels{}}
		u.channels.permit(client, sfu.Addr(), relay)
		ind, parsed := parseSendIndication(b)
		served := u.serve(b, client)

		m := &stun.Message{Raw: bytes.Clone(b)}
		decoded := m.Decode() == nil && m.Type == stun.NewType(stun.MethodSend, stun.ClassIndication)
		// pion/turn reads the type without its first two bits, which STUN sets to 0.
		plain := decoded && len(b) == stunHeader+int(m.Length) && b[0] == 0
		var peers, datas int
		for _, a := range m.Attributes {
			switch {
			case a.Type == stun.AttrXORPeerAddress:
				peers++
				if !(len(a.Value) == 8 && a.Value[0] == 0 && a.Value[1] == 1) && !(len(a.Value) == 20 && a.Value[0] == 0 && a.Value[1] == 2) {
					plain = false
				}
			case a.Type == stun.AttrData:
				datas++
				plain = plain && len(a.Value) > 0
			case a.Type < attrOptional:
				plain = false
			}
			if a.Type.Required() && !a.Type.Known() {
				decoded = false // pion/turn drops the indication
			}
		}
		plain = plain && peers == 1 && datas == 1
		if plain != parsed {
			t.Fatalf("%x: parsed %v, want %v", b, parsed, plain)
		}
		if !parsed {
			if served || len(sock.wrote) != 0 {
				t.Fatalf("%x: not a Send indication to serve, but served", b)
			}
			return
		}
		if !decoded {
			t.Fatalf("%x: parsed, but pion/turn drops it", b)
		}
		var addr stun.XORMappedAddress
		if err := addr.GetFromAs(m, stun.AttrXORPeerAddress); err != nil {
			t.Fatalf("%x: pion/turn reads no peer: %v", b, err)
		}
		ip, _ := netip.AddrFromSlice(addr.IP)
		data, _ := m.Get(stun.AttrData)
		if ind.peer != netip.AddrPortFrom(ip.Unmap(), uint16(addr.Port)) || !bytes.Equal(ind.data, data) {
			t.Fatalf("%x: parsed %v, %x; pion/turn reads %v, %x", b, ind.peer, ind.data, addr, data)
		}
		switch {
		case served != (ind.peer == sfu):
			t.Fatalf("%x: to %v served %v", b, ind.peer, served)
		case served && (len(sock.wrote) != 1 || !bytes.Equal(sock.wrote[0], data)):
			t.Fatalf("%x: relayed %x", b, sock.wrote)
		case !served && len(sock.wrote) != 0:
			t.Fatalf("%x: left to pion/turn but relayed %x", b, sock.wrote)
		}
	})
}
