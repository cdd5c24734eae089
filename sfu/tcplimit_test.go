package sfu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
)

// withTCP gives the engine an ICE-TCP port, bounded to two connections an address and
// three in all, where a connection has wait to pass a check.
func withTCP(wait time.Duration) engineOption {
	return func(_ *fakeclock.Clock, cfg *Config) {
		cfg.TCPAddr = "127.0.0.1:0"
		cfg.MaxTCPConns, cfg.MaxTCPConnsPerAddr = 3, 2
		cfg.tcpCheckWait = wait
	}
}

// frame writes b to c as one RFC 4571 frame.
func frame(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if _, err := c.Write(framed(b)); err != nil {
		t.Fatal(err)
	}
}

// checkAnswered sends a check on c and reports whether the answer came (false: the
// server closed c).
func checkAnswered(t *testing.T, c net.Conn, check []byte) bool {
	t.Helper()
	frame(t, c, check)
	_ = c.SetReadDeadline(time.Now().Add(conntest.Wait))
	buf := make([]byte, maxTCPFrame)
	n, err := readFrame(c, buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%v: check neither answered nor the connection closed within %v", c.LocalAddr(), conntest.Wait)
	}
	return err == nil && isSTUN(buf[:n])
}

// tcpLiteAgent is an engine with ICE-TCP (withTCP(wait)) on the fake clock, and a
// subscriber's lite agent on it: a check that passes there, and one with the wrong
// password.
func tcpLiteAgent(t *testing.T, wait time.Duration) (clock *fakeclock.Clock, eng *Engine, ok, wrong []byte) {
	t.Helper()
	clock, eng, room := newClockedRoom(t, true, withTCP(wait))
	p, err := room.Join("sub")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.own.offer(false); err != nil {
		t.Fatal(err)
	}
	user := p.own.lite.ufrag + ":peer"
	return clock, eng, check{username: user, pwd: p.own.lite.pwd}.bytes(t), check{username: user, pwd: "not-the-password-of-it"}.bytes(t)
}

// TestICETCPConnectionsAreBounded: the engine's ICE-TCP port holds two connections
// from one address and three in all (each proven held by a check it answers); one
// beyond is closed at once, before it could send anything, and counted in the stats.
func TestICETCPConnectionsAreBounded(t *testing.T) {
	_, eng, ok, _ := tcpLiteAgent(t, time.Minute)
	held := func(from string) {
		t.Helper()
		if !checkAnswered(t, conntest.DialFrom(t, from, eng.TCPAddr().String()), ok) {
			t.Fatalf("a connection from %s was closed", from)
		}
	}
	refused := func(from string, n uint64) {
		t.Helper()
		if !conntest.ClosedByPeer(t, conntest.DialFrom(t, from, eng.TCPAddr().String())) {
			t.Fatalf("a connection from %s was answered", from)
		}
		if got := eng.Stats().ICETCPRefused; got != n {
			t.Fatalf("%d ICE-TCP connections refused, want %d", got, n)
		}
	}
	held("127.0.0.1")
	held("127.0.0.1")
	refused("127.0.0.1", 1)
	held("127.0.0.2")
	refused("127.0.0.3", 2)
}

// TestICETCPFailedChecksAreNotHeld: a connection whose checks keep failing (the right
// agent, the wrong password) is closed once its time to pass one is up, however often
// it sends; a connection whose check passed stays past that time. The time is the
// engine's clock's, which moves only when the test advances it: a machine however
// loaded reads the good connection's check in time.
func TestICETCPFailedChecksAreNotHeld(t *testing.T) {
	// Under the agent's consent time (25 s), which the good connection's one check
	// must outlast.
	const wait = 10 * time.Second
	clock, eng, ok, wrong := tcpLiteAgent(t, wait)

	good := conntest.DialFrom(t, "127.0.0.1", eng.TCPAddr().String())
	if !checkAnswered(t, good, ok) {
		t.Fatal("the good connection was closed")
	}
	bad := conntest.DialFrom(t, "127.0.0.2", eng.TCPAddr().String())
	failed := func(n uint64) { // sends n checks that fail and waits until they are read
		t.Helper()
		want := eng.lites.refused.Load() + n
		for range n {
			frame(t, bad, wrong)
		}
		conntest.Eventually(t, "the failed checks to be read", func() bool { return eng.lites.refused.Load() >= want })
	}
	// The connection's wait was armed when it was accepted, before its first check
	// was read; each half of it sees checks fail.
	failed(3)
	clock.Advance(wait / 2)
	failed(3)
	clock.Advance(wait - wait/2)

	_ = bad.SetReadDeadline(time.Now().Add(conntest.Wait))
	var b [1]byte
	_, err := bad.Read(b[:])
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection that failed 6 checks was still open %v after its time was up", conntest.Wait)
	}
	if err == nil {
		t.Fatal("a failed check was answered")
	}
	if !checkAnswered(t, good, ok) {
		t.Fatal("the good connection was closed with the bad one")
	}
}

