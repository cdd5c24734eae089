package sfu

import (
	"testing"

	"conclave/internal/benchonce"
)

// TestBenchmarksRun runs one iteration of each of the package's benchmarks but the two
// that simulate a network for seconds an iteration (benchonce).
func TestBenchmarksRun(t *testing.T) {
	benchonce.Run(t, append([]benchonce.Benchmark{
		{Name: "BatchConn", F: BenchmarkBatchConn},
		{Name: "CongestionControlWrite", F: BenchmarkCongestionControlWrite},
		{Name: "Fanout", F: BenchmarkFanout},
		{Name: "ICETCPWrite", F: BenchmarkICETCPWrite},
		{Name: "LevelReaderNote", F: BenchmarkLevelReaderNote},
		{Name: "LocalRelayDivert", F: BenchmarkLocalRelayDivert},
		{Name: "LocalRelayDivertMap", F: BenchmarkLocalRelayDivertMap},
		{Name: "LossTracker", F: BenchmarkLossTracker},
		{Name: "PacketCacheHeld", F: BenchmarkPacketCacheHeld},
		{Name: "PublisherReceive", F: BenchmarkPublisherReceive},
		{Name: "SRTPSeal", F: BenchmarkSRTPSeal},
		{Name: "SRTPWrite", F: BenchmarkSRTPWrite},
		{Name: "Write", F: BenchmarkWrite},
	}, platformBenchmarks...)...)
}
