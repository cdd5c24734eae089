package web

import (
	"strings"
	"testing"
)

// TestCSPRequiresTrustedTypes: the CSP requires Trusted Types for every script sink and
// allows exactly one policy, the one static/js/script-urls.js makes under that name;
// no other script makes a policy (a "default" one would let every string through).
func TestCSPRequiresTrustedTypes(t *testing.T) {
	directives := map[string]string{}
	for _, d := range strings.Split(ContentSecurityPolicy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	if got := directives["require-trusted-types-for"]; got != "'script'" {
		t.Errorf("require-trusted-types-for %q, want 'script': %s", got, ContentSecurityPolicy)
	}
	if got := directives["trusted-types"]; got != ScriptURLPolicy || ScriptURLPolicy != "conclave-script-url" {
		t.Errorf("trusted-types %q, want only %q: %s", got, "conclave-script-url", ContentSecurityPolicy)
	}
	const maker = "static/js/script-urls.js"
	files := embedded(t)
	if !strings.Contains(files[maker], "export const SCRIPT_URL_POLICY = '"+ScriptURLPolicy+"';") {
		t.Errorf("%s does not name its policy %q", maker, ScriptURLPolicy)
	}
	for name, text := range files {
		if name != maker && strings.Contains(text, "createPolicy") {
			t.Errorf("%s makes a Trusted Types policy; the CSP allows only %s's", name, maker)
		}
	}
}
