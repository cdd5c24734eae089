package rawstream_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/rawstream"
)

// pair is a loopback TCP connection: the raw side and the plain peer.
func pair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	c, peer := conntest.Pair(t)
	raw := rawstream.Wrap(c)
	t.Cleanup(func() { raw.Close() })
	return raw, peer
}

// TestBytesArriveBothWays: what is written arrives whole and in order both ways, more
// than the socket buffers hold (so that writes wait for room and reads for data).
func TestBytesArriveBothWays(t *testing.T) {
	raw, peer := pair(t)
	if runtime.GOOS == "linux" {
		if _, ok := raw.(*rawstream.Conn); !ok {
			t.Fatalf("a TCP connection wrapped as %T", raw)
		}
	}
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	for _, dir := range []struct {
		name     string
		from, to net.Conn
	}{{"raw writes", raw, peer}, {"raw reads", peer, raw}} {
		t.Run(dir.name, func(t *testing.T) {
			errc := make(chan error, 1)
			go func() {
				n, err := dir.from.Write(data)
				if err == nil && n != len(data) {
					err = io.ErrShortWrite
				}
				errc <- err
			}()
			got := make([]byte, len(data))
			buf := make([]byte, 1500)
			for off := 0; off < len(got); {
				n, err := dir.to.Read(buf)
				if err != nil {
					t.Fatal(err)
				}
				off += copy(got[off:], buf[:n])
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("the bytes read are not the bytes written")
			}
		})
	}
}

// TestDeadlinesCloseAndEnd: a read past its deadline is a timeout, a read after the
// peer closed is io.EOF, and calls after Close fail with net.ErrClosed.
func TestDeadlinesCloseAndEnd(t *testing.T) {
	raw, peer := pair(t)
	buf := make([]byte, 64)
	_ = raw.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	var ne net.Error
	if _, err := raw.Read(buf); !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	_ = raw.SetReadDeadline(time.Time{})
	if _, err := peer.Write([]byte("last")); err != nil {
		t.Fatal(err)
	}
	_ = peer.Close()
	_ = raw.SetReadDeadline(time.Now().Add(conntest.Wait))
	if n, err := raw.Read(buf); err != nil || string(buf[:n]) != "last" {
		t.Fatalf("read %q, %v; want \"last\"", buf[:n], err)
	}
	if _, err := raw.Read(buf); err != io.EOF {
		t.Fatalf("read after the peer closed: %v, want io.EOF", err)
	}
	_ = raw.Close()
	if _, err := raw.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := raw.Write(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v, want net.ErrClosed", err)
	}
}

// TestReadAndWriteDoNotAllocate: a read and a write on the connection allocate nothing
// (each is a packet of a relayed participant's).
func TestReadAndWriteDoNotAllocate(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("raw calls are Linux's")
	}
	raw, peer := pair(t)
	msg := make([]byte, 1200)
	buf := make([]byte, 1200)
	rw := func() {
		if _, err := raw.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(peer, buf); err != nil {
			t.Fatal(err)
		}
		if _, err := peer.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(raw, buf); err != nil {
			t.Fatal(err)
		}
	}
	rw()
	// The peer's side is the net package's own, which allocates nothing either.
	if n := testing.AllocsPerRun(100, rw); n != 0 {
		t.Fatalf("%v allocations a round trip, want 0", n)
	}
}

// TestWrapLeavesOtherConnections: a connection without a socket is returned as it is.
func TestWrapLeavesOtherConnections(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := rawstream.Wrap(a); got != a {
		t.Fatalf("a pipe wrapped as %T", got)
	}
}
