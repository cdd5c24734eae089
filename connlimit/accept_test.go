package connlimit

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"conclave/internal/fakeclock"
)

// failingListener fails its first accepts with err, then hands out one end of a
// pipe; every call is announced on calls.
type failingListener struct {
	err   error
	fails int
	calls chan int
	n     int
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.n++
	l.calls <- l.n
	if l.n <= l.fails {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", l.err)}
	}
	c, _ := net.Pipe()
	return c, nil
}
func (l *failingListener) Close() error   { return nil }
func (l *failingListener) Addr() net.Addr { return &net.TCPAddr{} }

type acceptResult struct {
	c   net.Conn
	err error
}

func acceptInBackground(ln net.Listener) <-chan acceptResult {
	res := make(chan acceptResult, 1)
	go func() {
		c, err := ln.Accept()
		res <- acceptResult{c, err}
	}()
	return res
}

func waitTimer(t *testing.T, clock *fakeclock.Clock) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := clock.WaitForTimers(ctx, 1); err != nil {
		t.Fatal("no wait armed:", err)
	}
}

// TestAcceptWaitsOutMissingDescriptors: an accept that fails for want of file
// descriptors is tried again after 5 ms, then after twice as long each time up to a
// second, not returned (it would end pion/turn's and ICE-TCP's accept loops); the
// connection that comes after is handed out, and the failures are counted.
func TestAcceptWaitsOutMissingDescriptors(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		clock := fakeclock.New(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
		limits := New(10, 10)
		limits.afterFunc = clock.AfterFunc
		raw := &failingListener{err: errno, fails: 9, calls: make(chan int, 16)}
		res := acceptInBackground(limits.Listener(raw))
		ms := time.Millisecond
		for i, want := range []time.Duration{5 * ms, 10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, time.Second} {
			if n := <-raw.calls; n != i+1 {
				t.Fatalf("%v: accept %d, want %d", errno, n, i+1)
			}
			waitTimer(t, clock)
			clock.Advance(want - time.Nanosecond)
			select {
			case r := <-res:
				t.Fatalf("%v: accept returned %v, %v before its wait of %v", errno, r.c, r.err, want)
			default:
			}
			if clock.Pending() != 1 {
				t.Fatalf("%v: failure %d: tried again before %v", errno, i+1, want)
			}
			clock.Advance(time.Nanosecond)
		}
		if n := <-raw.calls; n != 10 {
			t.Fatalf("%v: accept %d, want 10", errno, n)
		}
		r := <-res
		if r.err != nil || r.c == nil {
			t.Fatalf("%v: accept returned %v, %v; want the connection", errno, r.c, r.err)
		}
		_ = r.c.Close()
		if got := limits.AcceptFailed(); got != 9 {
			t.Fatalf("%v: %d failures counted, want 9", errno, got)
		}
	}
}

// TestAcceptReturnsOtherErrors: any other failure (a closed listener's) is returned
// at once, without a wait.
func TestAcceptReturnsOtherErrors(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	limits := New(10, 10)
	limits.afterFunc = clock.AfterFunc
	raw := &failingListener{err: syscall.EINVAL, fails: 1, calls: make(chan int, 4)}
	r := <-acceptInBackground(limits.Listener(raw))
	if !errors.Is(r.err, syscall.EINVAL) || clock.Pending() != 0 || limits.AcceptFailed() != 0 {
		t.Fatalf("accept returned %v with %d waits armed, %d counted; want EINVAL at once", r.err, clock.Pending(), limits.AcceptFailed())
	}
}

// TestCloseEndsTheWait: closing the listener while an accept waits to try again ends
// the accept with net.ErrClosed and stops its timer.
func TestCloseEndsTheWait(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	limits := New(10, 10)
	limits.afterFunc = clock.AfterFunc
	raw := &failingListener{err: syscall.EMFILE, fails: 100, calls: make(chan int, 4)}
	ln := limits.Listener(raw)
	res := acceptInBackground(ln)
	<-raw.calls
	waitTimer(t, clock)
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if r := <-res; !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("accept returned %v, %v; want net.ErrClosed", r.c, r.err)
	}
	if clock.Pending() != 0 {
		t.Fatal("the wait's timer was left armed")
	}
	_ = ln.Close() // twice is fine
}
