package turn

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"

	"conclave/internal/conntest"
)

// The benchmarks of a UDP client's packets through the real listener, each way: an
// op is one packet of 1181 bytes (a video packet's size), from the client's write to
// the SFU's taking it in memory (Config.RelayUplink, as cmd sets it), or from the SFU
// handing it to the relay (Config.LocalRelay) to the client's read. The counts of
// allocations are the whole process's: the server's reader and writer, and the test's
// client, which allocates nothing a packet. Loopback and the system calls are in the
// figure, the same for every path; what differs between them is the server's work.

// benchWindow is how many packets are in flight at once: well below what a socket's
// receive buffer holds, so that none is lost.
const benchWindow = 32

const benchPacket = 1181

// udpRig is a UDP client of a directFixture's listener, with a relay whose SFU takes
// what it sends in memory.
type udpRig struct {
	f        *directFixture
	client   *pionturn.Client
	conn     *splitConn
	relayed  net.PacketConn
	relay    *restrictedConn
	listener netip.AddrPort
	sfu      netip.AddrPort
	// taken has one signal for each datagram the SFU took from a relay.
	taken chan struct{}
}

// newUDPRig allocates a relay for a client over UDP and gives it a channel to the SFU
// (bind) or only a permission, as Firefox has.
func newUDPRig(tb testing.TB, bind bool) *udpRig {
	tb.Helper()
	r := &udpRig{taken: make(chan struct{}, 4*benchWindow)}
	r.f = newDirectFixture(tb, nil, func(c *Config) {
		c.RelayUplink = func(netip.AddrPort) func([]byte) bool {
			return func([]byte) bool {
				select {
				case r.taken <- struct{}{}:
				default:
				}
				return true
			}
		}
	})
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	r.conn = newSplitConn(sock)
	tb.Cleanup(func() { _ = r.conn.Close() }) // after the allocation's own cleanups
	r.listener = r.f.srv.udpConn.LocalAddr().(*net.UDPAddr).AddrPort()
	r.sfu = r.f.sfu.LocalAddr().(*net.UDPAddr).AddrPort()
	servers := r.f.srv.ICEServers(time.Now())
	r.client, r.relayed, r.relay = r.f.allocateWith(tb, r.conn, r.listener.String(), servers[0].Username, servers[0].Credential)
	if bind {
		// pion/turn's client binds a channel in the background after its first send.
		conntest.Eventually(tb, "a channel bound", func() bool {
			if _, err := r.relayed.WriteTo([]byte("ping"), r.f.sfu.LocalAddr()); err != nil {
				tb.Fatal(err)
			}
			routes := r.relay.routes.cur.Load()
			return routes != nil && len(routes.channels) == 1
		})
	} else {
		if err := r.client.CreatePermission(r.f.sfu.LocalAddr()); err != nil {
			tb.Fatal(err)
		}
	}
	r.settle(tb)
	return r
}

// settle waits until the server has handled everything the client sent (a Binding
// request's answer comes after it: one reader serves the listener in order) and
// forgets what the SFU took meanwhile.
func (r *udpRig) settle(tb testing.TB) {
	tb.Helper()
	if _, err := r.client.SendBindingRequest(); err != nil {
		tb.Fatal(err)
	}
	for {
		select {
		case <-r.taken:
		default:
			return
		}
	}
}

// channel is the number of the channel the client bound.
func (r *udpRig) channel(tb testing.TB) uint16 {
	routes := r.relay.routes.cur.Load()
	if routes == nil || len(routes.channels) != 1 {
		tb.Fatal("no channel bound")
	}
	return routes.channels[0].number
}

// buildSendIndication is a Send indication of data to peer as pion/turn's client sends it.
func buildSendIndication(tb testing.TB, peer netip.AddrPort, data []byte) []byte {
	tb.Helper()
	m, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodSend, stun.ClassIndication),
		stun.RawAttribute{Type: stun.AttrData, Value: data}, peerAddress(peer), stun.Fingerprint)
	if err != nil {
		tb.Fatal(err)
	}
	return m.Raw
}

// peerAddress is an XOR-PEER-ADDRESS attribute.
type peerAddress netip.AddrPort

func (p peerAddress) AddTo(m *stun.Message) error {
	ap := netip.AddrPort(p)
	a := stun.XORMappedAddress{IP: ap.Addr().AsSlice(), Port: int(ap.Port())}
	return a.AddToAs(m, stun.AttrXORPeerAddress)
}

