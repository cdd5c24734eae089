package signaling

import "net/http"

// The HTTP routes of a Server and the headers every answer of them carries.

// Register adds the server's routes to mux: /ws, /api/meetings, /api/meetings/{id}
// (GET and HEAD: can a meeting be joined under that id) and /api/rooms; and the API's
// refusals of other methods on them and of other paths under /api/
// (registerAPIRefusals), where the web client's GET /api/notice is to be mounted
// besides "/" (web.NoticePath).
func (s *Server) Register(mux *http.ServeMux) {
	routes := apiRoutes{}
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, withAPIHeaders(h))
		routes.add(pattern)
	}
	handle("GET /ws", s.serveWS)
	handle("POST /api/meetings", s.createMeeting)
	handle("GET /api/meetings/{id}", s.meetingStatus)
	s.registerRooms(handle)
	routes.registerAPIRefusals(mux)
}

// apiHeaders are set on every answer of the routes here, refusals included, as the web
// client's files have theirs (web.Handler): nothing of an answer is to be read as a
// page, a script or a style, embedded in a frame, fetched from another origin, or given a
// referrer.
var apiHeaders = [][2]string{
	{"X-Content-Type-Options", "nosniff"},
	{"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
	{"Referrer-Policy", "no-referrer"},
}

func withAPIHeaders(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, kv := range apiHeaders {
			w.Header().Set(kv[0], kv[1])
		}
		h(w, r)
	})
}
