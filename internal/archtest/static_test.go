package archtest

import "testing"

// TestServerBuildsWithoutCgo: the README and the operator guide build the server with
// CGO_ENABLED=0, a static file that runs on any Linux whatever its C library. A
// dependency that builds only with cgo would leave a package with no files to build
// (or an import it cannot satisfy) here, which `go list` reports as an error.
func TestServerBuildsWithoutCgo(t *testing.T) {
	type listed struct {
		ImportPath string
		Error      *struct{ Err string }
		DepsErrors []struct{ Err string }
		CgoFiles   []string
	}
	pkgs := goList[listed](t, []string{"CGO_ENABLED=0"}, "-deps", "-e", "-json=ImportPath,Error,DepsErrors,CgoFiles", "conclave/cmd/conclave")
	for _, p := range pkgs {
		if p.Error != nil {
			t.Errorf("%s does not build without cgo: %s", p.ImportPath, p.Error.Err)
		}
		for _, e := range p.DepsErrors {
			t.Errorf("%s: a dependency does not build without cgo: %s", p.ImportPath, e.Err)
		}
		if len(p.CgoFiles) > 0 {
			t.Errorf("%s has cgo files with CGO_ENABLED=0: %v", p.ImportPath, p.CgoFiles)
		}
	}
	if len(pkgs) < 50 {
		t.Fatalf("go list named only %d packages of the server", len(pkgs))
	}
}
