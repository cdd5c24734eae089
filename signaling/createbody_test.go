package signaling_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestOneOffMeetingOversizedBody: POST /api/meetings reads at most 4 KiB of its
// body and judges what it read. A larger body must be refused as too large (413, as
// the rooms API does beyond 8 KiB) and make nothing; before, a JSON object followed by
// padding past 4 KiB made a meeting (201), and one whose padding is inside the
// object was refused as "not a JSON object".
func TestOneOffMeetingOversizedBody(t *testing.T) {
	s := newTestServer(t)
	for _, body := range []string{
		`{"settings":{"lobby":false}}` + strings.Repeat(" ", 5000),
		`{"settings":{"lobby":false},"pad":"` + strings.Repeat("a", 5000) + `"}`,
	} {
		resp, err := s.post(body, "Bearer "+testHostKey)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("a %d-byte body: %d %q, want 413 and no meeting made", len(body), resp.StatusCode, strings.TrimSpace(string(b)))
		}
	}
}
