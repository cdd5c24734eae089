package freshport

import (
	"net"
	"testing"
)

// TestNoPortTwice: listeners opened and closed one after another never get a port
// twice, where the system's own choice does (checked below, so that the test shows
// something: a few thousand listeners on 127.0.0.1:0 repeat ports).
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
