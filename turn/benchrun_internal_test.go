package turn

import (
	"testing"

	"conclave/internal/benchonce"
)

// TestBenchmarksRun runs one iteration of each of the package's benchmarks
// (benchonce).
func TestBenchmarksRun(t *testing.T) {
	benchonce.Run(t,
		benchonce.Benchmark{Name: "UDPUplink", F: BenchmarkUDPUplink},
		benchonce.Benchmark{Name: "UDPDownlink", F: BenchmarkUDPDownlink},
		benchonce.Benchmark{Name: "StreamUplink", F: BenchmarkStreamUplink},
	)
}
