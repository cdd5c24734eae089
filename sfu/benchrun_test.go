package sfu

import (
	"flag"
	"testing"
)

// TestBenchmarksRun runs one iteration of each of the package's benchmarks but the two
// that simulate a network for seconds an iteration: go test ./... runs no benchmark,
// and BenchmarkWrite had panicked unnoticed for sessions. Their figures are not looked
// at here; only that each runs to the end.
func TestBenchmarksRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every benchmark once")
	}
	bt := flag.Lookup("test.benchtime")
	if bt == nil {
		t.Skip("no -test.benchtime flag to set")
	}
	old := bt.Value.String()
	if err := bt.Value.Set("1x"); err != nil {
		t.Fatal(err)
	}
	// Restored before any benchmark of a -bench run starts: tests run first.
	defer func() { _ = bt.Value.Set(old) }()
	for _, bm := range append([]namedBenchmark{
		{"BatchConn", BenchmarkBatchConn},
		{"CongestionControlWrite", BenchmarkCongestionControlWrite},
		{"Fanout", BenchmarkFanout},
		{"ICETCPWrite", BenchmarkICETCPWrite},
		{"LevelReaderNote", BenchmarkLevelReaderNote},
		{"LocalRelayDivert", BenchmarkLocalRelayDivert},
		{"LocalRelayDivertMap", BenchmarkLocalRelayDivertMap},
		{"LossTracker", BenchmarkLossTracker},
		{"PacketCacheHeld", BenchmarkPacketCacheHeld},
		{"PublisherReceive", BenchmarkPublisherReceive},
		{"SRTPSeal", BenchmarkSRTPSeal},
		{"SRTPWrite", BenchmarkSRTPWrite},
		{"Write", BenchmarkWrite},
	}, platformBenchmarks...) {
		if r := testing.Benchmark(bm.f); r.N == 0 {
			t.Errorf("Benchmark%s did not run to the end", bm.name)
		}
	}
}

type namedBenchmark struct {
	name string
	f    func(*testing.B)
}
