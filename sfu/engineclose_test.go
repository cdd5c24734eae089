package sfu

import "testing"

// TestEngineClosesTwice: a second Close returns what the first did and does nothing;
// it panicked before ("close of closed channel" in the writer pool), and a shutdown
// path may close the engine on an error and again on its way out.
func TestEngineClosesTwice(t *testing.T) {
	eng, err := NewEngine(Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	first := eng.Close()
	if second := eng.Close(); second != first {
		t.Fatalf("the second Close returned %v, the first %v", second, first)
	}
}
