package main

import (
	"fmt"
	"reflect"
	"testing"

	"conclave/connlimit"
	"conclave/sfu"
	"conclave/signaling"
)

// TestEveryStatsNumberReachesTheMetrics: every number of sfu.Stats and signaling.Stats
// (a counter, a gauge, each element of an array of them) is carried into the metrics
// package's Media and Server, where the collector exports it (metrics'
// TestEveryNumberIsExported). Each field is given a value of its own; a new counter
// that the SFU or signaling counts and mediaMetrics or serverMetrics forgets to carry
// fails here, whatever its name in metrics.
func TestEveryStatsNumberReachesTheMetrics(t *testing.T) {
	var media sfu.Stats
	next := uint64(1000)
	want := fillNumbers(t, reflect.ValueOf(&media).Elem(), "sfu.Stats", &next,
		map[string]bool{"ForwardDelay": true}) // a histogram: TestMetricsThroughTheRealServer
	got := numbers(reflect.ValueOf(mediaMetrics(media)))
	for name, v := range want {
		if !got[v] {
			t.Errorf("%s does not reach metrics.Media (mediaMetrics)", name)
		}
	}

	var server signaling.Stats
	want = fillNumbers(t, reflect.ValueOf(&server).Elem(), "signaling.Stats", &next, nil)
	got = numbers(reflect.ValueOf(serverMetrics(server, connlimit.New(1, 1), connlimit.New(1, 1))))
	for name, v := range want {
		if !got[v] {
			t.Errorf("%s does not reach metrics.Server (serverMetrics)", name)
		}
	}

}

// fillNumbers gives each exported integer of the struct v (and each element of an
// array of them) the value *next, counting up, and returns them by name. A field of
// another kind fails the test unless skip names it: the test must be told of it.
func fillNumbers(t *testing.T, v reflect.Value, typ string, next *uint64, skip map[string]bool) map[string]uint64 {
	t.Helper()
	vals := map[string]uint64{}
	set := func(name string, f reflect.Value) bool {
		switch f.Kind() {
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(*next))
		case reflect.Uint64:
			f.SetUint(*next)
		default:
			return false
		}
		vals[name] = *next
		*next++
		return true
	}
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		if !sf.IsExported() || skip[sf.Name] {
			continue
		}
		name, f := typ+"."+sf.Name, v.Field(i)
		if f.Kind() == reflect.Array {
			for j := range f.Len() {
				if !set(fmt.Sprintf("%s[%d]", name, j), f.Index(j)) {
					t.Fatalf("%s is an array of %s: tell this test how it reaches the metrics", name, f.Type().Elem())
				}
			}
			continue
		}
		if !set(name, f) {
			t.Fatalf("%s is a %s: tell this test how it reaches the metrics", name, f.Type())
		}
	}
	return vals
}

// numbers are the integers of the struct v, by value.
func numbers(v reflect.Value) map[uint64]bool {
	got := map[uint64]bool{}
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.Int, reflect.Int64:
			got[uint64(f.Int())] = true
		case reflect.Uint64:
			got[uint64(f.Uint())] = true
		}
	}
	return got
}
