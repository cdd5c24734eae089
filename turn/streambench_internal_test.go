package turn

import (
	"crypto/tls"
	"net"
	"net/netip"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"conclave/internal/conntest"
	"conclave/internal/testcert"
)

// streamRig is a TCP or TLS client of a directFixture's server with a relay, whose
// SFU takes what the relays send it in memory (Config.RelayUplink, as cmd sets it)
// and gives it to take. pion/turn's client reads and writes the connection through
// its STUNConn; the test writes its media on conn, below it, as a browser frames them.
type streamRig struct {
	f       *directFixture
	client  *pionturn.Client
	conn    net.Conn
	relayed net.PacketConn
	relay   *restrictedConn
	sfu     netip.AddrPort
	cert    testcert.Cert // the server's, over TLS
	overTLS bool
}

// newStreamRig allocates a relay for a client over TCP (overTLS false) or TLS, whose
// SFU hands what it takes to take (called on the server's reader: it must not keep b);
// opts change the server's Config.
func newStreamRig(tb testing.TB, overTLS bool, take func(from netip.AddrPort, b []byte), opts ...func(*Config)) *streamRig {
	tb.Helper()
	var tlsConf *tls.Config
	var cert testcert.Cert
	if overTLS {
		cert = testcert.New(tb)
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert.TLS}, MinVersion: tls.VersionTLS12}
	}
	f := newDirectFixture(tb, tlsConf, append(opts, func(c *Config) {
		c.RelayUplink = func(ap netip.AddrPort) func([]byte) bool {
			return func(b []byte) bool {
				take(ap, b)
				return true
			}
		}
	})...)
	r := &streamRig{f: f, sfu: f.sfu.LocalAddr().(*net.UDPAddr).AddrPort(), cert: cert, overTLS: overTLS}
	r.connect(tb)
	return r
}

// another is a second client of r's server, over a connection of its own.
func (r *streamRig) another(tb testing.TB) *streamRig {
	tb.Helper()
	o := &streamRig{f: r.f, sfu: r.sfu, cert: r.cert, overTLS: r.overTLS}
	o.connect(tb)
	return o
}

// connect opens the client's connection and its allocation.
func (r *streamRig) connect(tb testing.TB) {
	tb.Helper()
	var addr string
	if r.overTLS {
		addr = r.f.srv.tlsLn.Addr().String()
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: r.cert.Pool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
		if err != nil {
			tb.Fatal(err)
		}
		r.conn = c
	} else {
		addr = r.f.srv.tcpLn.Addr().String()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			tb.Fatal(err)
		}
		r.conn = c
	}
	tb.Cleanup(func() { _ = r.conn.Close() }) // after the allocation's own cleanups
	servers := r.f.srv.ICEServers(time.Now())
	r.client, r.relayed, r.relay = r.f.allocateWith(tb, pionturn.NewSTUNConn(r.conn), addr, servers[0].Username, servers[0].Credential)
}

// permit has the client create a permission for the SFU's IP, as Firefox does before
// it sends.
func (r *streamRig) permit(tb testing.TB) {
	tb.Helper()
	if err := r.client.CreatePermission(r.f.sfu.LocalAddr()); err != nil {
		tb.Fatal(err)
	}
}

// bind has the client bind a channel to the SFU's address (pion/turn's client binds
// one in the background after its first send) and returns its number.
func (r *streamRig) bind(tb testing.TB) uint16 {
	tb.Helper()
	var routes *relayRoutes
	conntest.Eventually(tb, "a channel bound", func() bool {
		if _, err := r.relayed.WriteTo([]byte("ping"), r.f.sfu.LocalAddr()); err != nil {
			tb.Fatal(err)
		}
		routes = r.relay.routes.cur.Load()
		return routes != nil && len(routes.channels) == 1
	})
	return routes.channels[0].number
}

// settle returns once the server has handled everything the client sent before: the
// answer to a Binding request comes after it (pion/turn reads the connection in
// order, and a message served before it is relayed in the same read).
func (r *streamRig) settle(tb testing.TB) {
	tb.Helper()
	if _, err := r.client.SendBindingRequest(); err != nil {
		tb.Fatal(err)
	}
}

// write writes msg on the connection below pion/turn's client.
func (r *streamRig) write(tb testing.TB, msg []byte) {
	tb.Helper()
	if _, err := r.conn.Write(msg); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkStreamUplink: a TCP client's packets to the SFU through the real listener,
// on a channel (Chromium) and in Send indications (Firefox, which binds none, behind a
// firewall that lets only TCP through); as BenchmarkUDPUplink, an op is a packet of
// 1181 bytes from the client's write to the SFU's taking it in memory, 32 in flight.
func BenchmarkStreamUplink(b *testing.B) {
	for _, tc := range []struct {
		name string
		bind bool
	}{{"ChannelData", true}, {"SendIndication", false}} {
		b.Run(tc.name, func(b *testing.B) {
			taken := make(chan struct{}, 4*benchWindow)
			r := newStreamRig(b, false, func(netip.AddrPort, []byte) {
				select {
				case taken <- struct{}{}:
				default:
				}
			})
			data := make([]byte, benchPacket)
			data[0] = 0x80
			var msg []byte
			if tc.bind {
				msg = appendChannelData(nil, r.bind(b), data)
			} else {
				r.permit(b)
				msg = buildSendIndication(b, r.sfu, data)
			}
			r.settle(b)
			for len(taken) > 0 {
				<-taken
			}
			sendInWindows(b, func() { r.write(b, msg) }, taken)
		})
	}
}
