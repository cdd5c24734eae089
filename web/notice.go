package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Notice is the operator's information for the people whose data the server processes
// (GDPR Art. 13): who runs it, whom to ask, and the privacy notice. The web client
// shows it on the landing page, the pre-join screen, the waiting room and the page
// /privacy; GET /api/notice serves it as JSON. Every field is plain text or an
// http(s) URL: the client never renders any of it as markup.
type Notice struct {
	Organisation          string `json:"organisation,omitempty"`
	Contact               string `json:"contact,omitempty"`
	DataProtectionContact string `json:"dataProtectionContact,omitempty"`
	PrivacyURL            string `json:"privacyUrl,omitempty"`
	// PrivacyText is the operator's own notice, shown as plain text (a Markdown file
	// shows its source: nothing in it becomes markup or a request).
	PrivacyText string `json:"privacyText,omitempty"`
	ImprintURL  string `json:"imprintUrl,omitempty"`
	// Processing is the built-in notice: what this server processes and for how long,
	// described from its configuration by the caller. It is shown as the notice when
	// the operator set neither PrivacyURL nor PrivacyText, and as "technical details"
	// below theirs otherwise.
	Processing []NoticeItem `json:"processing,omitempty"`
}

// NoticeItem is one heading and paragraph of the built-in notice. Title and Text are
// English; Fact names the item for the web client, which shows it in the reader's
// language from its catalogue ("notice.fact.<Fact>.title/text"), with Seconds filling
// its durations. A client that does not know the fact shows Title and Text.
type NoticeItem struct {
	Title   string           `json:"title"`
	Text    string           `json:"text"`
	Fact    string           `json:"fact,omitempty"`
	Seconds map[string]int64 `json:"seconds,omitempty"`
}

// MaxPrivacyTextBytes bounds Notice.PrivacyText (a privacy notice, not a book).
const MaxPrivacyTextBytes = 64 << 10

// maxNoticeFieldChars bounds the one-line fields.
const maxNoticeFieldChars = 500

// NoticeError names the Notice field that is not acceptable and why.
type NoticeError struct {
	Field  string // e.g. "PrivacyURL"
	Reason string
}

func (e *NoticeError) Error() string { return fmt.Sprintf("privacy notice: %s %s", e.Field, e.Reason) }

// ErrNotHTTPURL is the reason (wrapped) for a link that is not an absolute http(s) URL.
var ErrNotHTTPURL = errors.New("must be an absolute http:// or https:// URL")

// Validate checks the notice before the server starts: URLs are absolute http(s) URLs
// without user information, one-line fields are single lines of at most 500 characters,
// the text is UTF-8 of at most MaxPrivacyTextBytes. Errors are *NoticeError.
func (n Notice) Validate() error {
	for _, f := range []struct{ name, v string }{
		{"Organisation", n.Organisation}, {"Contact", n.Contact}, {"DataProtectionContact", n.DataProtectionContact},
		{"PrivacyURL", n.PrivacyURL}, {"ImprintURL", n.ImprintURL},
	} {
		if utf8.RuneCountInString(f.v) > maxNoticeFieldChars || strings.ContainsAny(f.v, "\r\n") || !utf8.ValidString(f.v) {
			return &NoticeError{f.name, "must be one line of at most 500 characters"}
		}
	}
	for _, f := range []struct{ name, v string }{{"PrivacyURL", n.PrivacyURL}, {"ImprintURL", n.ImprintURL}} {
		if f.v != "" && !httpURL(f.v) {
			return &NoticeError{f.name, ErrNotHTTPURL.Error()}
		}
	}
	if len(n.PrivacyText) > MaxPrivacyTextBytes {
		return &NoticeError{"PrivacyText", fmt.Sprintf("is longer than %d bytes", MaxPrivacyTextBytes)}
	}
	if !utf8.ValidString(n.PrivacyText) || strings.ContainsRune(n.PrivacyText, 0) {
		return &NoticeError{"PrivacyText", "is not UTF-8 text"}
	}
	return nil
}

// httpURL reports whether s is an absolute http or https URL with a host and no user
// information: a link a person can follow, never javascript: or data:.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil
}

// noticeAsset encodes n for GET /api/notice. Invalid URLs are left out, so a caller
// that skipped Validate still serves no link but an http(s) one.
func noticeAsset(n Notice) *asset {
	if n.PrivacyURL != "" && !httpURL(n.PrivacyURL) {
		n.PrivacyURL = ""
	}
	if n.ImprintURL != "" && !httpURL(n.ImprintURL) {
		n.ImprintURL = ""
	}
	body, err := json.Marshal(n)
	if err != nil { // strings and slices of strings always encode
		body = []byte("{}")
	}
	sum := sha256.Sum256(body)
	return &asset{body: body, contentType: contentTypes[".json"], etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// refuseNoticeMethod answers a method other than GET and HEAD at NoticePath as the
// server's API, under whose /api/ it is, refuses one (signaling's PROTOCOL.md, "Errors of
// the HTTP API": JSON with a code, no-store, the API's Content-Security-Policy), where it
// was the plain text of the web client's files. Allow is set by the caller.
func refuseNoticeMethod(w http.ResponseWriter) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusMethodNotAllowed)
	_, _ = io.WriteString(w, `{"error":"this path answers GET, HEAD only","code":"method_not_allowed"}`+"\n")
}
