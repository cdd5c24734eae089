package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestNotFoundPage: a path that does not exist gets Conclave's own page (HTML, the
// app's stylesheet, a way back to the start) with status 404 and the security
// headers, not Go's plain text; HEAD gets the status without a body.
func TestNotFoundPage(t *testing.T) {
	h := Handler(Options{})
	for _, target := range []string{"/nope", "/m/abc.def", "/static/nope.js", "/static/index.html", "/favicon.ico", "/m/"} {
		res := get(t, h, http.MethodGet, target)
		b := body(t, res)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d", target, res.StatusCode)
		}
		if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", target, ct)
		}
		for _, want := range []string{`<title data-i18n="notfound.page-title">`, `src="/static/js/notfound.js"`, `href="/static/css/app.css"`, `href="/"`} {
			if !strings.Contains(b, want) {
				t.Errorf("GET %s: the page lacks %q", target, want)
			}
		}
		if strings.Contains(b, "404 page not found") {
			t.Errorf("GET %s: Go's plain 404", target)
		}
		if res.Header.Get("Content-Security-Policy") != ContentSecurityPolicy || res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("ETag") != "" {
			t.Errorf("GET %s: headers %v", target, res.Header)
		}
	}
	res := get(t, h, http.MethodHead, "/nope")
	if b := body(t, res); res.StatusCode != http.StatusNotFound || b != "" {
		t.Errorf("HEAD /nope: %d %q", res.StatusCode, b)
	}
}

// TestNoticeServed: /api/notice is the operator's notice as JSON, fields left out when
// empty, and refuses other methods as JSON too; /privacy is a page; a URL that is not
// http(s) is never served as a link.
func TestNoticeServed(t *testing.T) {
	n := Notice{
		Organisation:          "Example School <b>",
		Contact:               "office@example.org",
		DataProtectionContact: "dpo@example.org",
		PrivacyURL:            "https://example.org/privacy",
		PrivacyText:           "# Privacy\n<script>alert(1)</script>",
		ImprintURL:            "javascript:alert(1)",
		Processing:            []NoticeItem{{Title: "Recording", Text: "None."}},
	}
	h := Handler(Options{Notice: n})
	res := get(t, h, http.MethodGet, "/api/notice")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || res.Header.Get("ETag") == "" {
		t.Fatalf("GET /api/notice: %d %v", res.StatusCode, res.Header)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body(t, res)), &got); err != nil {
		t.Fatal(err)
	}
	if got["organisation"] != n.Organisation || got["privacyText"] != n.PrivacyText || got["privacyUrl"] != n.PrivacyURL || got["dataProtectionContact"] != n.DataProtectionContact {
		t.Errorf("notice %v", got)
	}
	if _, ok := got["imprintUrl"]; ok {
		t.Errorf("a javascript: imprint URL was served: %v", got["imprintUrl"])
	}
	if p, _ := got["processing"].([]any); len(p) != 1 {
		t.Errorf("processing %v", got["processing"])
	}

	res = get(t, Handler(Options{}), http.MethodGet, "/api/notice")
	if b := strings.TrimSpace(body(t, res)); res.StatusCode != 200 || b != "{}" {
		t.Errorf("empty notice: %d %q", res.StatusCode, b)
	}
	res = get(t, h, http.MethodGet, "/privacy")
	if b := body(t, res); res.StatusCode != 200 || !strings.Contains(b, `src="/static/js/privacy.js"`) || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("GET /privacy: %d", res.StatusCode)
	}
	// Another method is refused as the server's API under /api/ refuses one: JSON with
	// a code, where it was the plain text of the web client's files.
	for _, m := range []string{http.MethodPost, http.MethodDelete} {
		res := get(t, h, m, "/api/notice")
		var refusal struct{ Error, Code string }
		b := body(t, res)
		if err := json.Unmarshal([]byte(b), &refusal); err != nil || res.StatusCode != http.StatusMethodNotAllowed ||
			refusal.Code != "method_not_allowed" || refusal.Error == "" || res.Header.Get("Content-Type") != "application/json" ||
			res.Header.Get("Allow") != "GET, HEAD" || res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s /api/notice: %d %s Allow %q %.60q, want 405 JSON with code \"method_not_allowed\"",
				m, res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Allow"), b)
		}
	}
}

// TestNoticeValidate: each unacceptable field is named in a *NoticeError.
func TestNoticeValidate(t *testing.T) {
	if err := (Notice{}).Validate(); err != nil {
		t.Fatalf("empty notice: %v", err)
	}
	good := Notice{Organisation: "Example", PrivacyURL: "https://example.org/p", ImprintURL: "http://example.org/i", PrivacyText: "text\n\nmore"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good notice: %v", err)
	}
	for _, tc := range []struct {
		field string
		n     Notice
	}{
		{"PrivacyURL", Notice{PrivacyURL: "javascript:alert(1)"}},
		{"PrivacyURL", Notice{PrivacyURL: "example.org/privacy"}},
		{"PrivacyURL", Notice{PrivacyURL: "https://user:pw@example.org/"}},
		{"ImprintURL", Notice{ImprintURL: "data:text/html,x"}},
		{"ImprintURL", Notice{ImprintURL: "//example.org"}},
		{"Organisation", Notice{Organisation: "two\nlines"}},
		{"Contact", Notice{Contact: strings.Repeat("x", 501)}},
		{"DataProtectionContact", Notice{DataProtectionContact: "\xff"}},
		{"PrivacyText", Notice{PrivacyText: strings.Repeat("x", MaxPrivacyTextBytes+1)}},
		{"PrivacyText", Notice{PrivacyText: "bad \xff utf-8"}},
		{"PrivacyText", Notice{PrivacyText: "nul \x00"}},
	} {
		err := tc.n.Validate()
		var ne *NoticeError
		if !errors.As(err, &ne) || ne.Field != tc.field {
			t.Errorf("%+v: error %v, want one naming %s", tc.n, err, tc.field)
		}
	}
}
