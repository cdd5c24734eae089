package sfu

import (
	"testing"
	"time"
)

// TestMmsgReaderDropsOversized: a datagram larger than a read slot cannot be read whole;
// it is dropped and counted, and the datagrams around it are read as they came.
func TestMmsgReaderDropsOversized(t *testing.T) {
	b := mustBatchConn(t, listenLoopback(t))
	t.Cleanup(func() { _ = b.Close() })
	if err := b.SetReadDeadline(time.Now().Add(time.Minute)); err != nil { // only a lost datagram meets it
		t.Fatal(err)
	}
	peer := listenLoopback(t)
	for _, p := range [][]byte{[]byte("before"), make([]byte, readSlot+1), []byte("after")} {
		if _, err := peer.WriteTo(p, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2*readSlot)
	for _, want := range []string{"before", "after"} {
		n, _, err := b.ReadFromAddrPort(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("read %d bytes %q (%v), want %q", n, buf[:min(n, 16)], err, want)
		}
	}
	if n := b.reader.(*mmsgReader).truncated.Load(); n != 1 {
		t.Fatalf("%d datagrams dropped as too large, want 1", n)
	}
}
