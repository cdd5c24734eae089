package turn

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"

	"conclave/internal/conntest"
	"conclave/internal/testcert"
	"conclave/rawstream"
)

// TestDataIndicationDecodes checks the Data indications a relay writes itself against
// pion/stun's decoder: type, the SFU's address, the data, the padding.
func TestDataIndicationDecodes(t *testing.T) {
	for _, peer := range []netip.AddrPort{
		netip.MustParseAddrPort("192.0.2.7:10000"),
		netip.MustParseAddrPort("[2001:db8::7]:443"),
	} {
		for _, size := range []int{0, 1, 3, 4, 1181} {
			data := bytes.Repeat([]byte{0xa5}, size)
			raw := appendDataIndication(nil, peer, data)
			if len(raw)%4 != 0 {
				t.Fatalf("%v, %d bytes: message of %d bytes is not padded", peer, size, len(raw))
			}
			m := &stun.Message{Raw: raw}
			if err := m.Decode(); err != nil {
				t.Fatalf("%v, %d bytes: %v", peer, size, err)
			}
			if m.Type != stun.NewType(stun.MethodData, stun.ClassIndication) {
				t.Fatalf("%v: type %v", peer, m.Type)
			}
			var addr stun.XORMappedAddress
			if err := addr.GetFromAs(m, stun.AttrXORPeerAddress); err != nil {
				t.Fatal(err)
			}
			got, _ := netip.AddrFromSlice(addr.IP)
			if netip.AddrPortFrom(got.Unmap(), uint16(addr.Port)) != peer {
				t.Fatalf("peer address %v, want %v", addr, peer)
			}
			if d, err := m.Get(stun.AttrData); err != nil || !bytes.Equal(d, data) {
				t.Fatalf("%v, %d bytes: data %x (%v)", peer, size, d, err)
			}
		}
	}
}

// TestRelayWritesToItsClientDirectly: a pion/turn client over UDP, TCP and TLS
// allocates a relay and sends to the SFU, which binds a channel; what the SFU then
// hands the relay in memory reaches the client from the SFU's address, written by the
// relay itself as ChannelData; with the channel gone (as for a client that binds none,
// such as Firefox) it goes as a Data indication under the client's permission.
func TestRelayWritesToItsClientDirectly(t *testing.T) {
	cert := testcert.New(t)
	for _, transport := range []string{"udp", "tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			f := newDirectFixture(t, &tls.Config{Certificates: []tls.Certificate{cert.TLS}, MinVersion: tls.VersionTLS12})
			servers := f.srv.ICEServers(time.Now())
			user, pass := servers[0].Username, servers[0].Credential
			var conn net.PacketConn
			var addr string
			switch transport {
			case "udp":
				c, err := net.ListenPacket("udp4", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				conn, addr = c, f.srv.udpConn.LocalAddr().String()
			case "tcp":
				addr = f.srv.tcpLn.Addr().String()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				conn = pionturn.NewSTUNConn(c)
			case "tls":
				addr = f.srv.tlsLn.Addr().String()
				c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: cert.Pool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
				if err != nil {
					t.Fatal(err)
				}
				conn = pionturn.NewSTUNConn(c)
			}
			t.Cleanup(func() { _ = conn.Close() }) // after the allocation's own cleanups
			relayed, relay := f.allocate(t, conn, addr, user, pass)
			if transport != "udp" && runtime.GOOS == "linux" {
				// A TCP or TLS connection is read and written with raw system calls.
				f.srv.direct.streams.mu.Lock()
				for _, st := range f.srv.direct.streams.m {
					if _, ok := st.q.Conn.(*rawstream.Conn); !ok {
						t.Errorf("a connection below its queue is a %T", st.q.Conn)
					}
				}
				f.srv.direct.streams.mu.Unlock()
			}

			// The client's sends make a permission and a channel (pion/turn's
			// client binds one in the background after its first send).
			bound := func() bool {
				r := relay.routes.cur.Load()
				return r != nil && len(r.channels) == 1
			}
			conntest.Eventually(t, "a channel bound", func() bool {
				if _, err := relayed.WriteTo([]byte("ping"), f.sfu.LocalAddr()); err != nil {
					t.Fatal(err)
				}
				return bound()
			})

			// The server binds the channel before it answers: what it writes on the
			// channel before the client has the answer is dropped by the client.
			// Probes until one arrives.
			buf := make([]byte, 1500)
			conntest.Eventually(t, "a probe at the client", func() bool {
				f.hand(t, relayed.LocalAddr(), []byte("probe"))
				_ = relayed.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				_, _, err := relayed.ReadFrom(buf)
				return err == nil
			})
			{
				// The client's ChannelData to the SFU is relayed before pion/turn
				// reads it (uplink.go, streamuplink.go).
				sfuBuf := make([]byte, 1500)
				for i := 0; ; i++ {
					if i == 50 {
						t.Fatal("no ChannelData served before pion/turn")
					}
					before := f.servedBeforePion()
					if _, err := relayed.WriteTo([]byte("uplink"), f.sfu.LocalAddr()); err != nil {
						t.Fatal(err)
					}
					for {
						_ = f.sfu.SetReadDeadline(time.Now().Add(conntest.Wait))
						n, from, err := f.sfu.ReadFrom(sfuBuf)
						if err != nil {
							t.Fatal(err)
						}
						if string(sfuBuf[:n]) == "uplink" {
							if from.String() != relayed.LocalAddr().String() {
								t.Fatalf("the SFU got the uplink from %v, want the relay %v", from, relayed.LocalAddr())
							}
							break
						}
					}
					if f.servedBeforePion() > before {
						break
					}
				}
			}
			receive := func(want []byte) {
				t.Helper()
				before := f.srv.DirectWrites()
				f.hand(t, relayed.LocalAddr(), want)
				if got := f.srv.DirectWrites() - before; got != 1 {
					t.Fatalf("%d written directly, want 1", got)
				}
				_ = relayed.SetReadDeadline(time.Now().Add(conntest.Wait))
				for {
					n, from, err := relayed.ReadFrom(buf)
					if err != nil {
						t.Fatal(err)
					}
					if string(buf[:n]) == "probe" {
						continue // a late one
					}
					if !bytes.Equal(buf[:n], want) || from.String() != f.sfu.LocalAddr().String() {
						t.Fatalf("client read %d bytes from %v, want %d from %v", n, from, len(want), f.sfu.LocalAddr())
					}
					return
				}
			}
			receive(bytes.Repeat([]byte{0x80}, 1181)) // on the channel
			// Padded. (Not shorter: pion/turn's client reads a stream's frame only
			// once it has nine bytes, so a frame of eight waits for the next one.)
			receive([]byte{0x80, 1, 2, 3, 4, 5, 6})

			relay.routes.change(func(r *relayRoutes) { r.channels = nil })
			receive(bytes.Repeat([]byte{0x90}, 1001)) // a Data indication

			// The allocation's end takes its channel out of the uplink's table.
			_ = relayed.Close()
			conntest.Eventually(t, "the channel out of the uplink's table", func() bool {
				f.srv.direct.uplink.mu.RLock()
				defer f.srv.direct.uplink.mu.RUnlock()
				f.srv.direct.streams.mu.Lock()
				defer f.srv.direct.streams.mu.Unlock()
				for _, st := range f.srv.direct.streams.m {
					if l := st.channels.cur.Load(); l != nil && len(*l) > 0 {
						return false
					}
				}
				return len(f.srv.direct.uplink.m) == 0
			})
		})
	}
}

