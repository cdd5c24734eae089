// Package benchonce runs a package's benchmarks once from a test: go test runs no
// benchmark, and one that no longer runs to the end (sfu's BenchmarkWrite had panicked
// unnoticed for sessions) would go unnoticed. Their figures are not looked at.
package benchonce

import (
	"flag"
	"testing"
)

// Benchmark is a benchmark and the name it is reported by (without "Benchmark").
type Benchmark struct {
	Name string
	F    func(*testing.B)
}

// Run runs one iteration of each of bs (-test.benchtime=1x, restored before Run
// returns, so before any benchmark of a -bench run starts: tests run first), and fails
// t for each that did not run to the end. With -short it runs none.
func Run(t *testing.T, bs ...Benchmark) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs benchmarks once")
	}
	bt := flag.Lookup("test.benchtime")
	if bt == nil {
		t.Skip("no -test.benchtime flag to set")
	}
	old := bt.Value.String()
	if err := bt.Value.Set("1x"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bt.Value.Set(old) }()
	for _, b := range bs {
		if r := testing.Benchmark(b.F); r.N == 0 {
			t.Errorf("Benchmark%s did not run to the end", b.Name)
		}
	}
}
