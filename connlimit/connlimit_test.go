package connlimit

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"conclave/addrgroup"
	"conclave/internal/conntest"
)

// TestListenerBoundsConnections: the listener hands out at most two connections from
// one address and three in all; one beyond is closed at once (its dialer reads the
// end of the stream) and counted; a closed connection makes room, once however often
// it is closed.
func TestListenerBoundsConnections(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limits := New(3, 2)
	ln := limits.Listener(raw)
	t.Cleanup(func() { _ = ln.Close() })
	accept := conntest.AcceptAll(t, ln).Next
	refused := func(c net.Conn, what string, n uint64) {
		t.Helper()
		if !conntest.ClosedByPeer(t, c) {
			t.Fatalf("%s answered", what)
		}
		if got := limits.Refused(); got != n {
			t.Fatalf("after %s: %d refused, want %d", what, got, n)
		}
	}

	conntest.DialFrom(t, "127.0.0.1", raw.Addr().String())
	a1 := accept("the first from 127.0.0.1")
	conntest.DialFrom(t, "127.0.0.1", raw.Addr().String())
	accept("the second from 127.0.0.1")
	refused(conntest.DialFrom(t, "127.0.0.1", raw.Addr().String()), "the third from 127.0.0.1", 1)
	conntest.DialFrom(t, "127.0.0.2", raw.Addr().String())
	accept("the first from 127.0.0.2")
	refused(conntest.DialFrom(t, "127.0.0.3", raw.Addr().String()), "a fourth in all", 2)

	_ = a1.Close()
	_ = a1.Close() // gives its count back once
	conntest.DialFrom(t, "127.0.0.3", raw.Addr().String())
	accept("127.0.0.3 after a close")
	refused(conntest.DialFrom(t, "127.0.0.4", raw.Addr().String()), "a fourth in all again", 3)
	if conns, groups := limits.Held(); conns != 3 || groups != 3 {
		t.Fatalf("holding %d connections from %d addresses, want 3 from 3", conns, groups)
	}
}

// TestExemptAddressesHaveOnlyTheBoundInAll: connections from an exempt prefix (a trusted
// proxy) are bounded only in all; an address outside it keeps its bound from one address.
func TestExemptAddressesHaveOnlyTheBoundInAll(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limits := New(5, 1)
	limits.ExemptFromPerAddr([]netip.Prefix{netip.MustParsePrefix("127.0.0.5/32")})
	ln := limits.Listener(raw)
	t.Cleanup(func() { _ = ln.Close() })
	accepted := conntest.AcceptAll(t, ln)
	for range 3 {
		conntest.DialFrom(t, "127.0.0.5", raw.Addr().String())
		accepted.Next("a connection from the exempt proxy")
	}
	conntest.DialFrom(t, "127.0.0.6", raw.Addr().String())
	accepted.Next("the first from 127.0.0.6")
	if !conntest.ClosedByPeer(t, conntest.DialFrom(t, "127.0.0.6", raw.Addr().String())) {
		t.Fatal("a second from 127.0.0.6, not exempt, was answered")
	}
	if got := limits.Refused(); got != 1 {
		t.Fatalf("%d refused, want 1", got)
	}
}

// TestGroup: an IPv4 address (mapped into IPv6, through a translator's 64:ff9b::/96, or
// not) is a group of its own; an IPv6 address shares its group with its /64.
func TestGroup(t *testing.T) {
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	for _, c := range []struct {
		addr net.Addr
		want string
	}{
		{tcp("192.0.2.7:5000"), "192.0.2.7/32"},
		{tcp("[::ffff:192.0.2.7]:5000"), "192.0.2.7/32"},
		{tcp("[64:ff9b::192.0.2.7]:5000"), "192.0.2.7/32"},
		{tcp("[64:ff9b::192.0.2.9]:5000"), "192.0.2.9/32"},
		{tcp("[64:ff9b:1::192.0.2.7]:5000"), "64:ff9b:1::/64"},
		{tcp("[2001:db8:1:2:aaaa::1]:5000"), "2001:db8:1:2::/64"},
		{tcp("[2001:db8:1:2:bbbb::9]:6000"), "2001:db8:1:2::/64"},
		{tcp("[fe80::1%eth0]:5000"), "fe80::/64"},
		{&net.UDPAddr{IP: net.ParseIP("192.0.2.8"), Port: 1}, "192.0.2.8/32"},
		{&net.UnixAddr{Name: "@x", Net: "unix"}, "invalid Prefix"},
	} {
		if got := Group(c.addr).String(); got != c.want {
			t.Errorf("Group(%v) = %s, want %s", c.addr, got, c.want)
		}
	}
}

// textAddr is a net.Addr that is only its text, as a listener of another kind may give.
type textAddr string

func (a textAddr) Network() string { return "tcp" }
func (a textAddr) String() string  { return string(a) }

