package archtest

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"testing"
)

// TestServerBuildsWithoutCgo: the README and the operator guide build the server with
// CGO_ENABLED=0, a static file that runs on any Linux whatever its C library. A
// dependency that builds only with cgo would leave a package with no files to build
// (or an import it cannot satisfy) here, which `go list` reports as an error.
func TestServerBuildsWithoutCgo(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-e", "-json=ImportPath,Error,DepsErrors,CgoFiles", "conclave/cmd/conclave")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type listed struct {
		ImportPath string
		Error      *struct{ Err string }
		DepsErrors []struct{ Err string }
		CgoFiles   []string
	}
	n := 0
	dec := json.NewDecoder(out)
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
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
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("go list named only %d packages of the server", n)
	}
}
