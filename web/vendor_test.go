package web

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"strings"
	"testing"
)

// vendorDir holds third-party files brought in by web/vendor/update.sh (the
// background-blur runtime), byte for byte as published and pinned by hash.
const vendorDir = "static/vendor/selfie-segmentation"

// vendored reports whether the embedded file name is a pinned third-party file.
//
// Such files are exempt from two text checks written for our own code, for
// reasons checked by hand at the pinned version: TestNoOtherOrigin (the
// Emscripten glue and the WebAssembly binary carry documentation links inside
// error messages, the licence its own address; none is fetched, and the CSP's
// connect-src 'self' would refuse it anyway) and TestNothingPersisted (the
// glue contains Emscripten's IndexedDB file system, which MediaPipe never
// mounts; the blur browser test checks that no database exists afterwards).
// The other checks (eval, markup from strings) still apply to them.
// TestVendoredFilesPinned keeps the exemption to exactly those bytes.
func vendored(name string) bool {
	return strings.HasPrefix(name, vendorDir+"/")
}

// TestVendoredFilesPinned: the vendored directory holds exactly the files that
// VERSION.txt lists (written by update.sh), with those SHA-256 sums, and the
// licence beside them. A hand edit or a stray file fails here.
func TestVendoredFilesPinned(t *testing.T) {
	manifest, err := staticFS.ReadFile(vendorDir + "/VERSION.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(manifest)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && len(f[0]) == 64 {
			want[f[1]] = f[0]
		}
	}
	for _, must := range []string{"LICENSE.txt", "selfie_segmentation.js", "selfie_segmentation_solution_simd_wasm_bin.wasm"} {
		if _, ok := want[must]; !ok {
			t.Errorf("VERSION.txt does not list %s", must)
		}
	}
	entries, err := fs.ReadDir(staticFS, vendorDir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Name() == "VERSION.txt" {
			continue
		}
		seen[e.Name()] = true
		b, err := staticFS.ReadFile(vendorDir + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); want[e.Name()] != got {
			t.Errorf("%s: sha256 %s, VERSION.txt says %q (run web/vendor/update.sh)", e.Name(), got, want[e.Name()])
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("VERSION.txt lists %s, which is missing", name)
		}
	}
	if !strings.Contains(string(manifest), "Apache-2.0") {
		t.Error("VERSION.txt does not name the licence")
	}
}

// TestCSPAllowsWasmOnly: the blur runtime needs WebAssembly compilation and
// nothing more; string evaluation and inline code stay forbidden.
func TestCSPAllowsWasmOnly(t *testing.T) {
	csp := ContentSecurityPolicy
	if !strings.Contains(csp, "script-src 'self' 'wasm-unsafe-eval';") {
		t.Errorf("CSP script-src does not allow WebAssembly: %s", csp)
	}
	for _, bad := range []string{"'unsafe-eval'", "'unsafe-inline'", "'unsafe-hashes'", "'strict-dynamic'"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP contains %s: %s", bad, csp)
		}
	}
}