// discard is a UDP listener that takes every write.
type discard struct{ writes int }

func (d *discard) WriteToAddrPort(b []byte, _ netip.AddrPort) (int, error) {
	d.writes++
	return len(b), nil
}

// TestDirectWriteDoesNotAllocate: a relay's direct write of a packet, on a channel and
// in a Data indication, allocates nothing (pion/turn's loop allocated a message a
// packet, and the collector's work for it was a tenth of a relayed subscriber's cost).
func TestDirectWriteDoesNotAllocate(t *testing.T) {
	d := newDirect(nil)
	w := &discard{}
	d.udp = w
	client := udpClient{conn: w, to: netip.MustParseAddrPort("127.0.0.1:5000"), bufs: &d.bufs}
	sfu := netip.MustParseAddrPort("127.0.0.1:10000")
	c := &restrictedConn{direct: d}
	packet := make([]byte, 1181)
	c.routes.change(func(r *relayRoutes) {
		r.channels = []channelRoute{{peer: sfu, number: 0x4000, client: client}}
	})
	if n := testing.AllocsPerRun(200, func() { c.writeDirect(packet, sfu) }); n != 0 {
		t.Errorf("ChannelData: %.1f allocations a packet", n)
	}
	c.routes.change(func(r *relayRoutes) {
		r.channels, r.permits = nil, []permitRoute{{ip: sfu.Addr(), client: client}}
	})
	if n := testing.AllocsPerRun(200, func() { c.writeDirect(packet, sfu) }); n != 0 {
		t.Errorf("Data indication: %.1f allocations a packet", n)
	}
	if w.writes != 402 || c.written.Load() != 402 {
		t.Fatalf("%d writes, %d counted, want 402", w.writes, c.written.Load())
	}
}

// TestChannelRoutesOnlyToPeers: the permission handler looks at the IP only, so a
// client may bind a channel to any port of the SFU's IP; the relay's routes (which
// writeDirect scans for every packet the SFU hands it) keep only the channel to the
// SFU's own address, however many others are bound first.
func TestChannelRoutesOnlyToPeers(t *testing.T) {
	f := newDirectFixture(t, nil)
	servers := f.srv.ICEServers(time.Now())
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() }) // after the allocation's own cleanups
	relayed, relay := f.allocate(t, c, f.srv.udpConn.LocalAddr().String(), servers[0].Username, servers[0].Credential)
	// pion/turn's event for each ChannelBind it accepted, as it calls it: forty to
	// other ports of the SFU's IP, then the SFU's.
	sfu := f.sfu.LocalAddr().(*net.UDPAddr)
	number := uint16(0x4000)
	for port := 20000; number < 0x4000+40; port++ {
		if port != sfu.Port {
			f.srv.direct.channelCreated(c.LocalAddr(), f.srv.udpConn.LocalAddr(), "UDP", servers[0].Username, "", relayed.LocalAddr(), &net.UDPAddr{IP: sfu.IP, Port: port}, number)
			number++
		}
	}
	f.srv.direct.channelCreated(c.LocalAddr(), f.srv.udpConn.LocalAddr(), "UDP", servers[0].Username, "", relayed.LocalAddr(), sfu, number)
	r := relay.routes.cur.Load()
	if r == nil || len(r.channels) != 1 || r.channels[0].peer != sfu.AddrPort() || r.channels[0].number != number {
		t.Fatalf("routes after 40 channels elsewhere and one to the SFU: %d", len(r.channels))
	}
}
