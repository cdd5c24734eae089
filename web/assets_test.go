package web

import (
	"bytes"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"runtime"
	"testing"
)

// The handler serves every embedded file byte for byte, whole and in ranges,
// straight from the binary's data.
func TestAssetsServedFromTheBinary(t *testing.T) {
	h := Handler(Options{})
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) == ".html" {
			return err
		}
		want, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		target := "/" + p
		if got := body(t, get(t, h, http.MethodGet, target)); got != string(want) {
			t.Errorf("GET %s: %d bytes, want the embedded %d", target, len(got), len(want))
		}
		if len(want) < 100 {
			return nil
		}
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Range", "bytes=10-49")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusPartialContent || !bytes.Equal(rec.Body.Bytes(), want[10:50]) {
			t.Errorf("GET %s bytes 10-49: %d, %q", target, rec.Code, rec.Body.Bytes())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The handler keeps no copy of the embedded files in the heap: they are 7 MB, and a
// server at rest should not hold twice that in a heap the collector lets grow.
func TestAssetsNotCopiedIntoTheHeap(t *testing.T) {
	total := 0
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += int(info.Size())
			}
		}
		return nil
	})
	if total < 4<<20 {
		t.Fatalf("the embedded files are %d bytes; this test needs far more than its allowance", total)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h := Handler(Options{})
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(h)
	// Counted: every byte allocated meanwhile, by anything; the files would be total.
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("Handler allocated %d bytes; the embedded files are %d", n, total)
	}
}
