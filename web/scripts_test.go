package web

import (
	"path"
	"regexp"
	"strings"
	"testing"
)

// TestTestHooks keeps the ids and classes the browser tests rely on.
func TestTestHooks(t *testing.T) {
	files := embedded(t)
	page := files["static/meeting.html"]
	for _, id := range []string{
		"prejoin-name", "prejoin-mic", "prejoin-camera", "prejoin-join", "prejoin-password",
		"btn-mic", "btn-camera", "btn-screen", "btn-chat", "btn-leave", "btn-people", "btn-rejoin",
		"chat-input", "chat-send", "chat-messages", "meeting-error",
		// waiting screen
		"lobby", "lobby-status", "lobby-note", "lobby-leave",
		// moderators
		"btn-waiting", "waiting-badge", "waiting-panel", "waiting-list", "btn-admit-all",
		"btn-settings", "settings-panel", "setting-lock", "setting-lobby", "setting-screenshare",
		"setting-unmute", "setting-chat", "setting-password", "setting-password-save",
		"btn-end-meeting", "confirm-dialog", "confirm-ok", "confirm-cancel",
		// everyone
		"unmute-prompt", "unmute-accept", "unmute-dismiss",
		// end-to-end encryption
		"e2ee-status", "e2ee-panel", "safety-code", "prejoin-e2ee",
		// background blur
		"prejoin-blur", "btn-blur",
	} {
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("meeting.html has no #%s", id)
		}
	}
	landing := files["static/index.html"]
	for _, id := range []string{
		"host-key", "new-password", "new-lobby", "new-screenshare", "new-unmute", "new-chat",
		"btn-new-meeting", "create-error", "create-result", "link-participant", "link-moderator",
		"password-reminder", "btn-join-moderator", "join-input",
		"new-e2ee", "e2ee-reminder", "e2ee-off-reminder",
	} {
		if !strings.Contains(landing, `id="`+id+`"`) {
			t.Errorf("index.html has no #%s", id)
		}
	}
	js := files["static/js/meeting.js"] + files["static/js/page-hooks.js"] + files["static/js/grid.js"] + files["static/js/tile.js"] + files["static/js/chat.js"] +
		files["static/js/people.js"] + files["static/js/waiting.js"] + files["static/js/moderator.js"] +
		files["static/js/lobby.js"]
	for _, s := range []string{
		"window.conclave", "participantId", "participants()", "stats()", "settings()", "waiting()", "get role()",
		"chat-message", "chat-text", "dataset: { participantId, source, self",
		"participant-menu", "dataset: { action: entry.action, participantId: person.id }",
		"waiting-entry", "btn-admit", "btn-deny", "moderatorPresent",
		"'ask_unmute'", "'mute_microphone'", "'mute_camera'", "'stop_screen_share'", "'make_presenter'",
		"'remove_presenter'", "'make_moderator'", "'remove_moderator'", "'send_to_lobby'", "'remove'",
		// end-to-end encryption
		"e2ee: e2eeHooks", "safetyCode:", "verified:", "unverified:", "keyIndex:",
		"e2ee-unverified", "link_incomplete",
	} {
		if !strings.Contains(js+files["static/js/e2ee-ui.js"]+files["static/js/status.js"], s) {
			t.Errorf("client scripts lack %q", s)
		}
	}
}

// TestE2EEModules: the worker and the key schedule are embedded, the worker is a
// module worker loaded from this origin, and the word list of the safety code has
// 1024 distinct words.
func TestE2EEModules(t *testing.T) {
	files := embedded(t)
	for _, f := range []string{"worker.js", "media-rings.js", "session-keys.js", "words.js", "keys.js", "frame.js", "text.js", "b64.js"} {
		if files["static/js/e2ee/"+f] == "" {
			t.Errorf("static/js/e2ee/%s is not embedded", f)
		}
	}
	hooks := files["static/js/e2ee-hooks.js"]
	for _, s := range []string{"'/static/js/e2ee/worker.js'", "type: 'module'", "encodedInsertableStreams = true",
		"createEncodedStreams()", "new RTCRtpScriptTransform(", "getSenders()"} {
		if !strings.Contains(hooks, s) {
			t.Errorf("e2ee-hooks.js lacks %q", s)
		}
	}
	// Never a null transform: that sends plaintext (TESTING.md).
	if regexp.MustCompile(`transform\s*=\s*null`).MatchString(hooks + files["static/js/e2ee/worker.js"]) {
		t.Error("a transform is set to null")
	}
	worker := files["static/js/e2ee/worker.js"]
	for _, s := range []string{"onrtctransform", "from './frame.js'", "'stream'"} {
		if !strings.Contains(worker, s) {
			t.Errorf("worker.js lacks %q", s)
		}
	}
	words := regexp.MustCompile(`'([a-z]+)'`).FindAllStringSubmatch(files["static/js/e2ee/words.js"], -1)
	seen := map[string]bool{}
	for _, w := range words {
		if seen[w[1]] {
			t.Errorf("words.js: %q twice", w[1])
		}
		seen[w[1]] = true
	}
	if len(seen) != 1024 {
		t.Errorf("words.js has %d distinct words, want 1024", len(seen))
	}
}

// TestModulesResolve checks that every relative import names an embedded file.
func TestModulesResolve(t *testing.T) {
	files := embedded(t)
	for name, text := range files {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		specs, err := moduleImports(text)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, spec := range specs {
			target := path.Join(path.Dir(name), spec)
			relative := strings.HasPrefix(spec, "./") || strings.HasPrefix(spec, "../")
			if !relative || !strings.HasPrefix(target, "static/") || files[target] == "" {
				t.Errorf("%s imports %q, which is not an embedded module", name, spec)
			}
			// A JSON module loads only when the import says so (the catalogues).
			withJSON := regexp.MustCompile(regexp.QuoteMeta(spec) + `['"]\s+with\s+\{\s*type:\s*'json'\s*\}`)
			if strings.HasSuffix(target, ".json") && !withJSON.MatchString(text) {
				t.Errorf("%s imports %q without `with { type: 'json' }`", name, spec)
			}
		}
	}
	src := regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`)
	for name, text := range files {
		if !strings.HasSuffix(name, ".html") {
			continue
		}
		for _, m := range src.FindAllStringSubmatch(text, -1) {
			if files["static/"+strings.TrimPrefix(m[1], "/static/")] == "" {
				t.Errorf("%s references %s, which is not embedded", name, m[1])
			}
		}
	}
}
