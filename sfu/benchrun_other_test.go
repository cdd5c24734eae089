//go:build !linux

package sfu

import "conclave/internal/benchonce"

var platformBenchmarks []benchonce.Benchmark
