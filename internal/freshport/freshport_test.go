package freshport

import (
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
)

// TestNoPortTwice: listeners opened and closed one after another never get a port
// twice. The system's own choice does repeat ports; how often is logged, not checked
// (a system that never repeats would not make this package wrong): here, 3,000
// listeners on 127.0.0.1:0 repeated some 500 ports, so Listen without its check fails
// here within the first few hundred.
func TestNoPortTwice(t *testing.T) {
	const n = 3000
	seen := map[int]bool{}
	for range n {
		ln, err := Listen()
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
	}
	repeats := 0
	plain := map[int]bool{}
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if plain[port] {
			repeats++
		}
		plain[port] = true
		_ = ln.Close()
	}
	t.Logf("the system repeated %d of %d ports", repeats, n)
}

// lowestFree is a system that always offers the lowest port none of its open listeners
// has, the worst case for Listen: every port it handed out comes back as soon as it is
// closed.
type lowestFree struct {
	open map[int]bool
}

func (s *lowestFree) listen() (net.Listener, error) {
	port := 1
	for s.open[port] {
		port++
	}
	s.open[port] = true
	return &fakeListener{system: s, port: port}, nil
}

// openPorts lists, sorted, the ports of the listeners still open.
func (s *lowestFree) openPorts() []int {
	var ports []int
	for p := range s.open {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	return ports
}

type fakeListener struct {
	system *lowestFree
	port   int
}

func (l *fakeListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (l *fakeListener) Close() error {
	delete(l.system.open, l.port)
	return nil
}
func (l *fakeListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: l.port}
}

// TestHeldThenClosed: against a system that offers a closed port again at once, each
// listen gets the next port (the used ones are held open while it asks, so the system
// must offer another) and leaves none of them open but the one it returns.
func TestHeldThenClosed(t *testing.T) {
	sys := &lowestFree{open: map[int]bool{}}
	p := ports{used: map[int]bool{}}
	for want := 1; want <= 5; want++ {
		ln, err := p.listen(sys.listen)
		if err != nil {
			t.Fatalf("listen %d: %v", want, err)
		}
		if got := ln.Addr().(*net.TCPAddr).Port; got != want {
			t.Fatalf("listen %d: port %d", want, got)
		}
		if open := sys.openPorts(); !slices.Equal(open, []int{want}) {
			t.Fatalf("after listen %d: open %v; want only the port handed out", want, open)
		}
		_ = ln.Close()
	}
}

// TestGivesUp: a system that offers only ports already had (it ignores the held ones)
// gets an error after maxTries, not an endless loop, and every listener it gave is
// closed; a system's own error is passed on.
func TestGivesUp(t *testing.T) {
	p := ports{used: map[int]bool{7: true}}
	asked, open := 0, 0
	same := func() (net.Listener, error) {
		asked++
		open++
		return &countingListener{open: &open, port: 7}, nil
	}
	if ln, err := p.listen(same); err == nil {
		t.Fatalf("got port %v from a system that only offers a used one", ln.Addr())
	}
	if asked != maxTries || open != 0 {
		t.Errorf("asked %d times, %d listeners left open; want %d and 0", asked, open, maxTries)
	}
	refused := errors.New("no ports")
	if _, err := p.listen(func() (net.Listener, error) { return nil, refused }); !errors.Is(err, refused) {
		t.Errorf("the system's error became %v", err)
	}
}

type countingListener struct {
	open *int
	port int
}

func (l *countingListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (l *countingListener) Close() error {
	*l.open--
	return nil
}
func (l *countingListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: l.port}
}

// TestNewServerServesOnFreshPorts: servers of NewServer serve their handler, and a
// server's port is none an earlier Listen or NewServer had, though each is closed
// before the next opens. The system need not repeat a port within these 50: this
// passed five runs of five with NewServer on httptest.NewServer's own choice of port;
// TestNewServerSkipsAUsedPort is the one that tells.
func TestNewServerServesOnFreshPorts(t *testing.T) {
	seen := map[string]bool{}
	for i := range 50 {
		srv, err := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, r.URL.Path)
		}))
		if err != nil {
			t.Fatal(err)
		}
		if seen[srv.URL] {
			t.Fatalf("server %d on %s, an origin an earlier one had", i, srv.URL)
		}
		seen[srv.URL] = true
		resp, err := srv.Client().Get(srv.URL + "/here")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || string(body) != "/here" {
			t.Fatalf("server %d answered %q (%v), want its handler's /here", i, body, err)
		}
		srv.Close()
		srv.Close() // a second Close, as a test's cleanup after its own, is harmless
		ln, err := Listen()
		if err != nil {
			t.Fatal(err)
		}
		if u := "http://" + ln.Addr().String(); seen[u] {
			t.Fatalf("Listen after server %d gave %s, a server's origin", i, u)
		}
		seen["http://"+ln.Addr().String()] = true
		_ = ln.Close()
	}
}

// TestNewServerSkipsAUsedPort: a server of newServer is on the first port the system
// offers that was not had before, not on the system's own choice, and the used port's
// listener is closed. The system here offers two real listeners, the first on a port
// marked as used; both are open while it is asked, so no other choice of port can be
// the second's.
func TestNewServerSkipsAUsedPort(t *testing.T) {
	used, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = used.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fresh.Close() })
	usedClosed := false
	offers := []net.Listener{&closeSeen{Listener: used, closed: &usedClosed}, fresh}
	system := func() (net.Listener, error) {
		if len(offers) == 0 {
			return nil, errors.New("the fake system has no more listeners")
		}
		ln := offers[0]
		offers = offers[1:]
		return ln, nil
	}
	p := ports{used: map[int]bool{used.Addr().(*net.TCPAddr).Port: true}}
	srv, err := p.newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Path)
	}), system)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if want := "http://" + fresh.Addr().String(); srv.URL != want {
		t.Fatalf("the server is on %s, want %s (the used port was %d)", srv.URL, want, used.Addr().(*net.TCPAddr).Port)
	}
	if !usedClosed {
		t.Errorf("the used port's listener was left open")
	}
	resp, err := srv.Client().Get(srv.URL + "/here")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || string(body) != "/here" {
		t.Fatalf("the server answered %q (%v), want its handler's /here", body, err)
	}
}

// closeSeen is a listener that says when it was closed.
type closeSeen struct {
	net.Listener
	closed *bool
}

func (l *closeSeen) Close() error {
	*l.closed = true
	return l.Listener.Close()
}
