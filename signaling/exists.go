package signaling

import (
	"net/http"
)

// meetingChecker answers whether a meeting can be joined under an id. The meeting page
// asks before its pre-join screen asks for a name, so an unknown or ended meeting is
// said at once. Live meetings and stored rooms that have not expired count.
type meetingChecker interface {
	Exists(id string) bool
}

// maxMeetingIDChars bounds the ids worth a lookup: meeting ids are 22 characters
// (128 bits, base64url); the web client's routes take up to 64.
const maxMeetingIDChars = 64

// meetingStatus answers GET and HEAD /api/meetings/{id}: 200 {"exists":true} or 404
// {"exists":false}, nothing else. Ids are 128 random bits, so the answer reveals
// nothing to someone without a link; anything that is not a possible id is 404
// without a lookup, which keeps each request's cost at one map read.
func (s *Server) meetingStatus(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	id := r.PathValue("id")
	if validID(id) && s.meetings.Exists(id) {
		_, _ = w.Write([]byte(`{"exists":true}` + "\n"))
		return
	}
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(`{"exists":false}` + "\n"))
}

// validID reports whether id is 1–64 base64url characters, the shape of a meeting id.
func validID(id string) bool {
	if id == "" || len(id) > maxMeetingIDChars {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
