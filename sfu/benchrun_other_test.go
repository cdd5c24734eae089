//go:build !linux

package sfu

var platformBenchmarks []namedBenchmark
