package main

import "runtime/debug"

// defaultGCPercent is the collector's target unless the operator sets GOGC: the heap
// may grow by half the live heap (and the goroutines' stacks) between collections
// instead of Go's default of all of it. Forwarding a meeting's packets allocates
// nothing, so the collector runs rarely while people talk whatever the setting; the
// joins' garbage is what it collects, a little more often. Measured on one core
// (bench/README.md, "Own SRTCP, write pumps on demand, the collector's target"): a
// subscriber of a 100-person webinar costs about 100 KB instead of 125, a person in a
// 10-person meeting where everyone sends video 1.8 MB instead of 2.4, at the same CPU
// a forwarded packet.
const defaultGCPercent = 50

// tuneGC sets the collector's target to defaultGCPercent unless GOGC is set: an
// operator's setting wins (deploy/README.md, "Memory").
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
