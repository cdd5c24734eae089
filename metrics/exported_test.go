package metrics_test

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"conclave/metrics"
)

// TestEveryNumberIsExported: every number of Media and Server (what cmd/conclave
// carries from sfu.Stats and signaling.Stats, its TestEveryStatsNumberReachesTheMetrics)
// is the value of one of the collector's series. Each field is given a value of its
// own, so a field that no family reads, or that one reads in another's place, fails
// here whatever the family's name; TestHandlerExportsSnapshots checks the names.
func TestEveryNumberIsExported(t *testing.T) {
	var media metrics.Media
	var server metrics.Server
	next := 1000.0
	want := map[float64]string{}
	for _, s := range []reflect.Value{reflect.ValueOf(&media).Elem(), reflect.ValueOf(&server).Elem()} {
		for i := range s.NumField() {
			f, name := s.Field(i), s.Type().Name()+"."+s.Type().Field(i).Name
			switch f.Kind() {
			case reflect.Int, reflect.Int64:
				f.SetInt(int64(next))
			case reflect.Uint64:
				f.SetUint(uint64(next))
			case reflect.Struct:
				continue // ForwardDelay, a histogram: TestHandlerExportsSnapshots
			default:
				t.Fatalf("%s is a %s: tell this test how it is exported", name, f.Type())
			}
			want[next] = name
			next++
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(metrics.Sources{
		Server: func() metrics.Server { return server },
		Media:  func() metrics.Media { return media },
	}))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch {
			case m.Counter != nil:
				delete(want, m.Counter.GetValue())
			case m.Gauge != nil:
				delete(want, m.Gauge.GetValue())
			}
		}
	}
	for _, name := range want {
		t.Errorf("%s is exported by no series", name)
	}
}

// TestReadmesNameOnlyExportedFamilies: deploy/README.md's table of metrics has a row
// for every family the collector exports, and neither it nor README.md names one the
// server does not export (a family renamed, or one a commit meant to add).
func TestReadmesNameOnlyExportedFamilies(t *testing.T) {
	described := metrics.NewCollector(sources(turnAllocs(0))).Names()
	name := regexp.MustCompile(`\bconclave_[a-z0-9_]+`)
	for _, doc := range []string{"../deploy/README.md", "../README.md"} {
		raw, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range name.FindAllString(string(raw), -1) {
			if !slices.Contains(described, strings.TrimSuffix(n, "_bucket")) {
				t.Errorf("%s names %s, which the collector does not export", doc, n)
			}
		}
		if doc != "../deploy/README.md" {
			continue
		}
		for _, n := range described {
			if !strings.Contains(string(raw), "| `"+n) && !strings.Contains(string(raw), ", `"+n) {
				t.Errorf("%s has no row for %s", doc, n)
			}
		}
	}
}