// FuzzICETCPFrames: whatever a peer sends on an ICE-TCP connection, reading it frame by
// frame (RFC 4571) gives back exactly the bytes it framed, in order, never a frame
// larger than the read buffer, and stops at the first frame that does not fit or is
// cut short.
func FuzzICETCPFrames(f *testing.F) {
	ok := check{username: "abcd:peer", pwd: "the-password-of-it-1234"}.bytes(f)
	f.Add(framed(ok))
	f.Add([]byte{0, 3, 1, 2, 3, 0, 0, 0, 1})
	f.Add([]byte{0xff, 0xff, 1})
	f.Add([]byte{0x05, 0xdd}) // one byte over the largest frame, nothing after
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := bytes.NewReader(stream)
		buf := make([]byte, maxTCPFrame)
		consumed := 0
		for {
			n, err := readFrame(r, buf)
			if err != nil {
				rest := stream[consumed:]
				switch {
				case len(rest) == 0 && errors.Is(err, io.EOF):
				case len(rest) >= 2 && int(binary.BigEndian.Uint16(rest)) > maxTCPFrame && errors.Is(err, errTCPFrame):
				case len(rest) < 2 || 2+int(binary.BigEndian.Uint16(rest)) > len(rest):
					if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Fatalf("a frame cut short: %v", err)
					}
				default:
					t.Fatalf("a whole frame refused at %d: %v", consumed, err)
				}
				return
			}
			want := int(binary.BigEndian.Uint16(stream[consumed:]))
			if n != want || n > maxTCPFrame || !bytes.Equal(buf[:n], stream[consumed+2:consumed+2+n]) {
				t.Fatalf("frame at %d: %d bytes read, %d framed", consumed, n, want)
			}
			consumed += 2 + n
		}
	})
}

// TestICETCPStrangersAreClosed: an ICE-TCP connection whose first frame is neither a
// check for a lite agent nor one for a publish connection's ufrag (Pion's agents) is
// closed at once, long before the check wait (a minute here): a check for a ufrag
// nobody has, a check for a ufrag a publish connection gave up, and a first frame that
// is no check at all. Pion's mux would keep each half a minute with what it queued.
func TestICETCPStrangersAreClosed(t *testing.T) {
	_, eng, room := newClockedRoom(t, true, withTCP(time.Minute))
	p, err := room.Join("pub")
	if err != nil {
		t.Fatal(err)
	}
	p.setPublishUfrag("first")
	p.setPublishUfrag("restarted") // an ICE restart's answer
	if !eng.pubUfrags.has([]byte("restarted")) || eng.pubUfrags.has([]byte("first")) {
		t.Fatalf("after a restart: %v", eng.pubUfrags.m)
	}
	for _, first := range [][]byte{
		check{username: "nosuchufrag:peer"}.bytes(t),
		check{username: "first:peer"}.bytes(t),
		bytes.Repeat([]byte{0x80}, 200),
	} {
		c := conntest.DialFrom(t, "127.0.0.1", eng.TCPAddr().String())
		if _, err := c.Write(framed(first)); err != nil {
			t.Fatal(err)
		}
		if !conntest.ClosedByPeer(t, c) {
			t.Fatalf("a stranger's connection (first frame %.20q) was answered", first)
		}
	}
	if n := eng.Stats().ICETCPStrangers; n != 3 {
		t.Errorf("%d strangers counted, want 3", n)
	}
	p.Close()
	if len(eng.pubUfrags.m) != 0 {
		t.Fatalf("a closed participant's ufrag is still known: %v", eng.pubUfrags.m)
	}
}

func TestSDPUfrag(t *testing.T) {
	for sdp, want := range map[string]string{
		"v=0\r\na=ice-ufrag:AbCd\r\na=ice-pwd:x\r\n": "AbCd",
		"v=0\na=ice-ufrag:xyz\n":                     "xyz",
		"v=0\r\na=ice-ufrag:last":                    "last",
		"v=0\r\n":                                    "",
	} {
		if got := sdpUfrag(sdp); got != want {
			t.Errorf("sdpUfrag(%q) = %q, want %q", sdp, got, want)
		}
	}
}
