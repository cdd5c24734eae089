//go:build race

package signaling_test

// raceDetector says the tests run under the race detector, whose instrumentation
// changes every function's stack frame.
const raceDetector = true
