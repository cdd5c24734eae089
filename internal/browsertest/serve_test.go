package browsertest

import (
	"fmt"
	"net/http"
	"testing"

	"conclave/internal/freshport"
)

// serve starts a server on 127.0.0.1 with testPage and returns its URL: on a port
// no earlier test of the package had (internal/freshport), as doc.go asks of every
// test's pages, so that no test here finds another's storage in the shared browsers.
func serve(t *testing.T) string {
	t.Helper()
	srv, err := freshport.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, testPage)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}