// FuzzGroup: any remote address, read from its text, is either its own /32 (IPv4,
// mapped, translated or not) or its /64 (IPv6), a prefix that holds it, or the one
// invalid group.
func FuzzGroup(f *testing.F) {
	for _, s := range []string{"192.0.2.7:5000", "[::ffff:192.0.2.7]:1", "[64:ff9b::192.0.2.7]:2", "[2001:db8::1]:443", "[fe80::1%eth0]:9", "", "x", "[::]:0", "1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g := Group(textAddr(s))
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			if g.IsValid() {
				t.Fatalf("Group(%q) = %v, want the invalid group", s, g)
			}
			return
		}
		a := ap.Addr().WithZone("").Unmap()
		if b := a.As16(); a.Is6() && netip.MustParsePrefix("64:ff9b::/96").Contains(a) {
			a = netip.AddrFrom4([4]byte(b[12:])) // through a translator: the IPv4 client
		}
		want := 64
		if a.Is4() {
			want = 32
		}
		if !g.IsValid() || g.Bits() != want || !g.Contains(a) {
			t.Fatalf("Group(%q) = %v", s, g)
		}
	})
}

// TestTranslatedIPv4ClientsHaveTheirOwnBound: behind a translator (64:ff9b::/96) one
// IPv4 client holding the connections its address may does not refuse another's.
// Before, both were one /64: the second was refused.
func TestTranslatedIPv4ClientsHaveTheirOwnBound(t *testing.T) {
	l := New(10, 2)
	tcp := func(s string) netip.Prefix { return Group(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s))) }
	taken := func(group netip.Prefix) bool { _, ok := l.take(group, false); return ok }
	for i := range 2 {
		if !taken(tcp("[64:ff9b::198.51.100.1]:4000")) {
			t.Fatalf("the first client's connection %d refused", i+1)
		}
	}
	if taken(tcp("[64:ff9b::198.51.100.1]:4001")) {
		t.Fatal("the first client took a third connection")
	}
	if !taken(tcp("[64:ff9b::203.0.113.9]:4000")) {
		t.Fatal("another IPv4 client through the translator was refused for the first one's connections")
	}
	if taken(tcp("198.51.100.1:4002")) {
		t.Fatal("the first client's IPv4 address, native, took a third connection")
	}
}

// TestTakeCountsAsAConnection: Take bounds what it counts as Accept bounds connections
// (two from one address, three in all, an exempt prefix by the bound in all only),
// counts a refusal, and its give makes room once however often it is called.
func TestTakeCountsAsAConnection(t *testing.T) {
	limits := New(3, 2)
	limits.ExemptFromPerAddr([]netip.Prefix{netip.MustParsePrefix("192.0.2.9/32")})
	from := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 443} }
	give, ok := limits.Take(from("192.0.2.1"))
	if !ok {
		t.Fatal("the first from 192.0.2.1 refused")
	}
	if _, ok := limits.Take(from("192.0.2.1")); !ok {
		t.Fatal("the second from 192.0.2.1 refused")
	}
	if _, ok := limits.Take(from("192.0.2.1")); ok || limits.Refused() != 1 {
		t.Fatalf("the third from 192.0.2.1: taken %v, %d refused; want refused, 1", ok, limits.Refused())
	}
	if _, ok := limits.Take(from("192.0.2.9")); !ok {
		t.Fatal("the first from the exempt 192.0.2.9 refused")
	}
	if _, ok := limits.Take(from("192.0.2.9")); ok {
		t.Fatal("a fourth in all taken")
	}
	give()
	give() // once
	if conns, _ := limits.Held(); conns != 2 {
		t.Fatalf("holding %d after one was given back twice, want 2", conns)
	}
	if _, ok := limits.Take(from("192.0.2.9")); !ok {
		t.Fatal("the exempt address was refused its second, within the bound in all")
	}
}

// TestSiteHoldsSiteFactorTimesAnAddress: the /64s of one IPv6 /48 hold at most
// addrgroup.SiteFactor times what one address may, together; another /48 and IPv4
// addresses are not held back by it, a connection given back makes room in its site,
// and an exempt address (a trusted proxy) in the /48 neither is bounded by the site
// nor fills it. Before, a /48 counted as 65,536 addresses and took the bound in all.
func TestSiteHoldsSiteFactorTimesAnAddress(t *testing.T) {
	const perAddr = 2
	limits := New(1<<20, perAddr)
	limits.ExemptFromPerAddr([]netip.Prefix{netip.MustParsePrefix("2001:db8:1:ffff::1/128")})
	from := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 443} }
	taken := 0
	var gives []func()
	for n := range 40 { // 40 /64s of 2001:db8:1::/48, two connections each
		for range perAddr {
			if give, ok := limits.Take(from(fmt.Sprintf("2001:db8:1:%x::1", n))); ok {
				taken++
				gives = append(gives, give)
			}
		}
	}
	if want := addrgroup.SiteFactor * perAddr; taken != want {
		t.Fatalf("the /64s of one /48 held %d connections, want %d (SiteFactor × the bound from one address)", taken, want)
	}
	for _, ip := range []string{"2001:db8:2::1", "192.0.2.1", "2001:db8:1:ffff::1", "2001:db8:1:ffff::1", "2001:db8:1:ffff::1"} {
		if _, ok := limits.Take(from(ip)); !ok {
			t.Fatalf("%s refused beside a full 2001:db8:1::/48", ip)
		}
	}
	gives[0]()
	if _, ok := limits.Take(from("2001:db8:1:ff::1")); !ok {
		t.Fatal("a /64 of the /48 refused after one of its connections was given back")
	}
}
