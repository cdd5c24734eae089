package turn

import (
	"flag"
	"testing"
)

// TestBenchmarksRun runs one iteration of each of the package's benchmarks, as sfu's
// does: go test ./... runs no benchmark, and one that no longer runs to the end would
// go unnoticed. Their figures are not looked at here.
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
	for _, bm := range []struct {
		name string
		f    func(*testing.B)
	}{
		{"UDPUplink", BenchmarkUDPUplink},
		{"UDPDownlink", BenchmarkUDPDownlink},
		{"StreamUplink", BenchmarkStreamUplink},
	} {
		if r := testing.Benchmark(bm.f); r.N == 0 {
			t.Errorf("Benchmark%s did not run to the end", bm.name)
		}
	}
}
