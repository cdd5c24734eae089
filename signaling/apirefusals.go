package signaling

import (
	"net/http"
	"slices"
	"strings"
)

// apiRoutes are the methods of each path Register serves ("GET /api/rooms/{id}" adds
// GET to "/api/rooms/{id}").
type apiRoutes map[string][]string

func (a apiRoutes) add(pattern string) {
	method, path, _ := strings.Cut(pattern, " ")
	a[path] = append(a[path], method)
}

// registerAPIRefusals answers, on each path Register serves, a method the path does not
// serve with 405 and Allow (GET /ws too), and under /api/ a path that is none of the
// API's with 404, as JSON with the API's headers like its other refusals (PROTOCOL.md,
// "Errors of the HTTP API"): the mux answered them in plain text, and in the binary the
// web client's 404 page did (its catch-all "/" matches every request that no route of
// its method matches). These patterns have no method, so every route of the API is
// more specific and wins; nothing is looked up or checked for them. GET /api/notice is
// the web client's (web.NoticePath): whoever mounts the web client mounts it there too,
// a more specific pattern than "/api/".
func (a apiRoutes) registerAPIRefusals(mux *http.ServeMux) {
	for path, methods := range a {
		mux.Handle(path, withAPIHeaders(methodNotAllowed(allowOf(methods))))
	}
	if _, ok := a[apiTree]; !ok {
		mux.Handle(apiTree, withAPIHeaders(noSuchEndpoint))
	}
}

// apiTree is where the HTTP API's paths are.
const apiTree = "/api/"

// allowOf is the Allow header of a path served by methods: GET serves HEAD too.
func allowOf(methods []string) string {
	allow := slices.Clone(methods)
	if slices.Contains(allow, http.MethodGet) {
		allow = append(allow, http.MethodHead)
	}
	slices.Sort(allow)
	return strings.Join(slices.Compact(allow), ", ")
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Allow", allow)
		writeJSONError(w, &apiError{status: http.StatusMethodNotAllowed, msg: "this path answers " + allow + " only"})
	}
}

func noSuchEndpoint(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSONError(w, &apiError{status: http.StatusNotFound, msg: "no such path in the API"})
}