// waitFor takes n signals from c; conntest.Wait only keeps a broken benchmark from
// hanging.
func waitFor(tb testing.TB, c <-chan struct{}, n int, timeout *time.Timer) {
	timeout.Reset(conntest.Wait)
	for range n {
		select {
		case <-c:
		case <-timeout.C:
			tb.Fatalf("a packet did not arrive within %v", conntest.Wait)
		}
	}
}

// sendInWindows sends b.N packets with send, benchWindow at a time, waiting for each
// window's packets to arrive on arrived before the next, and reports the time a packet.
func sendInWindows(b *testing.B, send func(), arrived <-chan struct{}) {
	timeout := time.NewTimer(conntest.Wait)
	defer timeout.Stop()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; {
		n := min(benchWindow, b.N-sent)
		for range n {
			send()
		}
		waitFor(b, arrived, n, timeout)
		sent += n
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N), "ns/packet")
}

// BenchmarkUDPUplink: a UDP client's packets to the SFU, on a channel (Chromium) and
// in Send indications (Firefox, which binds none).
func BenchmarkUDPUplink(b *testing.B) {
	for _, tc := range []struct {
		name string
		bind bool
	}{{"ChannelData", true}, {"SendIndication", false}} {
		b.Run(tc.name, func(b *testing.B) {
			r := newUDPRig(b, tc.bind)
			data := make([]byte, benchPacket)
			data[0] = 0x80
			var msg []byte
			if tc.bind {
				msg = appendChannelData(nil, r.channel(b), data)
			} else {
				msg = buildSendIndication(b, r.sfu, data)
			}
			sendInWindows(b, func() {
				if _, err := r.conn.WriteToUDPAddrPort(msg, r.listener); err != nil {
					b.Fatal(err)
				}
			}, r.taken)
		})
	}
}

// BenchmarkUDPDownlink: the SFU's packets to a UDP client, on its channel and in Data
// indications under its permission, written by the relay itself (directwrite.go), and,
// for comparison, a Data indication through pion/turn's relay loop (the relay's routes
// emptied, as before the relays wrote themselves).
func BenchmarkUDPDownlink(b *testing.B) {
	for _, tc := range []struct {
		name       string
		bind, pion bool
	}{{"ChannelData", true, false}, {"DataIndication", false, false}, {"DataIndicationThroughPion", false, true}} {
		b.Run(tc.name, func(b *testing.B) {
			r := newUDPRig(b, tc.bind)
			if tc.pion {
				r.relay.routes.change(func(rr *relayRoutes) { *rr = relayRoutes{} })
			}
			ap := netip.AddrPortFrom(r.sfu.Addr(), uint16(r.relayed.LocalAddr().(*net.UDPAddr).Port))
			r.f.mu.Lock()
			deliver := r.f.delivers[ap]
			r.f.mu.Unlock()
			data := make([]byte, benchPacket)
			data[0] = 0x80
			sendInWindows(b, func() { deliver(data) }, r.conn.media)
		})
	}
}

// splitConn is a client's UDP socket that pion/turn's client shares with the test: the
// ChannelData and Data indications the server sends are counted (media) and not read
// further, so that the client's decoding costs nothing; everything else (the answers
// to its requests) goes on to pion/turn's client.
type splitConn struct {
	*net.UDPConn
	media chan struct{}
	stun  chan datagram
}

type datagram struct {
	b    []byte
	from net.Addr
}

func newSplitConn(c *net.UDPConn) *splitConn {
	s := &splitConn{UDPConn: c, media: make(chan struct{}, 4*benchWindow), stun: make(chan datagram, 16)}
	go s.read()
	return s
}

func (s *splitConn) read() {
	defer close(s.stun)
	buf := make([]byte, 1600)
	for {
		n, from, err := s.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if n >= 2 && (buf[0]&0xc0 == 0x40 || (buf[0] == 0 && buf[1] == byte(stunDataIndication))) {
			select {
			case s.media <- struct{}{}:
			default:
			}
			continue
		}
		s.stun <- datagram{b: append([]byte(nil), buf[:n]...), from: net.UDPAddrFromAddrPort(from)}
	}
}

// ReadFrom is pion/turn's client's read: the next datagram that is not media.
func (s *splitConn) ReadFrom(b []byte) (int, net.Addr, error) {
	d, ok := <-s.stun
	if !ok {
		return 0, nil, net.ErrClosed
	}
	return copy(b, d.b), d.from, nil
}
