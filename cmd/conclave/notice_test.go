package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"conclave/web"
)

// TestNoticeSettings: the Art. 13 settings come from flags or CONCLAVE_* variables, the
// privacy file's text is served as plain text, and the web client gets them all from
// GET /api/notice together with the built-in description of the processing.
func TestNoticeSettings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "privacy.md")
	if err := os.WriteFile(file, []byte("# Privacy\r\n\r\nWe process <b>little</b>.\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CONCLAVE_ORG_NAME": "Example School", "CONCLAVE_DPO_CONTACT": "dpo@example.org", "CONCLAVE_PRIVACY_FILE": file}
	o, err := parseOptions([]string{"-org-contact", "office@example.org", "-imprint-url", "https://example.org/imprint", "-privacy-url", "https://example.org/privacy"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	notice, err := buildNotice(o.notice, processingFacts{knockTimeout: 15 * time.Minute, emptyGrace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	web.Handler(web.Options{Notice: notice}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/notice", nil))
	var got web.Notice
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("GET /api/notice: %d %v", rec.Code, err)
	}
	want := web.Notice{Organisation: "Example School", Contact: "office@example.org", DataProtectionContact: "dpo@example.org",
		PrivacyURL: "https://example.org/privacy", PrivacyText: "# Privacy\n\nWe process <b>little</b>.", ImprintURL: "https://example.org/imprint"}
	got.Processing = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("notice\n got %+v\nwant %+v", got, want)
	}
	var how string
	for _, it := range notice.Processing {
		if it.Title == "How long" {
			how = it.Text
		}
	}
	if !strings.Contains(how, "1 minute after the last person left") || !strings.Contains(how, "at most 15 minutes") {
		t.Errorf("the built-in notice says %q", how)
	}
}

// TestNoticeBadSettings: each bad setting stops the server with an error naming its
// flag.
func TestNoticeBadSettings(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.txt")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", web.MaxPrivacyTextBytes+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.txt")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n    noticeOptions
		flag string
	}{
		{noticeOptions{privacyURL: "javascript:alert(1)"}, "-privacy-url"},
		{noticeOptions{privacyURL: "example.org"}, "-privacy-url"},
		{noticeOptions{imprintURL: "ftp://example.org/"}, "-imprint-url"},
		{noticeOptions{orgName: "a\nb"}, "-org-name"},
		{noticeOptions{privacyFile: filepath.Join(dir, "missing.txt")}, "-privacy-file"},
		{noticeOptions{privacyFile: big}, "-privacy-file"},
		{noticeOptions{privacyFile: empty}, "-privacy-file"},
	} {
		_, err := buildNotice(tc.n, processingFacts{})
		if err == nil || !strings.HasPrefix(err.Error(), tc.flag+" ") && !strings.HasPrefix(err.Error(), tc.flag+":") {
			t.Errorf("%+v: error %v, want one naming %s", tc.n, err, tc.flag)
		}
	}
	// Debug logging changes what the built-in notice says about logs.
	for _, it := range (processingFacts{logLevel: slog.LevelDebug}).items() {
		if it.Title == "Logs" && !strings.Contains(it.Text, "IP addresses") {
			t.Errorf("debug logs: %q", it.Text)
		}
	}
}

// TestNoticeFactsNameTheirText: every item of the built-in notice names its fact, so the
// web client can say it in the reader's language (web/static/js/notice.js FACTS), and
// the item with durations carries them in seconds.
func TestNoticeFactsNameTheirText(t *testing.T) {
	known := map[string]bool{"processed": true, "e2ee": true, "how-long": true, "recording": true, "accounts": true,
		"stored": true, "stored-memory": true, "logs": true, "logs-debug": true, "services": true,
		"speakers": true, "speakers-off": true}
	for _, f := range []processingFacts{{knockTimeout: 15 * time.Minute, emptyGrace: time.Minute}, {logLevel: slog.LevelDebug, memoryOnly: true, speakers: true}} {
		for _, it := range f.items() {
			if !known[it.Fact] {
				t.Errorf("item %q: fact %q is not one the web client knows", it.Title, it.Fact)
			}
			if it.Fact == "how-long" && (it.Seconds["emptyGrace"] != int64(f.emptyGrace/time.Second) || it.Seconds["knockTimeout"] != int64(f.knockTimeout/time.Second) || it.Seconds["forgetAfter"] <= 0) {
				t.Errorf("how-long: seconds %v", it.Seconds)
			}
		}
	}
}
