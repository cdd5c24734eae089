package signaling_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestOneOffMeetingOversizedBody: POST /api/meetings takes a body of up to 4096 bytes
// and refuses a larger one as too large (413, as the rooms API does beyond its bound)
// before anything is made. It read the first 4096 bytes and judged those: a JSON object
// followed by padding made a meeting (201), and one with padding inside was called
// "not a JSON object".
func TestOneOffMeetingOversizedBody(t *testing.T) {
	s := newTestServer(t)
	const obj = `{"settings":{"lobby":false}}`
	for _, c := range []struct {
		body string
		want int
	}{
		{obj + strings.Repeat(" ", 4096-len(obj)), http.StatusCreated},
		{obj + strings.Repeat(" ", 4097-len(obj)), http.StatusRequestEntityTooLarge},
		{obj + strings.Repeat(" ", 5000), http.StatusRequestEntityTooLarge},
		{`{"settings":{"lobby":false},"pad":"` + strings.Repeat("a", 5000) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		resp, err := s.post(c.body, "Bearer "+testHostKey)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("a %d-byte body: %d %q, want %d", len(c.body), resp.StatusCode, strings.TrimSpace(string(b)), c.want)
		}
	}
}

// TestOneOffMeetingBodyIsAnObject: the optional body of POST /api/meetings is a JSON
// object or nothing; null, which json.Unmarshal takes for {}, made a meeting.
func TestOneOffMeetingBodyIsAnObject(t *testing.T) {
	s := newTestServer(t)
	for _, c := range []struct {
		body string
		want int
	}{{"", http.StatusCreated}, {" \n", http.StatusCreated}, {"{}", http.StatusCreated}, {"null", http.StatusBadRequest}, {" null\n", http.StatusBadRequest}, {"[]", http.StatusBadRequest}} {
		resp, err := s.post(c.body, "Bearer "+testHostKey)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("body %q: %d %q, want %d", c.body, resp.StatusCode, strings.TrimSpace(string(b)), c.want)
		}
	}
}
